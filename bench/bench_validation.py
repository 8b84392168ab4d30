"""Validation speed: GX on pandas vs our pandas form vs SQL pushdown (DuckDB, PostgreSQL), same answers.

    PYTHONPATH=. .venv/bin/python bench/bench_validation.py [--rows 1000000] [--pg URL]

One synthetic ``encounter`` standard-layer table with known defect rates; the checks are
the catalogue's encounter checks that GX can also run (GX has no expectation for the
foreign-key / decimals / sum types). Every path must report the same numerators (asserted),
then the timings are printed as ratios to the fastest path. Loading data into PostgreSQL is
not timed; GX context/suite set-up is not timed either (only ``batch.validate``).
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import time
from datetime import date

import numpy as np
import pandas as pd

from transforms.validation.catalogue import load_catalogue

CHECK_TYPES_GX = ("not_null", "in_set", "between", "pair_order", "unique", "regex", "not_regex")


def make_frame(n: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-11-01") + pd.to_timedelta(rng.integers(0, 30 * 24 * 60, n), unit="min")
    end = start + pd.to_timedelta(rng.integers(5, 600, n), unit="min")
    back = rng.random(n) < 0.005
    end = end.where(~back, start - pd.Timedelta(hours=3))
    no = np.char.add("E", np.arange(n).astype(str)).astype(object)
    dup = rng.random(n) < 0.002
    no[dup] = "E0"
    cls = rng.choice(np.array(["O", "I", "E", "Q"], dtype=object), n, p=[0.8, 0.15, 0.047, 0.003])
    cost = np.round(rng.gamma(2.0, 150.0, n), 2)
    cost[rng.random(n) < 0.004] *= -1
    start_s = pd.Series(start).where(rng.random(n) >= 0.01)
    issues = rng.choice(np.array(["", "checksum", "sex_mismatch", "upgraded_15;birth_date_mismatch"], dtype=object),
                        n, p=[0.95, 0.02, 0.02, 0.01])
    return pd.DataFrame({
        "encounter_no": no, "institution_code": rng.choice(np.array(["H001", "C001", "C002"], dtype=object), n),
        "encounter_class": cls, "encounter_class_std": cls, "start_time": start_s, "end_time": end,
        "total_cost": cost, "sex_std": rng.choice(np.array(["1", "2", "9", "3"], dtype=object), n,
                                                  p=[0.49, 0.49, 0.015, 0.005]),
        "age_at_event": rng.integers(-1, 125, n), "id_issues": issues,
    })


def pick_checks(df: pd.DataFrame):
    cols = set(df.columns)
    return [c for c in load_catalogue() if c.table == "encounter" and c.check_type in CHECK_TYPES_GX
            and set(c.referenced_columns) <= cols]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run_gx(df, checks):
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from transforms.validation.suites import expectation_for

    ctx = gx.get_context(mode="ephemeral")
    batch = (ctx.data_sources.add_pandas("p").add_dataframe_asset("a")
             .add_batch_definition_whole_dataframe("b").get_batch(batch_parameters={"dataframe": df}))
    exps = [ExpectationConfiguration(**expectation_for(c)).to_domain_obj() for c in checks]
    suite = ctx.suites.add(gx.ExpectationSuite(name="bench", expectations=exps))
    secs, res = timed(lambda: batch.validate(suite, result_format="SUMMARY"))
    got = {r.expectation_config.meta["check_id"]: r.result.get("unexpected_count") for r in res.results}
    return secs, got


def run_pandas(df, checks):
    from transforms.validation.engine import flags_pandas

    secs, flags = timed(lambda: flags_pandas(df, checks, {}))
    return secs, {c.check_id: int(flags[c.check_id].sum()) for c in checks}


def run_duckdb_counts(df, checks):
    import duckdb

    from transforms.validation.sql import counts_query

    con = duckdb.connect()
    con.register("encounter", df)
    secs, row = timed(lambda: con.execute(counts_query("encounter", checks, "duckdb")).fetchone())
    return secs, {c.check_id: int(row[2 * i + 1]) for i, c in enumerate(checks)}


def run_duckdb_parquet(df, checks, tmpdir):
    """DuckDB directly on the Parquet file, as the lake stores it (writing the file is not timed)."""
    import duckdb

    from transforms.validation.sql import counts_query

    path = os.path.join(tmpdir, "encounter.parquet")
    df.to_parquet(path, index=False)
    con = duckdb.connect()
    con.execute(f"CREATE VIEW encounter AS SELECT * FROM read_parquet('{path}')")
    secs, row = timed(lambda: con.execute(counts_query("encounter", checks, "duckdb")).fetchone())
    return secs, {c.check_id: int(row[2 * i + 1]) for i, c in enumerate(checks)}


def run_duckdb_flags(df, checks):
    from transforms.validation.engine import flags_duckdb

    secs, flags = timed(lambda: flags_duckdb(df, checks, {}))
    return secs, {c.check_id: int(flags[c.check_id].sum()) for c in checks}


def run_postgres(df, checks, url):
    import sqlalchemy as sa

    from transforms.validation.engine import push_down_counts

    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS bench_encounter")
        conn.exec_driver_sql(
            "CREATE TABLE bench_encounter (encounter_no VARCHAR, institution_code VARCHAR, encounter_class VARCHAR, "
            "encounter_class_std VARCHAR, start_time TIMESTAMP, end_time TIMESTAMP, total_cost DECIMAL(12,2), "
            "sex_std VARCHAR, age_at_event INTEGER, id_issues VARCHAR)")
        buf = io.StringIO()
        df.to_csv(buf, index=False, header=False)
        buf.seek(0)
        raw = conn.connection.driver_connection
        with raw.cursor().copy("COPY bench_encounter FROM STDIN WITH (FORMAT csv)") as cp:
            cp.write(buf.getvalue())
        conn.exec_driver_sql("ANALYZE bench_encounter")
    with eng.connect() as conn:
        secs, outs = timed(lambda: push_down_counts(conn, "bench_encounter", checks))
    with eng.begin() as conn:
        conn.exec_driver_sql("DROP TABLE bench_encounter")
    eng.dispose()
    return secs, {o.check.check_id: o.numerator for o in outs}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg", default=os.environ.get("RHP_TEST_PG_URL", "postgresql+psycopg://postgres@localhost:5432/postgres"))
    args = ap.parse_args()
    df = make_frame(args.rows)
    checks = pick_checks(df)
    print(f"{date.today()} {platform.machine()} {os.cpu_count()} CPU, python {platform.python_version()}; "
          f"{len(df):,} rows x {len(checks)} checks: {[c.check_type for c in checks]}")
    import tempfile

    tmpdir = tempfile.mkdtemp(prefix="bench_validation_")
    results = {}
    for name, fn in [("duckdb_parquet_counts", lambda: run_duckdb_parquet(df, checks, tmpdir)),("gx_pandas", lambda: run_gx(df, checks)), ("our_pandas", lambda: run_pandas(df, checks)),
                     ("duckdb_frame_counts", lambda: run_duckdb_counts(df, checks)),
                     ("duckdb_row_flags", lambda: run_duckdb_flags(df, checks))]:
        results[name] = fn()
    try:
        results["postgresql_counts"] = run_postgres(df, checks, args.pg)
    except Exception as exc:  # no server: report, do not fail the other figures
        print(f"postgresql skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    ref = results["our_pandas"][1]
    for name, (_, got) in results.items():
        assert got == ref, f"{name} numerators differ: {got} vs {ref}"
    floor = min(s for s, _ in results.values())
    print(f"numerators equal on every path: {ref}")
    print(f"{'path':<20}{'seconds':>10}{'x floor':>10}")
    for name, (secs, _) in sorted(results.items(), key=lambda kv: kv[1][0]):
        print(f"{name:<20}{secs:>10.3f}{secs / floor:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
