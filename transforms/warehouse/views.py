"""The mart view definitions (``mappings/views/*.json``) and the one door to the SQL-on-FHIR compiler.

Why a door: a mart is data (a SQL-on-FHIR v2 ViewDefinition), and exactly one component turns
it into SQL, H5's ``transforms.warehouse.sof.compile.compile_view``. Until that module can be
imported, ``select_sql`` falls back to ``sof_stub`` (a Python evaluator for the views' FHIRPath
subset) so loads and tests work; callers never see which one ran.

Views spell code-system and extension URLs as ``${NAME}`` placeholders naming constants in
``transforms.terminology.systems``, so no URI is written twice. A column tagged
``{"name": "key", "value": "true"}`` is part of the mart's natural key (the grain).
"""

from __future__ import annotations

import importlib
import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.settings import MAPPINGS_DIR
from transforms.terminology import systems
from transforms.warehouse.db import dialect

VIEWS_DIR = MAPPINGS_DIR / "views"
PASSTHROUGH = ["batch_id", "source_file", "source_line", "message_id", "loaded_at"]
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


def _compiler() -> Any | None:
    try:
        return importlib.import_module("transforms.warehouse.sof.compile")
    except ImportError:
        return None


def compiler_name() -> str:
    """'sof' when H5's compiler is importable, else 'sof_stub'."""
    return "sof" if _compiler() is not None else "sof_stub"


def select_sql(conn: Connection, view: dict, source_table: str, passthrough: list[str] = PASSTHROUGH) -> str:
    """A SELECT yielding the view's columns plus ``passthrough`` columns over ``source_table``.

    ``source_table`` has the ``fhir_resource`` shape. With the stub the rows are computed
    in Python into a temporary table and the SELECT reads that table.
    """
    compiler = _compiler()
    if compiler is not None:
        return compiler.compile_view(view, dialect(conn), source_table=source_table, passthrough=passthrough)
    return _stub_select(conn, view, source_table, passthrough)


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return str(value)


def _stub_select(conn: Connection, view: dict, source_table: str, passthrough: list[str]) -> str:
    from transforms.warehouse import sof_stub

    names = [c["name"] for c in view_columns(view)]
    temp = f"_sof_{view['name']}_{source_table.strip('_')}"
    cols = ", ".join(f"{n} VARCHAR" for n in [*names, *passthrough])
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {temp}")
    conn.exec_driver_sql(f"CREATE TEMP TABLE {temp} ({cols})")
    src_cols = ", ".join(["resource", *passthrough])
    result = conn.execute(sa.text(f"SELECT {src_cols} FROM {source_table} WHERE resource_type = :rt"),
                          {"rt": view["resource"]})
    out: list[dict] = []
    for rec in result:
        resource = rec[0] if isinstance(rec[0], dict) else json.loads(rec[0])
        extra = {p: _as_text(rec[i + 1]) for i, p in enumerate(passthrough)}
        for row in sof_stub.evaluate_view(view, resource):
            out.append({**{n: _as_text(row.get(n)) for n in names}, **extra})
    if out:
        keys = [*names, *passthrough]
        conn.execute(sa.text(f"INSERT INTO {temp} ({', '.join(keys)}) VALUES ({', '.join(':' + k for k in keys)})"),
                     out)
    return f"SELECT * FROM {temp}"
