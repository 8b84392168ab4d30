"""Run the real DAGs through Airflow on this machine: SQLite metadata, no server.

This is what ``make demo`` and the Airflow tests use. Each DAG run goes through
``dag.test()``, which executes every task in-process with the real scheduler logic
(mapping, trigger rules, XCom, Asset events) against a migrated metadata database.
Downstream DAGs are asset-scheduled in production; here we run them in dependency order
after the sources, passing the day explicitly.

Usage: python -m plugins.rhp_airflow.local_run --day 2026-11-01 [--day ...] [--dags a,b]
Environment: AIRFLOW_HOME must point at a migrated home (see ``ensure_airflow_home``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

SOURCE_DAGS = [f"rhp_source_{s}" for s in ("registry", "public_health", "signing", "his", "lis", "pacs", "fhir")]
POST_DAGS = ["rhp_marts", "rhp_recognition_index", "rhp_indicators", "rhp_quality_report", "rhp_ops_feed"]
REPO = Path(__file__).resolve().parents[2]


def airflow_env(airflow_home: Path) -> dict[str, str]:
    """Environment for an embedded Airflow: SQLite metadata, our dags/plugins, no examples."""
    env = dict(os.environ)
    env.update({
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": env.get(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{airflow_home / 'airflow.db'}"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": env.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING"),
        "PYTHONPATH": os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    })
    return env


def ensure_airflow_home(airflow_home: Path) -> None:
    """Create and migrate the metadata database once (about 4 s on SQLite)."""
    airflow_home.mkdir(parents=True, exist_ok=True)
    marker = airflow_home / ".migrated"
    if marker.exists():
        return
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=airflow_env(airflow_home),
                   check=True, stdout=subprocess.DEVNULL)
    marker.write_text(datetime.now().isoformat())


def run_dags(days: list[date], dag_ids: list[str] | None = None, progress=print) -> dict[str, str]:
    """dag.test() every DAG for every day, sources first. Returns {dag_id/day: state}."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags"))
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    order = dag_ids or SOURCE_DAGS + POST_DAGS
    states: dict[str, str] = {}
    for day in days:
        for dag_id in order:
            dag = bag.dags.get(dag_id)
            if dag is None:
                raise KeyError(f"no DAG {dag_id!r}")
            t0 = time.perf_counter()
            run = dag.test(logical_date=datetime(day.year, day.month, day.day, tzinfo=UTC),
                            run_conf={"day": day.isoformat()})
            state = str(getattr(run, "state", "unknown"))
            states[f"{dag_id}/{day}"] = state
            progress(f"  airflow {dag_id} {day}: {state} ({time.perf_counter() - t0:.1f}s)")
    return states


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--day", action="append", required=True)
    ap.add_argument("--dags", default="")
    args = ap.parse_args(argv)
    days = [date.fromisoformat(d) for d in args.day]
    states = run_dags(days, [d for d in args.dags.split(",") if d] or None, progress=lambda m: print(m, flush=True))
    failed = {k: v for k, v in states.items() if "success" not in v}
    if failed:
        print(f"FAILED DAG runs: {failed}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
