"""Speed-up from one Celery worker to two: the daily pipeline on the production topology.

Starts the CeleryExecutor topology of tests/celery_topology.py (PostgreSQL metadata and
warehouse, Redis, api-server, scheduler, dag-processor) with 1, then 2 workers of one slot
each, runs the same generated day through every source DAG, and times from the first trigger
until every run has finished (topology start-up excluded).

    python -m bench.bench_workers [--scale tiny] [--days 1]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa

from tests.celery_topology import PG_ADMIN, LocalTopology
from transforms.synth import generate

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("registry", "public_health", "signing", "his", "lis", "pacs")


def run_once(workers: int, landing_src: Path, days: list[date]) -> float:
    home = Path(tempfile.mkdtemp(prefix=f"rhp-w{workers}-"))
    shutil.copytree(landing_src, home / "landing")
    db = f"rhp_bench_w{workers}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{db}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{db}"
    extra = {"RHP_HOME": str(home), "RHP_WAREHOUSE_URL": url, "RHP_PSEUDONYM_KEY": "bench-key"}
    try:
        with LocalTopology(home / "airflow", REPO / "dags", workers=workers, extra_env=extra,
                           worker_concurrency=1) as topo:
            topo.wait_dags_parsed([f"rhp_source_{s}" for s in SOURCES])
            t0 = time.perf_counter()
            for d in days:
                topo.trigger("rhp_source_registry", {"day": d.isoformat()}, f"{d}T00:00:00+00:00")
            topo.wait_runs(timeout=1800, settle=5)
            for d in days:
                for s in SOURCES[1:]:
                    topo.trigger(f"rhp_source_{s}", {"day": d.isoformat()}, f"{d}T00:00:00+00:00")
            runs = topo.wait_runs(timeout=3600, settle=10)
            elapsed = time.perf_counter() - t0 - 15  # minus the two settle windows
            failed = [r for r in runs if r[2] != "success"]
            if failed:
                raise RuntimeError(f"failed runs with {workers} worker(s): {failed}")
            hosts = topo.task_hosts()
        with sa.create_engine(url).connect() as c:
            n = c.execute(sa.text("SELECT COUNT(*) FROM fhir_resource")).scalar_one()
        print(f"{workers} worker(s): {elapsed:.1f} s, {n:,} resources loaded, tasks by host {hosts}", flush=True)
        return elapsed
    finally:
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="tiny")
    ap.add_argument("--days", type=int, default=1)
    args = ap.parse_args()
    src = Path(tempfile.mkdtemp(prefix="rhp-workers-src-"))
    start = date(2026, 11, 1)
    generate(src, start, args.days, args.scale, 42, 0.02)
    days = [start + timedelta(i) for i in range(args.days)]
    one = run_once(1, src / "landing", days)
    two = run_once(2, src / "landing", days)
    print(f"\nscale={args.scale} days={args.days}: 1 worker {one:.1f} s, 2 workers {two:.1f} s, "
          f"speed-up {one / two:.2f}x")
    shutil.rmtree(src, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
