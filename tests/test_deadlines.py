"""Missing-submission alerts: expected by the calendar, absent from the log, past the deadline."""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from transforms.deadlines import missing_submissions
from transforms.settings import load_settings
from transforms.warehouse.db import get_engine, migrate

pytestmark = pytest.mark.local
DAY = date(2026, 11, 1)


def _setup(url: str) -> None:
    eng = get_engine(url)
    migrate(eng)
    with eng.begin() as c:
        c.execute(sa.text("INSERT INTO dim_institution (institution_code, name, inst_type) VALUES "
                          "('C1', 'chc one', 'chc'), ('H1', 'hospital one', 'hospital')"))
        c.execute(sa.text(
            "INSERT INTO submission_log (batch_id, source, institution_code, partition_date, file_path, dataset, "
            "checksum, size_bytes, arrival_time, first_seen_at, status, is_zero_report) VALUES "
            "('b1', 'his', 'C1', :d, 'his/C1/f.csv', 'encounter', 'x', 10, :t, :t, 'new', TRUE)"),
            {"d": DAY, "t": datetime(2026, 11, 2, 1)})


def test_missing_files_alert_only_after_deadline_and_zero_reports_count_as_received(rhp_home):
    settings = load_settings()
    _setup(settings.warehouse_url)
    before = missing_submissions(settings, DAY, source="his", now=datetime(2026, 11, 2, 5, 59))
    assert before == []  # deadline is next day 06:00 local
    after = missing_submissions(settings, DAY, source="his", now=datetime(2026, 11, 2, 6, 1))
    pairs = {(m["institution_code"], m["table"]) for m in after}
    assert ("C1", "encounter") not in pairs  # an explicit zero report arrived
    assert ("C1", "diagnosis") in pairs and ("H1", "encounter") in pairs
    assert all(m["deadline"] == "2026-11-02T06:00" for m in after)
