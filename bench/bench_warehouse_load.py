"""Warehouse load speed: load_partition vs a bare DuckDB insert of the same rows (the floor).

Run: PYTHONPATH=. .venv/bin/python -m bench.bench_warehouse_load --rows 100000 [--url postgresql+psycopg://...]
Builds one HIS partition of Encounter resources with the FHIR stage's builder, then times
(a) the floor: INSERT INTO a fresh fhir_resource-shaped table FROM read_parquet (resource cast to JSON);
(b) load_partition's store merge (staging, diff, audit, insert) and mart refresh, first load;
(c) the rerun (nothing changed).

Whole day (``--day 2026-11-02`` with RHP_HOME set to a copy of a generated home): loads every
partition of that day with load_partition, in one process, and reports the store merge and the
mart refresh separately (summed over partitions), the peak RSS, and then the floor measured
right after on the same files (``bench.floors.load_floor``: CREATE TABLE AS SELECT * FROM
read_parquet of the day's FHIR Parquet). Ratios are only meaningful within one run.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from transforms.fhir.builders import build_row
from transforms.settings import Settings
from transforms.terminology import systems


def write_rows(lake: Path, n: int, day: date) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    recs = []
    t0 = datetime(2024, 6, 15, 8, 0)
    for i in range(n):
        row = {"encounter_no": f"E{i}", "institution_code": "C1", "person_key": f"{i % 5000:064x}",
               "encounter_class": "O", "department": "全科", "practitioner_id": f"D{i % 40}",
               "start_time": (t0 + timedelta(seconds=i)).isoformat(), "end_time": (t0 + timedelta(seconds=i + 600)).isoformat(),
               "diagnosis_code": "GXY", "diagnosis_code_std": "I10", "diagnosis_code_std_system": systems.ICD10_CN_CLINICAL,
               "total_cost": f"{100 + i % 50}.50", "drug_cost": "20.00", "payment_method": "01",
               "_batch_id": "b1", "_file": "his/C1/x.csv", "_line": i + 2, "_message_id": None, "_source": "his",
               "_institution": "C1", "_partition_date": day}
        res = build_row("encounter", row)[0]
        recs.append({"id": res["id"], "resource_type": "Encounter", "person_key": row["person_key"],
                     "resource": json.dumps(res, ensure_ascii=False, separators=(",", ":")),
                     **{k: v for k, v in row.items() if k.startswith("_")}})
    path = lake / "fhir" / "parquet" / "Encounter" / "source=his" / "institution=C1" / f"date={day}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(recs), path)
    return path


def floor(path: Path, home: Path) -> float:
    import duckdb

    con = duckdb.connect(str(home / "floor.duckdb"))
    con.execute("CREATE TABLE t (id VARCHAR, resource_type VARCHAR, person_key VARCHAR, resource JSON, batch_id VARCHAR, "
                "source_file VARCHAR, source_line INTEGER, message_id VARCHAR, source VARCHAR, institution_code VARCHAR, "
                "partition_date DATE, loaded_at TIMESTAMP, PRIMARY KEY (resource_type, id))")
    t = time.perf_counter()
    con.execute(f"INSERT INTO t SELECT id, resource_type, person_key, CAST(resource AS JSON), _batch_id, _file, _line, "
                f"_message_id, _source, _institution, _partition_date, now() FROM read_parquet('{path}')")
    return time.perf_counter() - t


def day_files(settings: Settings, day: date) -> list[Path]:
    """The FHIR Parquet files of one day (every source and institution)."""
    return sorted((settings.fhir / "parquet").glob(f"*/source=*/institution=*/date={day.isoformat()}.parquet"))


def bench_day(day: date) -> dict:
    """Load every partition of ``day`` from RHP_HOME, then time the floor on the same files."""
    import resource
    import shutil

    from bench.floors import load_floor
    from transforms.pipeline import discover
    from transforms.settings import load_settings
    from transforms.warehouse.load import load_partition

    s = load_settings()
    store = marts = 0.0
    rows = changed = 0
    t, cpu = time.perf_counter(), time.process_time()
    for src, inst, d in discover(s, day):
        rep = load_partition(s, src, inst, d)
        store += rep.seconds_store
        marts += rep.seconds_marts
        rows += rep.rows_read
        changed += rep.changed
    total, cpu = time.perf_counter() - t, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    files = day_files(s, day)
    tmp = Path(tempfile.mkdtemp())
    for i, f in enumerate(files):  # the floor reads exactly the day's files
        dest = tmp / f"{i}" / f.name
        dest.parent.mkdir()
        shutil.copy(f, dest)
    floor_cpu = time.process_time()
    floor_s, floor_rows = load_floor(tmp)
    floor_cpu = time.process_time() - floor_cpu
    shutil.rmtree(tmp)
    return {"day": day.isoformat(), "rows": rows, "changed": changed, "seconds": round(total, 2),
            "store_s": round(store, 2), "marts_s": round(marts, 2), "floor_s": round(floor_s, 2),
            "floor_rows": floor_rows, "store_x": round(store / floor_s, 2), "marts_x": round(marts / floor_s, 2),
            "total_x": round(total / floor_s, 2), "peak_rss_mb": round(rss),
            # CPU seconds of this process (all threads): steadier than wall time on a shared machine
            "cpu_s": round(cpu, 1), "floor_cpu_s": round(floor_cpu, 1), "cpu_x": round(cpu / floor_cpu, 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--day", help="load this whole day from RHP_HOME instead of a generated partition")
    ap.add_argument("--url", help="warehouse URL for the one-partition mode (default: a fresh DuckDB file); a "
                                  "PostgreSQL database is dropped and recreated")
    args = ap.parse_args()
    if args.day:
        print(json.dumps(bench_day(date.fromisoformat(args.day))))
        return
    from transforms.warehouse.db import get_engine, migrate
    from transforms.warehouse.load import load_partition

    home = Path(tempfile.mkdtemp())
    url = args.url or f"duckdb:///{home / 'wh.duckdb'}"
    if url.startswith("postgresql"):
        from bench.run import _fresh_outputs

        _fresh_outputs(home, url)  # drops and recreates the database
    s = Settings(home=home, landing=home / "landing", lake=home / "lake", warehouse_url=url, key_file=home / "key")
    day = date(2024, 6, 15)
    t = time.perf_counter()
    path = write_rows(s.lake, args.rows, day)
    print(f"built {args.rows} Encounter resources in {time.perf_counter() - t:.1f}s")
    base = floor(path, home)
    migrate(get_engine(s.warehouse_url))
    rep = load_partition(s, "his", "C1", day)
    again = load_partition(s, "his", "C1", day)
    print(f"floor (bare DuckDB insert from parquet): {base:.2f}s")
    print(f"load_partition first: {rep.seconds:.2f}s = {rep.seconds / base:.1f}x floor "
          f"(store merge {rep.seconds_store:.2f}s = {rep.seconds_store / base:.1f}x; marts {rep.seconds_marts:.2f}s)")
    print(f"load_partition rerun (unchanged): {again.seconds:.2f}s = {again.seconds / base:.1f}x floor")


if __name__ == "__main__":
    main()
