"""The mart view definitions (``mappings/views/*.json``) and the door to the SQL-on-FHIR compiler.

Why: a mart is data (a SQL-on-FHIR v2 ViewDefinition), and exactly one component turns it
into SQL, ``transforms.warehouse.sof.compile.compile_view``; this module only reads the
files, resolves URI placeholders and knows each mart's key.

Views spell code-system and extension URLs as ``${NAME}`` placeholders naming constants in
``transforms.terminology.systems``, so no URI is written twice. A column tagged
``{"name": "key", "value": "true"}`` is part of the mart's natural key (the grain).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from transforms.settings import MAPPINGS_DIR
from transforms.terminology import systems
from transforms.warehouse.db import dialect

VIEWS_DIR = MAPPINGS_DIR / "views"
# Store columns carried into every mart row; person_key and institution_code (the submitting
# institution) fill a mart column only when the view does not compute it itself.
# id and partition_date are carried only to name a quarantined row (no mart has those columns).
PASSTHROUGH = ["person_key", "institution_code", "batch_id", "source_file", "source_line", "message_id", "loaded_at",
               "id", "partition_date"]
_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


def _resolve(value: Any, where: str) -> Any:
    if isinstance(value, str):
        def sub(m: re.Match) -> str:
            name = m.group(1)
            if not hasattr(systems, name):
                raise ValueError(f"{where}: ${{{name}}} is not a constant in transforms/terminology/systems.py")
            return getattr(systems, name)
        return _PLACEHOLDER.sub(sub, value)
    if isinstance(value, list):
        return [_resolve(v, where) for v in value]
    if isinstance(value, dict):
        return {k: _resolve(v, where) for k, v in value.items()}
    return value


def read_view(path: Path) -> dict:
    """One ViewDefinition with placeholders resolved; errors name the file."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON: {exc}") from exc
    for field in ("resourceType", "name", "resource", "select", "description"):
        if field not in raw:
            raise ValueError(f"{path}: ViewDefinition lacks {field!r}")
    if raw["resourceType"] != "ViewDefinition" or raw["name"] != path.stem:
        raise ValueError(f"{path}: must be a ViewDefinition named {path.stem!r} (file name = mart table)")
    view = _resolve(raw, str(path))
    if not key_columns(view):
        raise ValueError(f"{path}: no column is tagged key=true, so the grain has no key")
    return view


@lru_cache(maxsize=1)
def _all_views() -> tuple[tuple[str, str], ...]:
    return tuple((p.stem, json.dumps(read_view(p))) for p in sorted(VIEWS_DIR.glob("*.json")))


def load_views() -> dict[str, dict]:
    """Every view by mart table name (cached; the files are configuration)."""
    return {name: json.loads(text) for name, text in _all_views()}


def _walk_columns(select: list[dict]) -> list[dict]:
    cols: list[dict] = []
    for sel in select:
        cols.extend(sel.get("column", []))
        cols.extend(_walk_columns(sel.get("select", [])))
        for branch in sel.get("unionAll", []):
            cols.extend(_walk_columns([branch]))
            break  # every branch has the same columns
    return cols


def view_columns(view: dict) -> list[dict]:
    """Column definitions in output order."""
    return _walk_columns(view["select"])


def key_columns(view: dict) -> list[str]:
    """The mart's natural key: columns tagged key=true."""
    return [c["name"] for c in view_columns(view)
            if any(t.get("name") == "key" and str(t.get("value")).lower() == "true" for t in c.get("tag", []))]


def passthrough_for(view: dict) -> list[str]:
    """The store columns a view's SELECT carries (those the view does not compute)."""
    names = {c["name"] for c in view_columns(view)}
    return [p for p in PASSTHROUGH if p not in names]


def select_sql(conn: Connection, view: dict, source_table: str, passthrough: list[str] | None = None) -> str:
    """A SELECT yielding ``passthrough`` store columns plus the view's columns over ``source_table``.

    ``source_table`` has the ``fhir_resource`` shape (the store, or a temporary delta of it).
    """
    from transforms.warehouse.sof.compile import compile_view

    passthrough = passthrough_for(view) if passthrough is None else passthrough
    return compile_view(view, dialect(conn), source_table=source_table, passthrough=passthrough)
