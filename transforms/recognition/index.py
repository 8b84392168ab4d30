"""``recognition_index``: the lookup's own narrow table, refreshed incrementally after each load.

Why a separate table: the lookup must answer in milliseconds for one resident and item, so it
reads one table through one composite index ``(person_key, item_code, result_time)`` instead
of a union of two marts. Rows are keyed on the result id, so a re-loaded (corrected) result
replaces its index row.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SQL_DIR = Path(__file__).resolve().parent / "sql"


def _sql(name: str) -> sa.TextClause:
    return sa.text((SQL_DIR / name).read_text(encoding="utf-8"))


def refresh_index(conn: Connection, since: datetime | None) -> int:
    """Rewrite index rows for results loaded at or after ``since`` (all when None); returns rows written.

    Results deleted from the marts disappear only on a full refresh (``since=None``).
    """
    params = {"since": since, "now": datetime.now(UTC).replace(tzinfo=None)}
    conn.execute(_sql("index_delete.sql"), params)
    result = conn.execute(_sql("index_insert.sql"), params)
    return int(result.rowcount or 0)
