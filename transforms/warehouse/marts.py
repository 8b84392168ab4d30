"""Refresh the marts for the resources one load changed, in the load's transaction.

Why key-based refresh rather than a full rebuild: a partition touches a few thousand
resources of a warehouse holding hundreds of millions. For every view whose resource type
changed, the mart rows whose natural key comes out of the *old* versions (updated or deleted
resources) or the *new* versions are deleted, and the new versions' rows inserted. Running it
again with the same inputs changes nothing.

View output is cast to the mart's declared column types by ``cast_expr``, the single
place where the two engines' spellings meet. Times are kept as the source's wall-clock time
(the offset is dropped), so DuckDB and PostgreSQL agree row for row. A column FHIRPath cannot
express (date arithmetic, a link to another resource) is filled by ``sql/<mart>.derive.sql``
after all views are refreshed; those statements only touch rows still NULL, among the keys the
load wrote (``_changed_<mart>``, so the cost follows the partition, not the warehouse).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.warehouse.db import dialect, split_statements
from transforms.warehouse.views import key_columns, load_views, passthrough_for, select_sql, view_columns

DERIVE_DIR = Path(__file__).resolve().parent / "sql"
ColumnKind = Literal["text", "date", "timestamp", "decimal", "int", "float", "bool"]


def _kind(data_type: str) -> ColumnKind:
    t = data_type.lower()
    if t.startswith("timestamp"):
        return "timestamp"
    if t == "date":
        return "date"
    if t.startswith(("decimal", "numeric")):
        return "decimal"
    if t in ("integer", "int", "int4", "bigint", "smallint", "int8", "hugeint"):
        return "int"
    if t in ("double", "double precision", "float", "real", "float8"):
        return "float"
    if t.startswith("bool"):
        return "bool"
    return "text"


def table_columns(conn: Connection, table: str) -> dict[str, ColumnKind]:
    """Column name -> kind for a warehouse table, in declaration order."""
    rows = conn.execute(sa.text(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = :t ORDER BY ordinal_position"), {"t": table}).all()
    if not rows:
        raise LookupError(f"warehouse table {table!r} does not exist (migrations not applied?)")
    return {name: _kind(dtype) for name, dtype in rows}


def cast_expr(column_sql: str, kind: ColumnKind) -> str:
    """SQL casting a view output column to a mart column kind, the same on both engines."""
    txt = f"NULLIF(CAST({column_sql} AS VARCHAR), '')"
    return {
        "text": txt,
        "date": f"CAST(SUBSTR({txt}, 1, 10) AS DATE)",
        "timestamp": f"CAST(REPLACE(SUBSTR({txt}, 1, 19), 'T', ' ') AS TIMESTAMP)",
        "decimal": f"CAST({txt} AS DECIMAL(12,2))",
        "int": f"CAST(CAST({txt} AS DECIMAL(18,4)) AS INTEGER)",
        "float": f"CAST({txt} AS DOUBLE PRECISION)",
        "bool": f"CAST({txt} AS BOOLEAN)",
    }[kind]


def _has_rows(conn: Connection, table: str | None) -> bool:
    return table is not None and conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first() is not None


def refresh_view(conn: Connection, view: dict, new_table: str, old_table: str | None) -> int:
    """Replace the rows of one mart for the resources in ``new_table`` (and ``old_table``).

    The view runs once per source table into a temporary table (its SQL is costly to plan),
    which both the key-based DELETE and the INSERT read.
    """
    table = view["name"]
    types = table_columns(conn, table)
    names = [c["name"] for c in view_columns(view)]
    missing = [n for n in names if n not in types]
    if missing:
        raise ValueError(f"mappings/views/{table}.json: columns {missing} are not in warehouse table {table}")
    keys = key_columns(view)
    # '=' not IS NOT DISTINCT FROM: mart keys are NOT NULL, and '=' lets PostgreSQL use the key index.
    cond = " AND ".join(f"{cast_expr('k.' + k, types[k])} = {table}.{k}" for k in keys)
    q = conn.exec_driver_sql
    written = 0
    _create_changed_keys(conn, table, keys)
    for role, source in (("old", old_table), ("new", new_table)):
        if not _has_rows(conn, source):
            continue
        temp = f"_view_{role}"
        q(f"DROP TABLE IF EXISTS {temp}")
        q(f"CREATE TEMP TABLE {temp} AS {select_sql(conn, view, source)}")
        q(f"INSERT INTO {CHANGED_PREFIX}{table} ({', '.join(keys)}) SELECT "
          f"{', '.join(cast_expr('k.' + k, types[k]) for k in keys)} FROM {temp} k "
          f"WHERE {' AND '.join(cast_expr('k.' + k, types[k]) + ' IS NOT NULL' for k in keys)}")
        q(f"DELETE FROM {table} WHERE EXISTS (SELECT 1 FROM {temp} k WHERE {cond})")
        if role == "new":
            has_key = " AND ".join(f"{cast_expr('v.' + k, types[k])} IS NOT NULL" for k in keys)
            _quarantine_keyless(conn, view, temp, has_key)
            cols = [c for c in [*names, *passthrough_for(view)] if c in types]
            exprs = ", ".join(f"{cast_expr('v.' + c, types[c])} AS {c}" for c in cols)
            written = max(q(f"INSERT INTO {table} ({', '.join(cols)}) SELECT {exprs} FROM {temp} v "
                            f"WHERE {has_key}").rowcount or 0, 0)
        q(f"DROP TABLE {temp}")
    return written


CHANGED_PREFIX = "_changed_"


def _create_changed_keys(conn: Connection, table: str, keys: list[str]) -> None:
    """An empty temporary ``_changed_<table>`` for the keys this load deletes or writes in ``table``.

    Why: the derivations and the dimension history then touch only those keys, not the whole
    mart, which grows with every loaded day.
    """
    created = conn.info.setdefault("rhp_changed_keys", set())
    if table not in created:
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {CHANGED_PREFIX}{table}")
        conn.exec_driver_sql(f"CREATE TEMP TABLE {CHANGED_PREFIX}{table} AS "
                             f"SELECT {', '.join(keys)} FROM {table} WHERE 1 = 0")
        created.add(table)


def drop_changed_keys(conn: Connection) -> None:
    """Drop the ``_changed_<mart>`` tables this connection made (end of a load: the next starts empty)."""
    for table in sorted(conn.info.pop("rhp_changed_keys", set())):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {CHANGED_PREFIX}{table}")


def _quarantine_keyless(conn: Connection, view: dict, temp: str, has_key: str) -> int:
    """View rows lacking part of the mart key cannot be merged: one quarantine row each, naming the resource."""
    table, keys = view["name"], key_columns(view)
    rows = conn.execute(sa.text(
        f"SELECT v.id, v.batch_id, v.source_file, v.source_line, v.message_id, v.partition_date, "
        f"{', '.join('v.' + k for k in keys)} FROM {temp} v WHERE NOT ({has_key})")).mappings().all()
    if not rows:
        return 0
    check = f"load.{table}.key_missing"
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    out = []
    for r in rows:
        missing = [k for k in keys if r[k] in (None, "")]
        qid = hashlib.sha256(f"{r['batch_id']}|load|{check}|{r['id']}".encode()).hexdigest()[:24]
        out.append({
            "quarantine_id": qid, "batch_id": r["batch_id"] or "", "stage": "load", "dataset": table,
            "institution_code": None, "partition_date": r["partition_date"], "check_id": check,
            "reason": (f"{r['source_file']} line {r['source_line']}: {view['resource']}/{r['id']} gives no "
                       f"{', '.join(missing)} for {table} (key {', '.join(keys)}), so it cannot be loaded"),
            "file_path": r["source_file"], "line_no": r["source_line"], "message_id": r["message_id"],
            "raw_record": json.dumps({k: (None if r[k] is None else str(r[k])) for k in keys}),
            "quarantined_at": now,
        })
    conn.execute(sa.text("DELETE FROM quarantine WHERE quarantine_id = :quarantine_id"), out)
    conn.execute(sa.text(
        "INSERT INTO quarantine (quarantine_id, batch_id, stage, dataset, institution_code, partition_date, check_id, "
        "reason, file_path, line_no, message_id, raw_record, quarantined_at) VALUES (:quarantine_id, :batch_id, "
        ":stage, :dataset, :institution_code, CAST(:partition_date AS DATE), :check_id, :reason, :file_path, "
        "CAST(:line_no AS INTEGER), :message_id, :raw_record, :quarantined_at)"), out)
    return len(out)


def derive(conn: Connection) -> list[str]:
    """Run every ``sql/<mart>.derive.sql`` (after all views are refreshed, as some read helper tables).

    The files read ``_changed_<mart>`` (keys this load wrote); a mart not refreshed gets an empty one.
    """
    for name, view in load_views().items():
        _create_changed_keys(conn, name, key_columns(view))
    done = []
    for path in sorted(DERIVE_DIR.glob("*.derive.sql")):
        for stmt in split_statements(path.read_text(encoding="utf-8"), dialect(conn)):
            conn.exec_driver_sql(stmt)
        done.append(path.name)
    return done


def refresh_marts(conn: Connection, resource_types: set[str], new_table: str,
                  old_table: str | None = None) -> list[str]:
    """Refresh every mart fed by one of ``resource_types``; returns the marts touched."""
    touched = []
    for name, view in sorted(load_views().items()):
        if view["resource"] in resource_types:
            refresh_view(conn, view, new_table, old_table)
            touched.append(name)
    if touched:
        derive(conn)
    return touched


def rebuild_all(conn: Connection) -> list[str]:
    """Rebuild every mart from the whole FHIR store (after a view definition changes)."""
    touched = []
    drop_changed_keys(conn)
    for name, view in sorted(load_views().items()):
        conn.exec_driver_sql(f"DELETE FROM {name}")
        refresh_view(conn, view, "fhir_resource", None)
        touched.append(name)
    derive(conn)
    drop_changed_keys(conn)
    return touched


def rebuild_warehouse(url: str) -> list[str]:
    """Migrate and rebuild every mart in one transaction: ``python -m transforms.warehouse.marts``."""
    from transforms.warehouse.db import get_engine, migrate

    engine = get_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        return rebuild_all(conn)


if __name__ == "__main__":
    from transforms.settings import load_settings

    print("rebuilt:", ", ".join(rebuild_warehouse(load_settings().warehouse_url)))
