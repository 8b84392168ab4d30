"""Which expected submissions are missing once their deadline has passed.

Expected = the submission calendar (``mappings/submission_calendar.yaml``) applied to the
registered institutions; received = the submission log. An explicit zero-record report is
a received submission, so it never shows here; only absence does (DOMAIN §7.3).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from transforms.settings import MAPPINGS_DIR, Settings
from transforms.sources.calendar import expected_submissions, load_calendar
from transforms.warehouse.db import get_engine, migrate

CALENDAR_FILE = MAPPINGS_DIR / "submission_calendar.yaml"


def missing_submissions(settings: Settings, day: date, source: str | None = None,
                        now: datetime | None = None) -> list[dict[str, Any]]:
    """Expected (institution, dataset) pairs for ``day`` with no file logged, past their deadline."""
    calendar = load_calendar(CALENDAR_FILE)
    # deadlines are wall-clock times in the calendar's zone (Asia/Shanghai), whatever the server's
    now = now or datetime.now(ZoneInfo(calendar.timezone)).replace(tzinfo=None)
    engine = get_engine(settings.warehouse_url)
    migrate(engine)
    with engine.connect() as conn:
        tables = set(sa.inspect(conn).get_table_names())
        if "dim_institution" not in tables:
            return []
        institutions = [dict(r._mapping) for r in conn.execute(sa.text(
            "SELECT institution_code, inst_type FROM dim_institution"))]
        received = {(r[0], r[1], r[2]) for r in conn.execute(sa.text(
            "SELECT source, institution_code, dataset FROM submission_log "
            "WHERE partition_date = :d AND status <> 'rejected'"), {"d": day})}
    out = []
    for exp in expected_submissions(calendar, institutions, day):
        if source and exp.source != source:
            continue
        ds = calendar.dataset(exp.dataset)
        due = ds.deadline.due(day)
        if now <= due or (exp.source, exp.institution, ds.table) in received:
            continue
        out.append({"institution_code": exp.institution, "source": exp.source, "dataset": exp.dataset,
                    "table": ds.table, "deadline": due.isoformat(timespec="minutes")})
    return out
