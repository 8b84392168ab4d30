"""The one translator from catalogue checks to SQL, for DuckDB and PostgreSQL.

One scan per table: every check of the table becomes a pair of ``SUM(CASE ...)`` columns
(scope count, failing count), so pushing a table's checks down costs one query, not one per
check. The ``unique`` and ``near_duplicate`` types need a window, added to the ``base`` relation once per check.
"""

from __future__ import annotations

from transforms.validation.catalogue import Check
from transforms.validation.checktypes import (
    Dialect,
    failing_sql,
    near_duplicate_window,
    q,
    scope_sql,
    unique_window,
)


def _base(relation: str, checks: list[Check], select_extra: str = "") -> tuple[str, list[str]]:
    windows, cols = [], []
    for i, c in enumerate(checks):
        if c.check_type in ("unique", "near_duplicate"):
            window = unique_window(c) if c.check_type == "unique" else near_duplicate_window(c)
            windows.append(f"{window} AS _w{i}")
            cols.append(f"_w{i}")
        else:
            cols.append("")
    extra = "".join(f", {w}" for w in windows) + (f", {select_extra}" if select_extra else "")
    return f"SELECT *{extra} FROM {q(relation)}", cols


def counts_query(relation: str, checks: list[Check], dialect: Dialect) -> str:
    """``SELECT d0, n0, d1, n1, ...``: rows in scope and failing rows per check, one scan."""
    base, wcols = _base(relation, checks)
    parts = []
    for i, c in enumerate(checks):
        parts.append(f"SUM(CASE WHEN {scope_sql(c)} THEN 1 ELSE 0 END) AS d{i}")
        parts.append(f"SUM(CASE WHEN {failing_sql(c, dialect, wcols[i])} THEN 1 ELSE 0 END) AS n{i}")
    return f"WITH base AS ({base}) SELECT {', '.join(parts)} FROM base"


def flags_query(relation: str, checks: list[Check], dialect: Dialect, row_id: str = "_rid") -> str:
    """``SELECT _rid, f0, f1, ...`` ordered by the row id: per-row failing flags, one scan."""
    base, wcols = _base(relation, checks)
    flags = ", ".join(f"{failing_sql(c, dialect, wcols[i])} AS f{i}" for i, c in enumerate(checks))
    return f"WITH base AS ({base}) SELECT {q(row_id)}{', ' + flags if flags else ''} FROM base ORDER BY {q(row_id)}"


def failing_rows_query(relation: str, check: Check, dialect: Dialect, limit: int = 100) -> str:
    """The violating rows of one check (the drill-down every check type offers)."""
    base, wcols = _base(relation, [check])
    return f"WITH base AS ({base}) SELECT * FROM base WHERE {failing_sql(check, dialect, wcols[0])} LIMIT {int(limit)}"
