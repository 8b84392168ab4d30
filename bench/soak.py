"""Soak run: N consecutive generated days through the pipeline, reconciling counts after each.

Why: a fault that loses or duplicates a few rows only shows when the counts of every stage are
checked against each other, day after day, on a warehouse that keeps growing. After each day
this script checks, for that day's partitions:

- ingest: every submission_log file has ``rows_read = rows_landed + rows_quarantined``, and
  ``rows_landed`` equals the rows of its raw-lake batch file;
- standardise: raw rows = standard rows (standardise keeps every row), per batch and table;
- validate: standard rows = validated rows + rows quarantined by ``validate``, per batch and table;
- FHIR → marts (whole warehouse): every mart view recomputed from ``fhir_resource`` has as many
  distinct keys as the mart table has rows, and no mart has duplicate keys.

It prints one line per day and exits 1 on any mismatch or pipeline error.

    python -m bench.soak --days 30                   # plain functions (default)
    python -m bench.soak --days 7 --airflow          # through the real DAGs (dag.test)
    python -m bench.soak --days 3 --home /tmp/soak --no-post-load --sources registry,his

The same module holds ``fingerprint`` (an order-independent digest of every warehouse table),
used by the crash/rerun tests in tests/test_reliability_*.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from transforms.warehouse.db import get_engine

# Columns that record WHEN a run happened (wall clock) or WHICH run it was, not WHAT was loaded.
# Two runs over the same input legitimately differ in these, so fingerprints leave them out.
VOLATILE_COLUMNS = frozenset({
    "loaded_at", "first_seen_at", "quarantined_at", "changed_at", "applied_at", "run_at", "recorded_at",
    "raised_at", "built_at", "indexed_at", "started_at", "as_of", "run_id", "event_time", "requested_at",
    "published_at", "computed_at", "generated_at", "created_at", "updated_at",
})
# Append-only run history: one row per load *run*, so a rerun after a crash adds rows by design.
# Compared as the set of distinct partitions loaded, with what they read.
RUN_LOG_TABLES = {"load_log": ("source", "institution_code", "partition_date", "rows_read")}


def _norm(v: Any) -> str:
    if v is None:
        return "∅"
    if isinstance(v, float):
        return repr(round(v, 9))
    if isinstance(v, Decimal):
        return format(v.normalize(), "f")
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True, ensure_ascii=False)
    return str(v)


def warehouse_tables(conn) -> list[str]:
    """User tables of the warehouse (main schema on DuckDB, public on PostgreSQL)."""
    schema = "main" if conn.dialect.name.startswith("duckdb") else "public"
    rows = conn.execute(sa.text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = :s AND table_type = 'BASE TABLE' "
        "ORDER BY table_name"), {"s": schema}).all()
    return [r[0] for r in rows]


def table_fingerprint(conn, table: str, skip: frozenset[str] = frozenset()) -> tuple[int, str]:
    """(row count, sha256 over the sorted per-row digests): independent of row order, counts duplicates."""
    schema = "main" if conn.dialect.name.startswith("duckdb") else "public"
    cols = [r[0] for r in conn.execute(sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND table_name = :t "
        "ORDER BY column_name"), {"s": schema, "t": table}).all()]
    if table in RUN_LOG_TABLES:
        keep = [c for c in RUN_LOG_TABLES[table] if c in cols]
        sql = f"SELECT DISTINCT {', '.join(keep)} FROM {table}"
    else:
        keep = [c for c in cols if c not in VOLATILE_COLUMNS and c not in skip]
        sql = f"SELECT {', '.join(keep) or '1'} FROM {table}"
    digests = sorted(hashlib.sha256("\x1f".join(_norm(v) for v in row).encode()).hexdigest()
                     for row in conn.exec_driver_sql(sql))
    return len(digests), hashlib.sha256("".join(digests).encode()).hexdigest()[:16]


def fingerprint(url: str, skip: dict[str, set[str]] | None = None) -> dict[str, tuple[int, str]]:
    """{table: (rows, digest)} for every warehouse table, leaving out VOLATILE_COLUMNS.

    ``skip`` leaves out further columns per table (e.g. a known, separately tested bug).
    """
    skip = skip or {}
    engine = get_engine(url)  # the warehouse config (DuckDB refuses a second, different one)
    try:
        with engine.connect() as conn:
            return {t: table_fingerprint(conn, t, frozenset(skip.get(t, ()))) for t in warehouse_tables(conn)}
    finally:
        engine.dispose()


def diff_fingerprints(a: dict[str, tuple[int, str]], b: dict[str, tuple[int, str]]) -> list[str]:
    """Readable differences between two fingerprints (empty when identical)."""
    out = []
    for t in sorted(set(a) | set(b)):
        if a.get(t) != b.get(t):
            out.append(f"{t}: {a.get(t)} != {b.get(t)}")
    return out


# ----------------------------------------------------------------------------- reconciliation


@dataclass(frozen=True)
class Mismatch:
    check: str
    where: str
    expected: int
    got: int

    def __str__(self) -> str:
        return f"{self.check} {self.where}: expected {self.expected}, got {self.got}"


def _parquet_rows(folder: Path) -> dict[str, int]:
    """{batch_id: rows} for the batch files of one lake partition folder."""
    import pyarrow.parquet as pq

    if not folder.is_dir():
        return {}
    return {p.stem: pq.ParquetFile(p).metadata.num_rows for p in sorted(folder.glob("*.parquet"))}


def _lake_counts(layer: Path, day: date) -> dict[tuple[str, str, str, str], int]:
    """{(table, source, institution, batch_id): rows} for one lake layer and day."""
    out: dict[tuple[str, str, str, str], int] = {}
    if not layer.is_dir():
        return out
    for folder in layer.glob(f"*/source=*/institution=*/date={day.isoformat()}"):
        table = folder.parents[2].name
        src = folder.parents[1].name.removeprefix("source=")
        inst = folder.parent.name.removeprefix("institution=")
        for batch, n in _parquet_rows(folder).items():
            out[(table, src, inst, batch)] = n
    return out


def reconcile_day(settings, day: date) -> tuple[dict[str, int], list[Mismatch]]:
    """Cross-stage count checks for ``day``; returns (totals for the report line, mismatches)."""
    from transforms.warehouse.views import key_columns, load_views, select_sql

    bad: list[Mismatch] = []
    raw = _lake_counts(settings.raw, day)
    std = _lake_counts(settings.standard, day)
    val = _lake_counts(settings.lake / "validated", day)
    engine = get_engine(settings.warehouse_url)
    try:
        with engine.connect() as conn:
            subs = conn.execute(sa.text(
                "SELECT batch_id, source, institution_code, dataset, file_path, status, rows_read, rows_landed, "
                "rows_quarantined, superseded_by FROM submission_log WHERE partition_date = :d"), {"d": day}).all()
            q_val = dict(conn.execute(sa.text(
                "SELECT batch_id || '|' || dataset, COUNT(DISTINCT COALESCE(CAST(line_no AS VARCHAR), message_id, "
                "quarantine_id)) FROM quarantine WHERE stage = 'validate' AND partition_date = :d "
                "GROUP BY batch_id, dataset"), {"d": day}).all())
            landed = read = quarantined = 0
            for s in subs:
                if s.status == "duplicate":
                    continue
                where = f"{s.source}/{s.institution_code}/{day} {s.file_path} (batch {s.batch_id})"
                rr, rl, rq = (int(x or 0) for x in (s.rows_read, s.rows_landed, s.rows_quarantined))
                read, landed, quarantined = read + rr, landed + rl, quarantined + rq
                if rr != rl + rq:
                    bad.append(Mismatch("ingest rows_read=landed+quarantined", where, rr, rl + rq))
                if s.superseded_by:
                    continue  # its raw batch was replaced by the correction
                lake = sum(n for (t, src, inst, b), n in raw.items()
                           if b == s.batch_id and src == s.source and inst == s.institution_code)
                if lake != rl:
                    bad.append(Mismatch("ingest rows_landed=raw lake rows", where, rl, lake))
            for key, n in raw.items():
                if std.get(key, 0) != n:
                    bad.append(Mismatch("standardise raw=standard", "/".join(key), n, std.get(key, 0)))
            for key, n in std.items():
                table, _src, _inst, batch = key
                got = val.get(key, 0) + int(q_val.get(f"{batch}|{table}", 0))
                if got != n:
                    bad.append(Mismatch("validate standard=validated+quarantined", "/".join(key), n, got))
            fhir = int(conn.execute(sa.text("SELECT COUNT(*) FROM fhir_resource")).scalar_one())
            marts = 0
            existing = set(warehouse_tables(conn))
            for name, view in sorted(load_views().items()):
                if name not in existing:
                    bad.append(Mismatch("mart exists", name, 1, 0))
                    continue
                keys = key_columns(view)
                mart_rows = int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {name}")).scalar_one())
                marts += mart_rows
                if not keys:
                    continue
                klist = ", ".join(keys)
                distinct_mart = int(conn.execute(sa.text(
                    f"SELECT COUNT(*) FROM (SELECT DISTINCT {klist} FROM {name}) k")).scalar_one())
                if distinct_mart != mart_rows:
                    bad.append(Mismatch("mart has no duplicate keys", name, mart_rows, distinct_mart))
                from_fhir = int(conn.execute(sa.text(
                    f"SELECT COUNT(*) FROM (SELECT DISTINCT {klist} FROM ({select_sql(conn, view, 'fhir_resource')}) v) k"
                )).scalar_one())
                if from_fhir != mart_rows:
                    bad.append(Mismatch("mart rows = view over fhir_resource", name, from_fhir, mart_rows))
    finally:
        engine.dispose()
    totals = {"files": sum(1 for s in subs if s.status != "duplicate"), "read": read, "landed": landed,
              "ingest_q": quarantined, "raw": sum(raw.values()), "standard": sum(std.values()),
              "validated": sum(val.values()), "validate_q": sum(int(v) for v in q_val.values()),
              "fhir_total": fhir, "mart_rows": marts}
    return totals, bad


# ----------------------------------------------------------------------------- driver


def run_one_day(settings, day: date, airflow: bool, post_load: bool,
                sources: tuple[str, ...] = ()) -> list[str]:
    """Run the pipeline for one day (optionally only some sources); returns error lines (empty when clean)."""
    if not airflow:
        from transforms.pipeline import PARTITION_STAGES, discover, run_day, run_stage

        if not sources:
            return list(run_day(settings, day, post_load=post_load).errors)
        errors = []
        for src, inst, d in discover(settings, day):
            if src not in sources:
                continue
            for stage in PARTITION_STAGES:
                try:
                    run_stage(stage, settings, src, inst, d)
                except Exception as exc:  # report and go on, like run_day
                    errors.append(f"{stage} {src}/{inst}/{d}: {type(exc).__name__}: {exc}")
                    break
        return errors
    from plugins.rhp_airflow.local_run import airflow_env, ensure_airflow_home
    from transforms.settings import REPO_ROOT

    home = settings.home / "airflow"
    ensure_airflow_home(home)
    env = airflow_env(home)
    env["RHP_HOME"] = str(settings.home)
    proc = subprocess.run([sys.executable, "-m", "plugins.rhp_airflow.local_run", f"--day={day.isoformat()}"],
                          env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    if proc.returncode:
        return [f"airflow run for {day} exited {proc.returncode}: {(proc.stderr or proc.stdout)[-500:]}"]
    return []


COLUMNS = ("files", "read", "landed", "ingest_q", "raw", "standard", "validated", "validate_q", "fhir_total",
           "mart_rows")


def soak(home: Path, start: date, days: int, *, scale: str = "tiny", seed: int = 42, defect_rate: float = 0.03,
         airflow: bool = False, post_load: bool = True, sources: tuple[str, ...] = (), out=print) -> int:
    """Generate ``days`` days into ``home`` and run them one by one; returns the number of failures."""
    os.environ["RHP_HOME"] = str(home)
    os.environ.setdefault("RHP_PSEUDONYM_KEY", "soak-test-key-not-a-secret")
    for var in ("RHP_LANDING", "RHP_LAKE"):
        os.environ.pop(var, None)
    from transforms.settings import load_settings
    from transforms.synth import generate

    settings = load_settings(home)
    t0 = time.perf_counter()
    generate(home, start, days, scale, seed, defect_rate)
    out(f"generated {days} day(s) of '{scale}' data (seed {seed}, defect rate {defect_rate}) "
        f"in {time.perf_counter() - t0:.0f}s into {home}")
    out(" ".join(f"{c:>10}" for c in ("day", *COLUMNS, "seconds", "result")))
    failures = 0
    for n in range(days):
        day = start + timedelta(n)
        t = time.perf_counter()
        errors = run_one_day(settings, day, airflow, post_load, sources)
        totals, bad = reconcile_day(settings, day)
        secs = time.perf_counter() - t
        ok = not errors and not bad
        failures += 0 if ok else 1
        out(" ".join([f"{day.isoformat():>10}", *(f"{totals[c]:>10}" for c in COLUMNS), f"{secs:>10.1f}",
                      f"{'OK' if ok else 'FAIL':>10}"]))
        for e in errors:
            out(f"    pipeline error: {e.splitlines()[0][:300]}")
        for m in bad:
            out(f"    mismatch: {m}")
    out(f"{days} day(s), {failures} failing, {time.perf_counter() - t0:.0f}s total")
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--start", default="2026-11-01")
    ap.add_argument("--scale", default="tiny")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--defect-rate", type=float, default=0.03)
    ap.add_argument("--home", default="", help="platform home (default: a fresh folder under /tmp)")
    ap.add_argument("--airflow", action="store_true", help="run each day through the real DAGs (dag.test)")
    ap.add_argument("--no-post-load", action="store_true", help="skip indicators, quality report, feed")
    ap.add_argument("--sources", default="", help="comma-separated sources to run (plain mode; default all)")
    args = ap.parse_args(argv)
    home = Path(args.home or f"/tmp/rhp-soak-{os.getpid()}")
    if home.exists():
        shutil.rmtree(home)
    failures = soak(home, date.fromisoformat(args.start), args.days, scale=args.scale, seed=args.seed,
                    defect_rate=args.defect_rate, airflow=args.airflow, post_load=not args.no_post_load,
                    sources=tuple(x for x in args.sources.split(",") if x))
    if args.sources and args.airflow:
        print("note: --sources applies to plain mode only; the DAGs ran every source")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
