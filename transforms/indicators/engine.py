"""Compute declared indicators over the warehouse, by dimension and period.

One engine for every indicator: it wraps the declaration's base query, attributes each row
to the requested dimension (the medical group through SCD-2 membership *as of the row's
event date*), and sums numerator and denominator. The SQL is portable between DuckDB and
PostgreSQL; values are bound parameters, never spliced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.indicators.model import Dimension, Indicator
from transforms.indicators.periods import Period

# How a base row is attributed to each dimension. `b` is the base row.
DIMENSION_SQL: dict[str, tuple[str, str]] = {
    "region": ("'ALL'", ""),
    "institution": ("b.institution_code", ""),
    "group": ("m.group_code",
              "JOIN dim_group_membership m ON m.institution_code = b.institution_code "
              "AND b.event_date >= m.valid_from AND b.event_date < COALESCE(m.valid_to, DATE '9999-12-31')"),
    "district": ("SUBSTR(i.division_code, 1, 6)", "JOIN dim_institution i ON i.institution_code = b.institution_code"),
    "team": ("COALESCE(b.team_id, pr.team_id)", "LEFT JOIN dim_practitioner pr ON pr.practitioner_id = b.doctor_id"),
    "doctor": ("b.doctor_id", ""),
    "key_population": ("kp.code",
                       "JOIN dim_person p ON p.person_key = b.person_key AND p.key_populations <> '' "
                       "JOIN ref_key_population kp "
                       "ON POSITION(('|' || kp.code || '|') IN ('|' || p.key_populations || '|')) > 0"),
}


@dataclass
class Value:
    indicator_code: str
    period: Period
    dimension: str
    dimension_value: str | None
    numerator: float
    denominator: float | None
    value: float | None
    row_count: int


def _params(ind: Indicator, period: Period, as_of: datetime) -> dict[str, Any]:
    lookback = int(ind.params.get("lookback_days", 365))
    return {**ind.params, "period_start": period.start, "period_end": period.end, "as_of": as_of,
            "period_days": period.days, "period_last_day": period.end - timedelta(days=1),
            "period_year": period.start.year, "window_start": period.end - timedelta(days=lookback)}


def base_query(ind: Indicator) -> str:
    """The declaration's rows, typed and named as the engine expects."""
    return (f"SELECT CAST(row_id AS VARCHAR) AS row_id, institution_code, CAST(event_date AS DATE) AS event_date, "
            f"person_key, doctor_id, team_id, CAST(num AS DOUBLE PRECISION) AS num, "
            f"CAST(den AS DOUBLE PRECISION) AS den FROM ({ind.base_sql}) base_rows")


def _dimension_sql(dimension: Dimension) -> str:
    """One dimension's aggregate over the shared ``base`` rows (the name is a validated key, not input)."""
    expr, join = DIMENSION_SQL[dimension]
    return (f"SELECT '{dimension}' AS dimension, dim_value, SUM(num) AS num, SUM(den) AS den, COUNT(*) AS n FROM ("
            f"SELECT CAST({expr} AS VARCHAR) AS dim_value, b.num, b.den FROM base b {join}) attributed "
            f"GROUP BY dim_value")


def compute_dimensions(conn: Connection, ind: Indicator, period: Period, dimensions: list[Dimension],
                       as_of: datetime | None = None) -> list[Value]:
    """Values of ``ind`` for one period and several dimensions, from ONE evaluation of the base query.

    Why one query: the base query is the expensive part (joins over the facts); attributing
    its rows to each dimension is cheap, so the base rows are materialised once and each
    dimension aggregates them (a MATERIALIZED CTE, the same on DuckDB and PostgreSQL).
    An empty denominator gives value None (not 0, not an error): "no eligible cases" is a
    different statement from "0 %".
    """
    for dimension in dimensions:
        if dimension not in ind.dimensions:
            raise ValueError(f"{ind.code} is not declared for dimension {dimension!r}; declared: {ind.dimensions}")
    if not dimensions:
        return []
    sql = (f"WITH base AS MATERIALIZED ({base_query(ind)}) "
           + " UNION ALL ".join(_dimension_sql(d) for d in dimensions)
           + " ORDER BY 1, 2")
    rows = conn.execute(sa.text(sql), _params(ind, period, as_of or datetime.now())).all()
    out = []
    for dimension, dim_value, num, den, n in rows:
        num = float(num or 0)
        if ind.aggregate == "sum":
            value, den_out = num * ind.scale, None
        else:
            den_out = float(den or 0)
            value = (num / den_out * ind.scale) if den_out else None
        out.append(Value(ind.code, period, dimension, None if dim_value is None else str(dim_value),
                         num, den_out, None if value is None else round(value, 4), int(n)))
    return out


def compute(conn: Connection, ind: Indicator, period: Period, dimension: Dimension,
            as_of: datetime | None = None) -> list[Value]:
    """Values of ``ind`` for one period, one per member of ``dimension``."""
    return compute_dimensions(conn, ind, period, [dimension], as_of)


def drill_down(conn: Connection, ind: Indicator, period: Period, dimension: Dimension, dimension_value: str,
               limit: int = 200, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """The rows behind one value, with the person key shortened so nobody is identified."""
    if dimension not in ind.dimensions:
        raise ValueError(f"{ind.code} is not declared for dimension {dimension!r}; declared: {ind.dimensions}")
    expr, join = DIMENSION_SQL[dimension]
    sql = (f"SELECT b.row_id, b.institution_code, b.event_date, b.person_key, b.doctor_id, b.team_id, b.num, b.den "
           f"FROM ({base_query(ind)}) b {join} WHERE {expr} = :dim_value ORDER BY b.event_date, b.row_id LIMIT :lim")
    params = {**_params(ind, period, as_of or datetime.now()), "dim_value": dimension_value, "lim": int(limit)}
    rows = [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]
    for r in rows:
        pk = r.pop("person_key")
        r["person_ref"] = (pk[:8] + "…") if pk else None
    return rows


def period_is_partial(period: Period, as_of: date) -> bool:
    return as_of < period.end
