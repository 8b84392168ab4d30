"""Warehouse load speed: load_partition vs a bare DuckDB insert of the same rows (the floor).

Run: PYTHONPATH=. .venv/bin/python -m bench.bench_warehouse_load --rows 100000
Builds one HIS partition of Encounter resources with the FHIR stage's builder, then times
(a) the floor: INSERT INTO a fresh fhir_resource-shaped table FROM read_parquet (resource cast to JSON);
(b) load_partition's store merge (staging, diff, audit, insert) and mart refresh, first load;
(c) the rerun (nothing changed).
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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    args = ap.parse_args()
    from transforms.warehouse.db import get_engine, migrate
    from transforms.warehouse.load import load_partition

    home = Path(tempfile.mkdtemp())
    s = Settings(home=home, landing=home / "landing", lake=home / "lake",
                 warehouse_url=f"duckdb:///{home / 'wh.duckdb'}", key_file=home / "key")
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
