"""Inline SVG charts, drawn in Python: the report must open with no network (no CDN, no JS library)."""

from __future__ import annotations

from markupsafe import Markup, escape

COLOURS = {"ok": "#2e9e5b", "zero": "#6fa8dc", "late": "#f1a33c", "partial": "#e98b84", "missing": "#d9463b",
           "none": "#e6e6e6"}


def cell_state(cell: dict) -> str:
    """The colour class of one heat-map cell: the worst state among its expected files."""
    if not cell["expected"]:
        return "none"
    if cell["missing"]:
        return "missing"
    if cell.get("partial"):
        return "partial"
    if cell["late"]:
        return "late"
    if cell["zero"]:
        return "zero"  # complete, and at least one file is an explicit zero report
    return "ok"


LEGEND_STEP = 100


def _text_width(text: str, size: int = 12) -> float:
    """Rough rendered width: CJK glyphs are square, Latin ones about half as wide."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.6 for ch in text)


def heatmap_svg(heatmap: dict, labels: dict[str, str], cell_w: int = 24, cell_h: int = 20) -> Markup:
    days, rows = heatmap["days"], heatmap["rows"]
    top, legend_h = 28, 30
    label_w = int(max([_text_width(r["name"]) for r in rows] + [80]) + 14)
    width = max(label_w + cell_w * len(days) + 10, label_w + 6 * LEGEND_STEP + 10)
    height = top + cell_h * len(rows) + legend_h + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart heatmap" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(labels["heatmap"])}">']
    for j, d in enumerate(days):
        x = label_w + j * cell_w + cell_w / 2
        out.append(f'<text x="{x}" y="{top - 8}" font-size="10" text-anchor="middle">{d.day}</text>')
    for i, r in enumerate(rows):
        y = top + i * cell_h
        out.append(f'<text x="{label_w - 6}" y="{y + cell_h * 0.7}" font-size="12" text-anchor="end">'
                   f'{escape(r["name"])}</text>')
        for j, c in enumerate(r["cells"]):
            st = cell_state(c)
            tip = (f'{r["name"]} {c["day"].isoformat()}: {labels["received"]} {c["received"]}/{c["expected"]}'
                   + (f', {labels["late"]} {c["late"]}' if c["late"] else "")
                   + (f', {labels["zero_reports"]} {c["zero"]}' if c["zero"] else "")
                   + (f', {labels["missing"]}: {", ".join(c["missing"])}' if c["missing"] else "")
                   + (f', {labels["legend_partial"]}: {", ".join(c["partial"])}' if c.get("partial") else ""))
            out.append(f'<rect class="cell cell-{st}" data-institution="{escape(r["institution_code"])}" '
                       f'data-day="{c["day"].isoformat()}" x="{label_w + j * cell_w + 1}" y="{y + 1}" '
                       f'width="{cell_w - 2}" height="{cell_h - 2}" fill="{COLOURS[st]}">'
                       f'<title>{escape(tip)}</title></rect>')
    ly = top + cell_h * len(rows) + 12
    x = label_w
    for st in ("ok", "zero", "late", "partial", "missing", "none"):
        out.append(f'<rect x="{x}" y="{ly}" width="14" height="14" fill="{COLOURS[st]}"/>'
                   f'<text x="{x + 18}" y="{ly + 11}" font-size="12">{escape(labels["legend_" + st])}</text>')
        x += LEGEND_STEP
    out.append("</svg>")
    return Markup("".join(out))


def line_chart_svg(points: list[dict], series: dict[str, str], labels: dict[str, str], width: int = 900,
                   height: int = 260) -> Markup:
    """Percent series (0-100) over days; ``series`` maps a key of each point to a colour."""
    left, right, top, bottom = 44, 16, 16, 46
    pw, ph = width - left - right, height - top - bottom
    n = max(len(points) - 1, 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + pw * i / n, top + ph * (1 - v / 100)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart trend" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(labels["trend"])}">']
    for v in (0, 25, 50, 75, 100):
        _, y = xy(0, v)
        out.append(f'<line x1="{left}" x2="{left + pw}" y1="{y}" y2="{y}" stroke="#ddd"/>'
                   f'<text x="{left - 6}" y="{y + 4}" font-size="10" text-anchor="end">{v}</text>')
    for i, p in enumerate(points):
        if i % 5 == 0 or i == len(points) - 1:
            x, _ = xy(i, 0)
            out.append(f'<text x="{x}" y="{top + ph + 16}" font-size="10" text-anchor="middle">'
                       f'{p["day"].strftime("%m-%d")}</text>')
    for k, (key, colour) in enumerate(series.items()):
        segs, cur = [], []
        for i, p in enumerate(points):
            if p[key] is None:
                if cur:
                    segs.append(cur)
                cur = []
            else:
                cur.append(xy(i, p[key]))
        if cur:
            segs.append(cur)
        for seg in segs:
            pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in seg)
            out.append(f'<polyline class="series series-{key}" fill="none" stroke="{colour}" stroke-width="2" '
                       f'points="{pts}"/>')
            for x, y in seg:
                out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}"/>')
        lx = left + k * 170
        out.append(f'<rect x="{lx}" y="{height - 18}" width="14" height="4" fill="{colour}"/>'
                   f'<text x="{lx + 20}" y="{height - 12}" font-size="12">{escape(labels[key])}</text>')
    out.append("</svg>")
    return Markup("".join(out))
