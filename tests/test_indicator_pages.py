"""Indicator HTML pages after stored runs: every page has its trend chart, comparison chart and table.

Pages are parsed (stdlib ``html.parser``), and one is rendered in headless Chromium.
Expected figures are the hand-computed ones of ``tests/test_indicators_more.py``.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.test_indicators import T0, T1
from tests.test_indicators_more import build_more
from transforms.indicators.model import load_indicators
from transforms.indicators.periods import parse_period
from transforms.indicators.render import render_indicator_page, write_pages
from transforms.indicators.service import compute_for_day, institution_names
from transforms.indicators.store import latest_values, run_indicators
from transforms.settings import load_settings
from transforms.warehouse.db import get_engine

MONTHS = [parse_period("month", m) for m in ("2026-09", "2026-10", "2026-11")]


class Page(HTMLParser):
    """What a reader sees: per chart its marks and labels, per table its rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, list]] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self._svg: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self._svg = a.get("class", "").replace("chart ", "")
            self.charts[self._svg] = {"circle": [], "rect": [], "path": [], "text": []}
        elif self._svg and tag in ("circle", "rect", "path"):
            self.charts[self._svg][tag].append(a)
        elif tag == "table":
            self._table = a.get("class", "")
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []
        elif tag == "a":
            self.links.append(a.get("href", ""))

    def handle_endtag(self, tag):
        if tag == "svg":
            self._svg = None
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)
        elif self._svg:
            self.charts[self._svg]["text"].append(data)


def parse(text: str) -> Page:
    p = Page()
    p.feed(text)
    return p


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    """Three monthly runs at T0, then November again at T1 (a late follow-up revises it)."""
    root = tmp_path_factory.mktemp("ind_pages")
    eng = build_more(f"duckdb:///{root}/w.duckdb")
    inds = load_indicators()
    with eng.begin() as c:
        run_indicators(c, inds.values(), MONTHS, as_of=T0, trigger="test")
    with eng.begin() as c:
        run_indicators(c, inds.values(), MONTHS[-1:], as_of=T1, trigger="test")
    with eng.connect() as c:
        names = institution_names(c)
        write_pages(c, inds, names, root / "pages")
        stored = {code: {dim: latest_values(c, code, "month", dim) for dim in ("region", "institution", "group")}
                  for code in inds}
    return root / "pages", inds, stored, names, eng


@pytest.mark.local
def test_every_page_has_trend_comparison_and_table(pages):
    out, inds, stored, names, _ = pages
    assert sorted(p.stem for p in out.glob("*.html")) == sorted([*inds, "index"])
    assert sorted(parse((out / "index.html").read_text(encoding="utf-8")).links) == sorted(f"{c}.html" for c in inds)
    for code, ind in inds.items():
        page = parse((out / f"{code}.html").read_text(encoding="utf-8"))
        trend = [r for r in stored[code]["region"] if r["value"] is not None]
        assert trend, code  # the hand-built warehouse gives every indicator a regional value
        # one marker per period with a value, each labelled with its value
        assert len(page.charts["trend"]["circle"]) == len(trend), code
        assert len(page.charts["trend"]["path"]) == 1
        dim = "institution" if "institution" in ind.dimensions else "group" if "group" in ind.dimensions else "region"
        members = stored[code].get(dim) or []
        last = [r for r in members if r["period_label"] == "2026-11"]
        assert len(page.charts["bars"]["rect"]) == sum(r["value"] is not None for r in last), code
        rows = page.tables["values"]
        assert len(rows) == 1 + len(last), code  # header + one row per member
        assert len(page.tables["meta"]) == 9 and page.tables["meta"][0][1].startswith(f"{code} v{ind.version}")
        if ind.target:
            assert any(f"target {ind.target.value:g}" in t for t in page.charts["trend"]["text"]), code


@pytest.mark.local
def test_page_figures_are_the_hand_computed_ones(pages):
    out, _, _, _, _ = pages
    alos = parse((out / "OP_ALOS.html").read_text(encoding="utf-8"))
    cells = {r[0]: r[1:] for r in alos.tables["values"][1:]}
    # H1: (4 + 6) / 2 discharges; C1: (3 + 8) / 2
    assert cells["区中心医院"][:3] == ["10.00", "2.00", "5.00"] and cells["南翔社区"][2] == "5.50"
    htn = parse((out / "CD_HTN_CONTROL_RATE.html").read_text(encoding="utf-8"))
    # region trend: Sep 100 %, Oct 100 %, Nov 100 % after the late F12 (was 50 % at T0)
    assert [t for t in htn.charts["trend"]["text"] if ": " in t] == [  # the markers' tooltips
        "2026-09: 100.0%", "2026-10: 100.0%", "2026-11: 100.0%"]
    rows = {r[0]: r for r in htn.tables["values"][1:]}
    assert rows["江桥社区"][3] == "100.00%" and rows["江桥社区"][5] == "已修订 revised (was 0.00%)"
    assert rows["南翔社区"][5] == ""  # C1 did not change
    bars = htn.charts["bars"]["rect"]
    assert float(bars[0]["width"]) == pytest.approx(float(bars[1]["width"]))  # both at 100 %


@pytest.mark.local
def test_names_are_escaped(pages):
    _, inds, _, _, eng = pages
    with eng.connect() as c:
        text = render_indicator_page(c, inds["OP_ALOS"], {"H1": "<script>alert(1)</script>"})
    assert "<script>" not in text and "&lt;script&gt;" in text



@pytest.mark.browser
def test_page_renders_in_headless_chromium(pages, tmp_path, chromium):
    out, _, _, _, _ = pages
    page = out / "FD_SIGNING_RATE.html"
    dom = chromium("--dump-dom", page.as_uri()).stdout
    parsed = parse(dom)
    assert set(parsed.charts) == {"trend", "bars"} and len(parsed.tables["values"]) == 3  # header, C1, C2
    assert "签约率" in dom and "目标 target 75" in dom
    shot = tmp_path / "indicator.png"
    chromium(f"--screenshot={shot}", page.as_uri())
    assert shot.exists() and shot.stat().st_size > 10_000
    keep = os.environ.get("RHP_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / "indicator_page.png")


@pytest.mark.local
def test_compute_for_day_stores_a_run_and_writes_the_pages(rhp_home):
    """What the DAG calls after a load: month, quarter and year of the day, then the pages."""
    settings = load_settings()
    build_more(settings.warehouse_url)
    out = compute_for_day(settings, date(2026, 11, 30), as_of=T0, trigger="test")
    inds = load_indicators()
    assert out["indicators"] == len(inds) and out["values"] > 0
    pages_dir = Path(out["pages_dir"])
    assert sorted(p.stem for p in pages_dir.glob("*.html")) == sorted([*inds, "index"])
    page = parse((pages_dir / "OP_ALOS.html").read_text(encoding="utf-8"))
    assert {r[0]: r[3] for r in page.tables["values"][1:]}["区中心医院"] == "5.00"  # November, as hand-computed
    with get_engine(settings.warehouse_url).connect() as c:
        kinds = dict(c.execute(sa.text("SELECT period_type, COUNT(DISTINCT period_label) FROM indicator_value "
                                       "WHERE run_id = :r GROUP BY period_type"), {"r": out["run_id"]}).all())
    assert kinds == {"month": 1, "quarter": 1, "year": 1}
