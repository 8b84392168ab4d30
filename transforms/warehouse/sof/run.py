"""Run or materialise a compiled ViewDefinition on a SQLAlchemy connection (DuckDB or PostgreSQL).

Why here and not in callers: the result needs the same small post-processing on both engines
(collection columns come back as JSON text from DuckDB), and database errors caused by the
view (e.g. a non-collection column with several values) must surface as ``ViewRuntimeError``
naming the view.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.warehouse.db import dialect as engine_dialect
from transforms.warehouse.sof.compile import compile_view_columns
from transforms.warehouse.sof.dialect import quote_ident
from transforms.warehouse.sof.errors import ViewRuntimeError


def execute_sql(conn: Connection, sql: str, what: str = "compiled view"):
    """Execute compiled view SQL (or a statement around it) the way it must run on each engine.

    On PostgreSQL this turns JIT off for the transaction (JIT costs seconds on these plans)
    and doubles any '%' a caller's ``where_sql`` brought in (psycopg placeholders). Use this,
    not a bare ``exec_driver_sql``, for ``INSERT … SELECT`` / ``CREATE … AS`` over a view.
    """
    return _exec(conn, sql, {"name": what})


def _exec(conn: Connection, sql: str, view: dict):
    pg = engine_dialect(conn) == "postgresql"
    try:
        if pg:
            # The planner's cost estimates for nested JSON subqueries trigger JIT compilation,
            # which costs seconds for a millisecond query: off for this transaction only.
            conn.exec_driver_sql("SET LOCAL jit = off")
        return conn.exec_driver_sql(sql.replace("%", "%%") if pg else sql)
    except sa.exc.DBAPIError as exc:
        name = view.get("name") or view.get("resource")
        detail = str(exc.orig).splitlines()[0] if exc.orig is not None else str(exc)
        raise ViewRuntimeError(f"view {name!r} failed on {engine_dialect(conn)}: {detail}") from exc


def run_view(
    conn: Connection, view: dict, source_table: str = "fhir_resource", where_sql: str | None = None
) -> list[dict]:
    """The view's rows as dicts (collection columns as Python lists)."""
    sql, cols = compile_view_columns(view, engine_dialect(conn), source_table, where_sql=where_sql)
    result = _exec(conn, sql, view)
    names = list(result.keys())
    coll = {c.name for c in cols if c.collection}
    rows = []
    for rec in result:
        row = dict(zip(names, rec, strict=True))
        for n in coll:
            if isinstance(row.get(n), str):
                row[n] = json.loads(row[n])
        rows.append(row)
    return rows


def materialise_view(
    conn: Connection,
    view: dict,
    target_table: str,
    key_columns: Sequence[str],
    where_sql: str | None = None,
    source_table: str = "fhir_resource",
    passthrough: Sequence[str] = (),
) -> int:
    """Upsert the view's rows into ``target_table`` (created from the view when missing).

    Idempotent: rows whose ``key_columns`` appear in the new result are deleted first, then
    the result is inserted, all in the caller's transaction. ``where_sql`` filters the
    source rows (alias ``r``), e.g. ``r._batch_id = 'b1'``, to rebuild one partition.
    Returns the number of rows inserted.
    """
    sql, cols = compile_view_columns(view, engine_dialect(conn), source_table, passthrough, where_sql=where_sql)
    names = [*passthrough, *(c.name for c in cols)]
    missing = [k for k in key_columns if k not in names]
    if missing:
        raise ValueError(f"key columns {missing} are not columns of view {view.get('name')!r}: {names}")
    collist = ", ".join(quote_ident(n) for n in names)
    if not sa.inspect(conn).has_table(target_table):
        _exec(conn, f"CREATE TABLE {target_table} AS SELECT {collist} FROM ({sql}) AS v", view)
        return int(conn.exec_driver_sql(f"SELECT COUNT(*) FROM {target_table}").scalar_one())
    keys = ", ".join(quote_ident(k) for k in key_columns)
    staged = f"({sql}) AS v"
    _exec(conn, f"DELETE FROM {target_table} WHERE ({keys}) IN (SELECT {keys} FROM {staged})", view)
    res = _exec(conn, f"INSERT INTO {target_table} ({collist}) SELECT {collist} FROM {staged}", view)
    return int(res.rowcount)


def create_resource_table(conn: Connection, table: str = "fhir_resource") -> None:
    """An empty ``table(id, resource_type, resource)`` (JSON on DuckDB, JSONB on PostgreSQL)."""
    jtype = "JSONB" if engine_dialect(conn) == "postgresql" else "JSON"
    conn.exec_driver_sql(f"CREATE TABLE {table} (id VARCHAR, resource_type VARCHAR, resource {jtype})")


def insert_resources(conn: Connection, resources: Iterable[dict], table: str = "fhir_resource") -> int:
    """Insert FHIR resources (dicts) as JSON; returns how many."""
    cast = "CAST(:resource AS JSONB)" if engine_dialect(conn) == "postgresql" else "CAST(:resource AS JSON)"
    rows = [{"id": r.get("id"), "resource_type": r.get("resourceType"), "resource": json.dumps(r)} for r in resources]
    if rows:
        conn.execute(sa.text(f"INSERT INTO {table} (id, resource_type, resource) VALUES (:id, :resource_type, {cast})"),
                     rows)
    return len(rows)
