"""A short soak (bench/soak.py): consecutive days through the pipeline, counts reconciled after each.

The full run is ``python -m bench.soak --days 30`` (results in docs/reliability.md). Here: two
days of two sources (registry + LIS), enough to exercise a growing warehouse and every check.
The reconciliation itself must be able to fail, so one test tampers with a count and expects it
to be reported.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from bench.soak import reconcile_day, soak

START = date(2026, 11, 1)


@pytest.mark.local
def test_short_soak_reconciles_every_day(rhp_home):
    lines: list[str] = []
    failures = soak(rhp_home, START, 2, seed=5, defect_rate=0.05, post_load=False, sources=("registry", "lis"),
                    out=lines.append)
    report = "\n".join(lines)
    assert failures == 0, report
    rows = [line for line in lines if line.strip().startswith("2026-11-0")]
    assert len(rows) == 2 and all(r.rstrip().endswith("OK") for r in rows), report
    read = [int(r.split()[2]) for r in rows]
    assert all(n > 0 for n in read), report  # each day really moved data


@pytest.mark.local
def test_reconciliation_reports_a_lost_row(rhp_home):
    from transforms.settings import load_settings
    from transforms.warehouse.db import get_engine

    assert soak(rhp_home, START, 1, seed=5, defect_rate=0.0, post_load=False, sources=("registry", "lis"),
                out=lambda s: None) == 0
    settings = load_settings()
    with get_engine(settings.warehouse_url).begin() as c:  # a file claims one row more than it landed
        c.execute(sa.text("UPDATE submission_log SET rows_read = rows_read + 1 WHERE batch_id = "
                          "(SELECT MIN(batch_id) FROM submission_log WHERE source = 'lis')"))
        c.execute(sa.text("DELETE FROM fact_lab_result WHERE observation_id = (SELECT MIN(observation_id) "
                          "FROM fact_lab_result)"))
    _, bad = reconcile_day(settings, START)
    checks = {m.check for m in bad}
    assert "ingest rows_read=landed+quarantined" in checks, bad
    assert "mart rows = view over fhir_resource" in checks, bad
