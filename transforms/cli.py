"""`rhp`: the command line for data engineers and the demo.

    python -m transforms.cli demo [--days 2] [--scale tiny] [--no-airflow]
    python -m transforms.cli run-day 2026-11-01            # plain functions, no Airflow
    python -m transforms.cli backfill 2026-11-01 2026-11-30 [--airflow]
    python -m transforms.cli summary

The demo is the main job end to end on the embedded default: it generates a small
synthetic district, runs the real Airflow DAGs with SQLite metadata (no server, no
Docker) into a DuckDB warehouse, and prints what was loaded, quarantined and where.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from transforms.settings import REPO_ROOT, load_settings

DEMO_START = date(2026, 11, 1)


def _progress(msg: str) -> None:
    print(msg, flush=True)


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(d) for d in range((end - start).days + 1)]


def cmd_demo(args: argparse.Namespace) -> int:
    settings = load_settings()
    t0 = time.perf_counter()
    if not args.keep:
        for p in (settings.landing, settings.lake, settings.reports, settings.exports, settings.home / "airflow"):
            shutil.rmtree(p, ignore_errors=True)
        url = settings.warehouse_url
        if url.startswith("duckdb:///"):
            Path(url.removeprefix("duckdb:///")).unlink(missing_ok=True)
    from transforms.synth import generate

    _progress(f"[1/3] generating a '{args.scale}' synthetic district, {args.days} day(s) from {DEMO_START} "
              f"(seed {args.seed}, defect rate {args.defect_rate}) into {settings.landing}")
    manifest = generate(settings.home, DEMO_START, args.days, args.scale, args.seed, args.defect_rate)
    _progress(f"      injected defects: {manifest.get('counts', manifest)}")
    days = _days(DEMO_START, DEMO_START + timedelta(args.days - 1))
    if args.no_airflow:
        _progress("[2/3] running the pipeline as plain functions (--no-airflow)")
        rc = _run_plain(settings, days)
    else:
        _progress("[2/3] running the Airflow DAGs (SQLite metadata, in-process dag.test)")
        rc = _run_airflow(settings, days)
    _progress("[3/3] summary")
    from transforms.summary import collect, render

    print(render(settings, collect(settings)))
    print(f"\nfinished in {time.perf_counter() - t0:.0f}s; injected-defect manifest: "
          f"{settings.home / '_defects_manifest.json'}")
    return rc


def _run_plain(settings, days: list[date]) -> int:
    from transforms.pipeline import run_day

    errors = []
    for d in days:
        res = run_day(settings, d, progress=_progress)
        errors += res.errors
    for e in errors:
        print(f"ERROR {e}", file=sys.stderr)
    return 1 if errors else 0


def _run_airflow(settings, days: list[date]) -> int:
    sys.path.insert(0, str(REPO_ROOT))
    from plugins.rhp_airflow.local_run import airflow_env, ensure_airflow_home

    home = settings.home / "airflow"
    ensure_airflow_home(home)
    env = airflow_env(home)
    env["RHP_HOME"] = str(settings.home)
    cmd = [sys.executable, "-m", "plugins.rhp_airflow.local_run"] + [f"--day={d.isoformat()}" for d in days]
    return subprocess.run(cmd, env=env, cwd=REPO_ROOT).returncode


def cmd_run_day(args: argparse.Namespace) -> int:
    return _run_plain(load_settings(), [date.fromisoformat(args.day)])


def cmd_backfill(args: argparse.Namespace) -> int:
    settings = load_settings()
    days = _days(date.fromisoformat(args.start), date.fromisoformat(args.end))
    return _run_airflow(settings, days) if args.airflow else _run_plain(settings, days)


def cmd_summary(args: argparse.Namespace) -> int:
    from transforms.summary import collect, render

    settings = load_settings()
    print(render(settings, collect(settings)))
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYTHONPATH", str(REPO_ROOT))
    ap = argparse.ArgumentParser(prog="rhp", description="Regional health data platform")
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="generate demo data and run the DAGs end to end")
    d.add_argument("--days", type=int, default=2)
    d.add_argument("--scale", default="tiny", choices=["tiny", "district", "city"])
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--defect-rate", type=float, default=0.03)
    d.add_argument("--no-airflow", action="store_true", help="run the stages as plain functions")
    d.add_argument("--keep", action="store_true", help="keep the previous demo outputs")
    d.set_defaults(func=cmd_demo)
    r = sub.add_parser("run-day", help="run every landed partition of one day (no Airflow)")
    r.add_argument("day")
    r.set_defaults(func=cmd_run_day)
    b = sub.add_parser("backfill", help="run a date range, oldest first")
    b.add_argument("start")
    b.add_argument("end")
    b.add_argument("--airflow", action="store_true", help="through the real DAGs (dag.test)")
    b.set_defaults(func=cmd_backfill)
    s = sub.add_parser("summary", help="print the warehouse summary")
    s.set_defaults(func=cmd_summary)
    args = ap.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
