"""The production topology without Docker: CeleryExecutor, Redis broker, PostgreSQL metadata and
warehouse, api-server, scheduler, dag-processor and two Celery workers (tests/celery_topology.py).

Runs the daily pipeline on a tiny generated day. The downstream DAGs are *not* triggered by
the test: they run because the source DAGs updated their Assets (data-aware scheduling).
Also runs two DAG runs of the same interval at once and checks nothing is duplicated.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.celery_topology import LocalTopology, redis_available

REPO = Path(__file__).resolve().parent.parent
DAY = date(2026, 11, 1)
SOURCES = ("registry", "public_health", "signing", "his", "lis", "pacs")

pytestmark = pytest.mark.celery


def _warehouse_counts(url: str) -> dict[str, int]:
    eng = sa.create_engine(url)
    with eng.connect() as c:
        out = {t: c.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
               for t in ("submission_log", "quarantine", "fact_encounter", "fact_lab_result", "fact_signing",
                         "dim_person", "fhir_resource")}
    eng.dispose()
    return out


def test_daily_pipeline_on_two_celery_workers(tmp_path, pg_url):
    reason = redis_available()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    home = tmp_path / "rhp"
    from transforms.synth import generate

    generate(home, DAY, 1, "tiny", 11, 0.03)
    extra = {"RHP_HOME": str(home), "RHP_WAREHOUSE_URL": pg_url, "RHP_PSEUDONYM_KEY": "celery-it-key"}
    with LocalTopology(tmp_path / "airflow", REPO / "dags", workers=2, extra_env=extra) as topo:
        topo.wait_dags_parsed([f"rhp_source_{s}" for s in SOURCES] + ["rhp_marts", "rhp_indicators"])
        topo.trigger("rhp_source_registry", {"day": DAY.isoformat()}, f"{DAY}T00:00:00+00:00")
        topo.wait_runs(timeout=600, settle=5)
        for s in SOURCES[1:]:
            topo.trigger(f"rhp_source_{s}", {"day": DAY.isoformat()}, f"{DAY}T00:00:00+00:00")
        # the same interval twice at once: must not corrupt or duplicate anything
        topo.trigger("rhp_source_his", {"day": DAY.isoformat()}, f"{DAY}T00:00:01+00:00")
        runs = topo.wait_runs(timeout=1500, settle=20)
        failed = [r for r in runs if r[2] != "success"]
        assert not failed, f"failed runs: {failed}; logs in {tmp_path / 'airflow'}"
        ran = {r[0] for r in runs}
        assert {"rhp_marts", "rhp_indicators", "rhp_quality_report", "rhp_ops_feed"} <= ran, \
            f"asset-scheduled DAGs did not run: {ran}"
        eng = topo.metadata()
        with eng.connect() as c:
            values = [r[0] for r in c.execute(sa.text(
                "SELECT value FROM xcom WHERE task_id LIKE 'partition.%' AND key = 'return_value'"))]
        eng.dispose()
        workers = {json.loads(v)["worker"] if isinstance(v, str) else v["worker"] for v in values}
        assert {"worker1", "worker2"} <= workers, f"tasks did not spread over both workers: {workers}"
    counts = _warehouse_counts(pg_url)
    assert counts["fact_encounter"] > 0 and counts["fact_lab_result"] > 0 and counts["dim_person"] > 0
    eng = sa.create_engine(pg_url)
    with eng.connect() as c:
        dup = c.execute(sa.text("SELECT encounter_id, COUNT(*) FROM fact_encounter GROUP BY 1 HAVING COUNT(*) > 1")).all()
        assert dup == [], "a concurrent rerun duplicated rows"
        logged = c.execute(sa.text("SELECT COUNT(*), COUNT(DISTINCT batch_id) FROM submission_log")).one()
        assert logged[0] == logged[1]
    eng.dispose()
