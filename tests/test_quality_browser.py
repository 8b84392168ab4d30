"""The HTML report renders in headless Chromium: SVG charts and tables are in the DOM; a screenshot is taken."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import test_quality_fixture as fx
from transforms.quality.compute import quality_report_data
from transforms.quality.render import render_html
from transforms.settings import load_settings
from transforms.warehouse.db import get_engine, migrate

pytestmark = pytest.mark.browser



def test_report_renders_in_headless_chromium(rhp_home, tmp_path, chromium):
    eng = get_engine(load_settings().warehouse_url)
    migrate(eng)
    with eng.begin() as c:
        fx.build(c)
        html = render_html(quality_report_data(c, fx.MONTH, lang="zh", calendar=fx.CAL))
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    dom = chromium("--dump-dom", page.as_uri(), window="1400,2000").stdout
    assert dom.count("<svg") == 2
    assert dom.count('class="cell cell-') == 3 * 30
    assert "<polyline" in dom and 'id="ranking"' in dom
    ranking = dom.split('id="ranking"')[1].split("</table>")[0]
    assert ranking.count("<tr data-institution=") == 3 and "江桥社区卫生服务中心" in ranking
    shot = tmp_path / "report.png"
    chromium(f"--screenshot={shot}", page.as_uri(), window="1400,2000")
    assert shot.exists() and shot.stat().st_size > 10_000
    keep = os.environ.get("RHP_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "quality_report.png")
