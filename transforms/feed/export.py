"""Build the feed tables and Parquet exports for one month, with small cells suppressed.

Every feed is aggregated (no person key ever leaves), and any cell whose count columns
fall below the contract's ``k_min`` has its counts and measures blanked and
``suppressed = true``, so no resident can be re-identified from a rare combination.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.feed.contract import FeedContract, check_against_lock, load_contracts, read_lock
from transforms.indicators.periods import period_containing
from transforms.settings import Settings
from transforms.warehouse.db import get_engine, migrate

ARROW = {"string": pa.string(), "date": pa.date32(), "integer": pa.int64(), "decimal": pa.float64(),
         "boolean": pa.bool_()}
SQL_TYPE = {"string": "VARCHAR", "date": "DATE", "integer": "BIGINT", "decimal": "DOUBLE PRECISION",
            "boolean": "BOOLEAN"}


class ContractViolation(Exception):
    """The feed's output does not match its contract."""


def _suppress(rows: list[dict[str, Any]], c: FeedContract) -> int:
    counts = [col.name for col in c.columns if col.role == "count"]
    blank = [col.name for col in c.columns if col.role in ("count", "measure")]
    n = 0
    for r in rows:
        small = any(r.get(k) is not None and 0 < r[k] < c.k_min for k in counts)
        r["suppressed"] = small
        if small:
            n += 1
            for k in blank:
                r[k] = None
    return n


def _check_rows(rows: list[dict[str, Any]], c: FeedContract) -> None:
    declared = [col.name for col in c.columns]
    for r in rows[:1]:
        got = [k for k in r if k != "suppressed"]
        if got != declared:
            raise ContractViolation(f"feed {c.name} v{c.version}: query returns columns {got}, contract declares "
                                    f"{declared}")


def _ensure_table(conn: Connection, c: FeedContract) -> None:
    cols = ", ".join(f"{col.name} {SQL_TYPE[col.type]}" for col in c.columns)
    conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {c.table} (period_month VARCHAR NOT NULL, {cols}, "
                         f"suppressed BOOLEAN NOT NULL, feed_version VARCHAR NOT NULL, built_at TIMESTAMP NOT NULL)")


def build_feed(conn: Connection, c: FeedContract, month_start: date, month_end: date, out_dir: Path) -> dict[str, Any]:
    """One feed for one month: table partition replaced, Parquet file rewritten, manifest written."""
    rows = [dict(r._mapping) for r in conn.execute(sa.text(c.sql), {"period_start": month_start,
                                                                     "period_end": month_end})]
    _check_rows(rows, c)
    suppressed = _suppress(rows, c)
    label = f"{month_start:%Y-%m}"
    built = datetime.now()
    _ensure_table(conn, c)
    conn.execute(sa.text(f"DELETE FROM {c.table} WHERE period_month = :m"), {"m": label})
    if rows:
        full = [{"period_month": label, **r, "feed_version": c.version, "built_at": built} for r in rows]
        cols = list(full[0])
        conn.execute(sa.text(f"INSERT INTO {c.table} ({', '.join(cols)}) VALUES ({', '.join(':' + k for k in cols)})"),
                     full)
    schema = pa.schema([("period_month", pa.string())] + [(col.name, ARROW[col.type]) for col in c.columns]
                       + [("suppressed", pa.bool_())])
    data = {"period_month": [label] * len(rows), "suppressed": [r["suppressed"] for r in rows]}
    for col in c.columns:
        vals = [r.get(col.name) for r in rows]
        if col.type == "decimal":
            vals = [None if v is None else float(v) for v in vals]
        data[col.name] = vals
    target = out_dir / c.name / f"v{c.major}" / f"period_month={label}"
    target.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table({f.name: data[f.name] for f in schema}, schema=schema), target / "part-0.parquet")
    manifest = {"feed": c.name, "version": c.version, "grain": c.grain, "period_month": label, "rows": len(rows),
                "suppressed_cells": suppressed, "k_min": c.k_min, "schema_fingerprint": c.schema_fingerprint(),
                "built_at": built.isoformat(timespec="seconds"),
                "columns": [col.model_dump() for col in c.columns]}
    (target / "_manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return manifest


def export_feeds(settings: Settings, day: date) -> dict[str, Any]:
    """Every feed for the month containing ``day``; refuses to run if a contract broke."""
    contracts = load_contracts()
    problems = check_against_lock(contracts, read_lock())
    if problems:
        raise ContractViolation("; ".join(problems))
    month = period_containing("month", day)
    engine = get_engine(settings.warehouse_url)
    migrate(engine)
    out = {}
    with engine.begin() as conn:
        for name, c in contracts.items():
            out[name] = build_feed(conn, c, month.start, month.end, settings.exports / "ops_feed")
    return {"month": month.label, "feeds": {k: {"rows": v["rows"], "suppressed": v["suppressed_cells"]}
                                            for k, v in out.items()}}
