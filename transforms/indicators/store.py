"""Indicator history: runs, values, publications, and revisions between runs.

Nothing is overwritten. A run computes every value as of a point in time (``as_of``: only
rows loaded by then count), so last month's published figure is reproducible after late
data arrives, and the next run's figure shows as a revision of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.indicators.engine import Value, compute_dimensions, period_is_partial
from transforms.indicators.model import Indicator, PeriodType
from transforms.indicators.periods import Period, period_containing


def _target_met(ind: Indicator, value: float | None) -> bool | None:
    if ind.target is None or value is None:
        return None
    return value >= ind.target.value if ind.target.comparison == ">=" else value <= ind.target.value


def run_indicators(
    conn: Connection,
    indicators: Iterable[Indicator],
    periods: Iterable[Period],
    as_of: datetime | None = None,
    trigger: Literal["dag", "cli", "api", "test"] = "cli",
    note: str = "",
) -> str:
    """Compute every indicator × period × declared dimension; store them under a new run id."""
    as_of = as_of or datetime.now()
    run_id = f"{as_of:%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    conn.execute(sa.text("INSERT INTO indicator_run VALUES (:r, :s, :a, :t, :n)"),
                 {"r": run_id, "s": datetime.now(), "a": as_of, "t": trigger, "n": note})
    rows: list[dict[str, Any]] = []
    periods = list(periods)
    for ind in indicators:
        for period in periods:
            if period.type not in ind.periods:
                continue
            for v in compute_dimensions(conn, ind, period, ind.dimensions, as_of=as_of):
                rows.append(_row(run_id, ind, v, as_of.date()))
    _insert_values(conn, rows)
    return run_id


def _insert_values(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Store a run's values in one statement.

    Why two paths: PostgreSQL's driver pipelines an executemany; DuckDB's does one round trip
    per row and SQLAlchemy's multi-VALUES compile is slower still (2 s for 2 000 values), so on
    DuckDB the rows go in as ONE bound parameter, a list of structs that DuckDB unnests.
    """
    if not rows:
        return
    cols = list(rows[0])
    if conn.dialect.name == "duckdb":
        conn.connection.driver_connection.execute(  # type: ignore[union-attr]
            f"INSERT INTO indicator_value ({', '.join(cols)}) SELECT {', '.join('r.' + c for c in cols)} "
            f"FROM (SELECT UNNEST($1) AS r)", [rows])
        return
    conn.execute(sa.text(f"INSERT INTO indicator_value ({', '.join(cols)}) VALUES "
                         f"({', '.join(':' + c for c in cols)})"), rows)


def _row(run_id: str, ind: Indicator, v: Value, as_of: date) -> dict[str, Any]:
    return {"run_id": run_id, "indicator_code": ind.code, "indicator_version": ind.version,
            "fingerprint": ind.fingerprint, "period_type": v.period.type, "period_label": v.period.label,
            "period_start": v.period.start, "period_end": v.period.end, "dimension": v.dimension,
            "dimension_value": v.dimension_value or "", "numerator": v.numerator, "denominator": v.denominator,
            "value": v.value, "row_count": v.row_count, "is_partial": period_is_partial(v.period, as_of),
            "target_met": _target_met(ind, v.value)}


def periods_touching(day: date, kinds: Iterable[PeriodType] = ("month", "quarter", "year")) -> list[Period]:
    """The periods a newly loaded day changes (its month, quarter and year)."""
    return [period_containing(k, day) for k in kinds]


def latest_values(conn: Connection, indicator_code: str, period_type: str, dimension: str,
                  period_start: date | None = None, published_only: bool = False) -> list[dict[str, Any]]:
    """The newest value per (period, member), or the published one, with the previous run's value."""
    run_filter = ("AND v.run_id IN (SELECT run_id FROM indicator_publication p WHERE p.indicator_code = v.indicator_code "
                  "AND p.period_type = v.period_type AND p.period_start = v.period_start)") if published_only else ""
    sql = f"""
        WITH ranked AS (
            SELECT v.*, r.as_of,
                   ROW_NUMBER() OVER (PARTITION BY v.period_start, v.dimension_value ORDER BY r.as_of DESC, v.run_id DESC) AS rn,
                   LEAD(v.value) OVER (PARTITION BY v.period_start, v.dimension_value ORDER BY r.as_of DESC, v.run_id DESC) AS previous_value
            FROM indicator_value v JOIN indicator_run r ON r.run_id = v.run_id
            WHERE v.indicator_code = :c AND v.period_type = :pt AND v.dimension = :d
              AND (CAST(:ps AS DATE) IS NULL OR v.period_start = CAST(:ps AS DATE)) {run_filter}
        )
        SELECT run_id, as_of, period_label, period_start, period_end, dimension_value, numerator, denominator, value,
               previous_value, row_count, is_partial, target_met, fingerprint
        FROM ranked WHERE rn = 1 ORDER BY period_start, dimension_value"""
    rows = conn.execute(sa.text(sql), {"c": indicator_code, "pt": period_type, "d": dimension, "ps": period_start})
    out = []
    for r in rows:
        d = dict(r._mapping)
        d["is_revised"] = d["previous_value"] is not None and d["previous_value"] != d["value"]
        out.append(d)
    return out


def publish(conn: Connection, run_id: str, indicator_code: str, period: Period, by: str) -> None:
    """Mark one run's figures for a period as the published ones (the officer's act)."""
    conn.execute(sa.text("INSERT INTO indicator_publication VALUES (:c, :pt, :ps, :r, :at, :by)"),
                 {"c": indicator_code, "pt": period.type, "ps": period.start, "r": run_id, "at": datetime.now(),
                  "by": by})


def value_in_run(conn: Connection, run_id: str, indicator_code: str, period: Period, dimension: str,
                 member: str) -> float | None:
    """Exactly what a given run computed, for reproducing a published figure."""
    return conn.execute(sa.text(
        "SELECT value FROM indicator_value WHERE run_id = :r AND indicator_code = :c AND period_type = :pt "
        "AND period_start = :ps AND dimension = :d AND dimension_value = :m"),
        {"r": run_id, "c": indicator_code, "pt": period.type, "ps": period.start, "d": dimension, "m": member},
    ).scalar()


def latest_run_as_of(conn: Connection, indicator_code: str, period: Period) -> datetime | None:
    """The ``as_of`` of the newest run that stored ``indicator_code`` for ``period`` (None if never run).

    Why: a drill-down must list the rows behind the figure the user is looking at, i.e. the
    rows loaded by that run's cut-off, not whatever has arrived since.
    """
    return conn.execute(sa.text(
        "SELECT r.as_of FROM indicator_value v JOIN indicator_run r ON r.run_id = v.run_id "
        "WHERE v.indicator_code = :c AND v.period_type = :pt AND v.period_start = :ps "
        "ORDER BY r.as_of DESC, v.run_id DESC LIMIT 1"),
        {"c": indicator_code, "pt": period.type, "ps": period.start}).scalar()
