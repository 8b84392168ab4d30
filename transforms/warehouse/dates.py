"""dim_date: one row per calendar day, generated for a range rather than loaded.

Why Python and not SQL: the two engines spell ISO week and day-of-week differently; computing
the few thousand rows here gives both warehouses identical calendars.
"""

from __future__ import annotations

from datetime import date, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection


def date_rows(start: date, end: date) -> list[dict]:
    """Calendar rows for ``start``..``end`` inclusive."""
    if end < start:
        raise ValueError(f"dim_date range is empty: {start} > {end}")
    rows = []
    day = start
    while day <= end:
        rows.append({"date_day": day, "year": day.year, "quarter": (day.month - 1) // 3 + 1, "month": day.month,
                     "iso_week": day.isocalendar().week, "is_weekend": day.isoweekday() >= 6})
        day += timedelta(days=1)
    return rows


def build_dim_date(conn: Connection, start: date, end: date) -> int:
    """Replace the days ``start``..``end`` in dim_date (idempotent); returns rows written."""
    rows = date_rows(start, end)
    conn.execute(sa.text("DELETE FROM dim_date WHERE date_day BETWEEN :a AND :b"), {"a": start, "b": end})
    conn.execute(sa.text("INSERT INTO dim_date (date_day, year, quarter, month, iso_week, is_weekend) "
                         "VALUES (:date_day, :year, :quarter, :month, :iso_week, :is_weekend)"), rows)
    return len(rows)
