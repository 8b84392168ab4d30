"""One static HTML page per indicator: its definition, a trend chart and an institution comparison.

Charts are inline SVG written here, so a page opens offline and prints as it shows; no
CDN, no JavaScript framework.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from transforms.indicators.model import Indicator
from transforms.indicators.store import latest_values

COMPARE_BY = ("institution", "group", "district", "region")
COMPARE_TITLE = {"institution": "机构比较 Institutions", "group": "医联体比较 Medical groups",
                 "district": "区比较 Districts", "region": "全区 Region"}
COMPARE_HEADER = {"institution": "机构 Institution", "group": "医联体 Group", "district": "区 District",
                  "region": "地区 Region"}
UNIT_LABEL = {"percent": "%", "ratio": "", "days": "天 days", "yuan": "元 yuan", "count": "", "times": "次"}


def _fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    return f"{v:,.2f}{'%' if unit == 'percent' else ''}"


def _short(v: float, unit: str) -> str:
    return f"{v:,.1f}{'%' if unit == 'percent' else ''}"


def trend_svg(points: list[tuple[str, float | None]], target: float | None, width: int = 640, height: int = 220,
              unit: str = "") -> str:
    """A line chart of value by period; gaps where there is no value."""
    vals = [v for _, v in points if v is not None] + ([target] if target is not None else [])
    if not points or not vals:
        return '<p class="empty">暂无数据 No data yet</p>'
    lo, hi = min(0.0, min(vals)), max(vals) * 1.1 or 1.0
    pad, n = 40, len(points)
    left, inset = 64, 28  # room for the scale labels; points kept off the axis
    span = width - left - pad - 2 * inset
    xs = [left + inset + (span * i / (n - 1) if n > 1 else span / 2) for i in range(n)]

    def y(v: float) -> float:
        return height - pad - (height - 2 * pad) * ((v - lo) / (hi - lo or 1))

    parts = [f'<svg class="chart trend" viewBox="0 0 {width} {height}" role="img" aria-label="trend">',
             f'<line x1="{left}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#999"/>',
             f'<line x1="{left}" y1="{pad}" x2="{left}" y2="{height - pad}" stroke="#ddd"/>']
    for tick in (lo, hi):  # the scale, so a flat line near the top is not read as "high"
        parts.append(f'<text class="tick" x="{left - 4}" y="{y(tick) + 4:.1f}" font-size="10" text-anchor="end" '
                     f'fill="#666">{_short(tick, unit)}</text>')
    path = " ".join(f"{'M' if i == 0 or points[i - 1][1] is None else 'L'}{xs[i]:.1f},{y(v):.1f}"
                    for i, (_, v) in enumerate(points) if v is not None)
    parts.append(f'<path d="{path}" fill="none" stroke="#1f6feb" stroke-width="2"/>')
    for i, (label, v) in enumerate(points):
        parts.append(f'<text x="{xs[i]:.1f}" y="{height - pad + 16}" font-size="11" text-anchor="middle">{html.escape(label)}</text>')
        if v is not None:
            parts.append(f'<circle cx="{xs[i]:.1f}" cy="{y(v):.1f}" r="4" fill="#1f6feb"><title>{html.escape(label)}: '
                         f'{_short(v, unit)}</title></circle>')
            parts.append(f'<text x="{xs[i]:.1f}" y="{y(v) - 8:.1f}" font-size="11" text-anchor="middle">'
                         f'{_short(v, unit)}</text>')
    if target is not None:
        parts.append(f'<line x1="{left}" y1="{y(target):.1f}" x2="{width - pad}" y2="{y(target):.1f}" '
                     f'stroke="#d73a49" stroke-dasharray="5,4"/><text x="{width - pad}" y="{y(target) - 4:.1f}" '
                     f'font-size="11" text-anchor="end" fill="#d73a49">目标 target {target:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bars_svg(items: list[tuple[str, float | None]], target: float | None, width: int = 640, unit: str = "") -> str:
    """Horizontal bars, one per member (institution, group, ...), sorted by value."""
    items = sorted(items, key=lambda kv: (kv[1] is None, -(kv[1] or 0)))
    if not items:
        return '<p class="empty">暂无数据 No data yet</p>'
    row, left, top = 24, 170, 22
    height = row * len(items) + top + 10
    hi = max([v for _, v in items if v is not None] + [target or 0, 1e-9])
    parts = [f'<svg class="chart bars" viewBox="0 0 {width} {height}" role="img" aria-label="comparison">']
    for i, (name, v) in enumerate(items):
        yy = top + i * row
        parts.append(f'<text x="{left - 6}" y="{yy + 15}" font-size="12" text-anchor="end">{html.escape(name)}</text>')
        if v is None:
            parts.append(f'<text x="{left + 4}" y="{yy + 15}" font-size="12" fill="#888">无分母 no denominator</text>')
            continue
        w = (width - left - 60) * v / hi
        parts.append(f'<rect x="{left}" y="{yy + 3}" width="{w:.1f}" height="{row - 8}" fill="#2da44e"/>'
                     f'<text x="{left + w + 4:.1f}" y="{yy + 15}" font-size="12">{_fmt(v, unit)}</text>')
    if target is not None:
        tx = left + (width - left - 60) * target / hi
        parts.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{height}" stroke="#d73a49" '
                     f'stroke-dasharray="5,4"/><text x="{tx:.1f}" y="{top - 8}" font-size="11" text-anchor="middle" '
                     f'fill="#d73a49">目标 target {target:g}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _table_row(r: dict[str, Any], names: dict[str, str], unit: str) -> str:
    den = "" if r["denominator"] is None else f"{r['denominator']:,.2f}"
    revised = (f"已修订 revised (was {_fmt(r['previous_value'], unit)})" if r["is_revised"] else "")
    partial = "未完结 partial" if r["is_partial"] else ""
    name = html.escape(names.get(r["dimension_value"], r["dimension_value"]) or "—")
    return (f"<tr><td>{name}</td><td>{r['numerator']:,.2f}</td><td>{den}</td>"
            f"<td>{_fmt(r['value'], unit)}</td><td>{partial}</td><td>{revised}</td></tr>")


def render_indicator_page(conn: Connection, ind: Indicator, names: dict[str, str], period_type: str = "month") -> str:
    """The page for one indicator from the newest stored values (nothing is recomputed here)."""
    trend = latest_values(conn, ind.code, period_type, "region") if "region" in ind.dimensions else []
    # compare the finest declared level the names make sense for
    dim = next((d for d in COMPARE_BY if d in ind.dimensions), ind.dimensions[0])
    by_member = latest_values(conn, ind.code, period_type, dim)
    last = max((r["period_start"] for r in by_member), default=None)
    rows = [r for r in by_member if r["period_start"] == last]
    last_label = rows[0]["period_label"] if rows else ""
    as_of = max((r["as_of"] for r in rows), default=None)
    target = ind.target.value if ind.target else None
    table = "".join(_table_row(r, names, ind.unit) for r in rows)
    e = html.escape
    title = COMPARE_TITLE[dim]
    return f"""<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>{e(ind.name_zh)} {e(ind.code)}</title>
<style>body{{font-family:"Noto Sans CJK SC","WenQuanYi Zen Hei","Microsoft YaHei",sans-serif;margin:24px;max-width:980px}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ddd;padding:4px 8px}}th{{background:#f6f8fa}}
.meta td:first-child{{color:#555;white-space:nowrap}}.empty{{color:#888}}.values td{{text-align:right}}
.values td:first-child{{text-align:left}}.run{{color:#555;font-size:90%}}</style></head><body>
<p><a href="index.html">← 指标目录 All indicators</a></p>
<h1>{e(ind.name_zh)} <small>{e(ind.name_en)}</small></h1>
<table class="meta"><tr><td>代码 Code</td><td>{e(ind.code)} v{ind.version} ({ind.fingerprint})</td></tr>
<tr><td>定义</td><td>{e(ind.definition_zh)}</td></tr><tr><td>Definition</td><td>{e(ind.definition_en)}</td></tr>
<tr><td>分子 Numerator</td><td>{e(ind.numerator_label)}</td></tr><tr><td>分母 Denominator</td><td>{e(ind.denominator_label)}</td></tr>
<tr><td>单位 Unit</td><td>{e(ind.unit)}</td></tr><tr><td>方向 Direction</td><td>{e(ind.direction)}</td></tr>
<tr><td>目标 Target</td><td>{e(f"{ind.target.comparison} {ind.target.value:g} — {ind.target.note}") if ind.target else '—'}</td></tr>
<tr><td>来源 Source</td><td>{e(ind.source)}</td></tr></table>
<h2>趋势 Trend (region, by {e(period_type)})</h2>{trend_svg([(r['period_label'], r['value']) for r in trend], target, unit=ind.unit)}
<h2>{title}{f' ({e(last_label)})' if last_label else ''}</h2>
<p class="run">数据截至 data as of {e(str(as_of)) if as_of else '—'}</p>
{bars_svg([(names.get(r['dimension_value'], r['dimension_value']), r['value']) for r in rows], target, unit=ind.unit)}
<table class="values"><tr><th>{COMPARE_HEADER[dim]}</th><th>分子 Numerator</th><th>分母 Denominator</th>
<th>值 Value</th><th>完整性 Period</th><th>修订 Revision</th></tr>{table}</table>
</body></html>"""


def write_pages(conn: Connection, indicators: dict[str, Indicator], names: dict[str, str], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for code, ind in sorted(indicators.items()):
        p = out_dir / f"{code}.html"
        p.write_text(render_indicator_page(conn, ind, names), encoding="utf-8")
        paths.append(p)
    index = "".join(f'<li><a href="{c}.html">{html.escape(i.name_zh)}</a> {html.escape(i.name_en)}</li>'
                    for c, i in sorted(indicators.items()))
    (out_dir / "index.html").write_text(f'<!doctype html><html lang="zh"><head><meta charset="utf-8"><title>指标 Indicators'
                                        f'</title></head><body><h1>指标 Indicators</h1><ul>{index}</ul></body></html>',
                                        encoding="utf-8")
    return paths
