"""Generate docs/warehouse.md from the migrations and the view definitions.

Why generated: the table list, grains, keys and lineage already live in the migrations and
``mappings/views``; a hand-written page would drift. ``python -m transforms.warehouse.docs_gen``
rewrites the page, ``--check`` exits 1 when the committed page is stale (a test runs it).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from transforms.settings import REPO_ROOT
from transforms.warehouse.db import MIGRATIONS_DIR, split_statements
from transforms.warehouse.views import VIEWS_DIR, key_columns, load_views, view_columns

DOC_PATH = REPO_ROOT / "docs" / "warehouse.md"
DERIVE_DIR = Path(__file__).resolve().parent / "sql"
GENERATED = {"dim_date": "generated for a date range by `transforms.warehouse.dates.build_dim_date`"}
_CREATE = re.compile(r"CREATE\s+(TABLE|VIEW)\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s*(.*)", re.S | re.I)


@dataclass
class TableDoc:
    name: str
    kind: str
    migration: str
    comment: str
    columns: list[tuple[str, str]] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    added_later: list[str] = field(default_factory=list)


def _comment_above(text: str, name: str) -> str:
    """The ``--`` comment lines directly above ``CREATE ... <name>`` in a migration file."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.search(rf"CREATE\s+(TABLE|VIEW)\s+(IF\s+NOT\s+EXISTS\s+)?{name}\b", line, re.I):
            block = []
            j = i - 1
            while j >= 0 and lines[j].strip().startswith("--") and not re.match(r"\s*--\s*(duckdb|postgresql):",
                                                                                 lines[j]):
                block.insert(0, lines[j].strip().lstrip("-").strip())
                j -= 1
            return " ".join(block)
    return ""


def _columns(body: str) -> tuple[list[tuple[str, str]], list[str]]:
    inner = body[body.index("(") + 1: body.rindex(")")] if "(" in body else ""
    parts, depth, cur = [], 0, ""
    for ch in inner:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    cols, pk = [], []
    for p in (x.strip() for x in parts if x.strip()):
        m = re.match(r"PRIMARY\s+KEY\s*\((.*)\)", p, re.I)
        if m:
            pk = [c.strip() for c in m.group(1).split(",")]
            continue
        if re.match(r"(UNIQUE|CONSTRAINT|CHECK|FOREIGN)\b", p, re.I):
            continue
        name, _, rest = p.partition(" ")
        ctype = re.split(r"\s+(NOT|NULL|PRIMARY|DEFAULT|REFERENCES|UNIQUE)\b", rest.strip(), maxsplit=1, flags=re.I)[0]
        cols.append((name, ctype.strip()))
        if re.search(r"PRIMARY\s+KEY", rest, re.I):
            pk.append(name)
    return cols, pk


def read_schema(directory: Path = MIGRATIONS_DIR) -> dict[str, TableDoc]:
    """Tables and views as the migrations leave them (DuckDB spelling), in migration order."""
    tables: dict[str, TableDoc] = {}
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        for stmt in split_statements(text, "duckdb"):
            m = _CREATE.match(stmt)
            if m:
                kind, name, body = m.group(1).lower(), m.group(2), m.group(3)
                doc = TableDoc(name, kind, path.stem, _comment_above(text, name))
                if kind == "table":
                    doc.columns, doc.primary_key = _columns(body)
                tables[name] = doc
                continue
            m = re.match(r"ALTER\s+TABLE\s+(\w+)\s+ADD\s+COLUMN\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)\s+(.*)", stmt, re.I | re.S)
            if m and m.group(1) in tables:
                tables[m.group(1)].columns.append((m.group(2), m.group(3).split()[0]))
                tables[m.group(1)].added_later.append(f"{m.group(2)} ({path.stem})")
    return tables


def _fed_by(name: str, views: dict[str, dict]) -> str:
    from transforms.warehouse.history import history_specs

    spec = history_specs().get(name)
    if spec:
        return (f"SCD-2 versions of `{spec['dim']}` (tracked: {', '.join(spec['tracked'])}) kept by "
                "`transforms.warehouse.history` per `mappings/views/history.yaml`")
    if name in views:
        v = views[name]
        where = "; ".join(f"`{w['path']}`" for w in v.get("where", []))
        return (f"view `mappings/views/{name}.json` over `{v['resource']}` resources in `fhir_resource`"
                + (f" where {where}" if where else "")
                + (f"; then `transforms/warehouse/sql/{name}.derive.sql`" if (DERIVE_DIR / f"{name}.derive.sql").exists()
                   else ""))
    return GENERATED.get(name, "")


def render() -> str:
    """The whole page."""
    from transforms.warehouse.history import history_specs

    schema, views, hist = read_schema(), load_views(), history_specs()
    out = ["# Warehouse tables", "",
           "GENERATED by `python -m transforms.warehouse.docs_gen` from `transforms/warehouse/migrations/` and "
           "`mappings/views/`; do not edit by hand.", "",
           "One SQLAlchemy URL (`RHP_WAREHOUSE_URL`, default DuckDB file) chooses the engine; the same migrations "
           "and views build DuckDB and PostgreSQL. Marts are refreshed per load partition by "
           "`transforms.warehouse.load.load_partition` (merge on `(resource_type, id)`, audit in `load_audit`). "
           "Code systems (`cs_concept` etc.) are loaded by the terminology module; see its migrations below.", "",
           "Group attribution: join events to `dim_group_membership` on the event date "
           "(`valid_from <= d AND (valid_to IS NULL OR d < valid_to)`), as the `encounter_group` view does. "
           "The same join on `dim_institution_history` / `dim_practitioner_history` gives an institution's level "
           "or a practitioner's team as of the date; the `dim_*` tables hold the current version.", "",
           "| table | kind | grain | key | fed by | migration |", "|---|---|---|---|---|---|"]
    for t in schema.values():
        v = views.get(t.name)
        grain = (v["description"] if v else t.comment).replace("|", "/")
        key_cols = key_columns(v) if v else [*hist[t.name]["key"], "valid_from"] if t.name in hist else t.primary_key
        key = ", ".join(key_cols) or "-"
        out.append(f"| `{t.name}` | {t.kind} | {grain} | {key} | {_fed_by(t.name, views) or '-'} | {t.migration} |")
    out += ["", "## View-fed tables: column lineage", ""]
    for name, v in sorted(views.items()):
        out += [f"### `{name}`", "", v["description"], "", f"Source: `{v['resource']}`. Key: "
                f"{', '.join(key_columns(v))}.", "", "| column | FHIRPath |", "|---|---|"]
        for c in view_columns(v):
            out.append(f"| {c['name']} | `{c['path'].replace('|', '&#124;')}` |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        if not DOC_PATH.exists() or DOC_PATH.read_text(encoding="utf-8") != text:
            print(f"{DOC_PATH} is stale: run python -m transforms.warehouse.docs_gen", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH} ({len(text.splitlines())} lines; views from {VIEWS_DIR})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
