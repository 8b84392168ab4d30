"""Render the report: self-contained HTML (inline SVG + a few lines of JS), CSV and XLSX."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from transforms.quality.svg import heatmap_svg, line_chart_svg

TEMPLATES = Path(__file__).resolve().parent / "templates"
RANK_COLS = ("rank", "name", "institution_code", "score", "prev_score", "score_delta", "expected", "received",
             "missing", "partial", "late", "zero_reports", "completeness", "timeliness", "median_delay_hours",
             "field_completeness", "validity", "mapping_rate", "consistency", "duplicates", "corrected",
             "quarantined")
_LABEL_KEY = {"name": "institution", "institution_code": "code"}


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.2f}"
    return str(v)


def render_html(data: dict[str, Any], docs_base: str = "../../docs/") -> str:
    """The monthly report as one HTML string with no external reference."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html", "j2"]))
    L = data["labels"]
    return env.get_template("report.html.j2").render(
        **data, L=L, fmt=_fmt, rank_cols=RANK_COLS, label_key=_LABEL_KEY, docs_base=docs_base,
        heatmap_svg=heatmap_svg(data["heatmap"], L),
        trend_svg=line_chart_svg(data["trend"], {"completeness": "#1f77b4", "timeliness": "#ff7f0e"}, L),
    )


def notice_rows(data: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """Header (in the report language) and rows of the monthly notice (one row per institution)."""
    L = data["labels"]
    header = [L[_LABEL_KEY.get(c, c)] for c in RANK_COLS]
    return header, [[r.get(c) for c in RANK_COLS] for r in data["institutions"]]


def write_csv(data: dict[str, Any], path: Path) -> Path:
    header, rows = notice_rows(data)
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8-sig")  # BOM: Excel opens Chinese CSV correctly
    return path


def write_xlsx(data: dict[str, Any], path: Path) -> Path:
    """Two sheets: the notice (scores and ranks) and the missing/late list."""
    from openpyxl import Workbook

    L = data["labels"]
    wb = Workbook()
    ws = wb.active
    ws.title = L["ranking"][:31]
    header, rows = notice_rows(data)
    ws.append(header)
    for r in rows:
        ws.append(r)
    ws2 = wb.create_sheet(L["missing_list"][:31])
    ws2.append([L["institution"], L["code"], L["dataset"], L["day"], L["state"]])
    for c in data["missing"]:
        ws2.append([c["name"], c["institution_code"], c["dataset"], c["day"], L["state_" + c["state"]]])
    wb.save(path)
    return path
