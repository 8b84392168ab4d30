"""Standardise cost per lab row, as a ratio to the floor (read raw parquet + write it back).

Usage: ``PYTHONPATH=. .venv/bin/python -m bench.bench_standardise [--rows 20000] [--people 2000]``

Synthetic raw lab_result partition: ``--rows`` rows over ``--people`` residents (valid 18-digit IDs,
10 % without ID so demographic linking runs), items from the lis_b dictionary plus 5 % unmapped,
half the glucose in mg/dL. Runs in a temporary home with a DuckDB warehouse.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import tempfile
import time
from datetime import date
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--people", type=int, default=2000)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_std_"))
    os.environ["RHP_HOME"] = str(tmp)
    os.environ.setdefault("RHP_PSEUDONYM_KEY", "bench-key")
    import pandas as pd

    from transforms.canonical import LINEAGE_FIELDS, TABLES
    from transforms.identity.resident_id import check_char
    from transforms.settings import load_settings
    from transforms.standardise.run import partition_dir, standardise_partition
    from transforms.terminology.codeset import load_codeset

    rnd = random.Random(7)
    s = load_settings()
    day = date(2026, 3, 1)
    items = list(load_codeset().concept_map("lab", "lis_b").values())
    people = []
    for i in range(args.people):
        body = f"110105{1940 + i % 60}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
        people.append((body + check_char(body), f"居民{i}", "1" if int(body[16]) % 2 else "2",
                       f"{body[6:10]}-{body[10:12]}-{body[12:14]}", f"139{i:08d}"))
    rows = []
    for n in range(args.rows):
        pid, name, sex, birth, phone = people[rnd.randrange(len(people))]
        it = items[rnd.randrange(len(items))]
        code = it.source_code if rnd.random() > 0.05 else f"X-{rnd.randrange(20)}"
        rows.append({"report_no": f"R{n // 10}", "institution_code": "H1", "item_code": code,
                     "item_name": it.source_display, "value": f"{rnd.uniform(1, 200):.1f}", "unit": it.unit,
                     "ref_range": None, "result_status": "F", "report_time": "20260301083000",
                     "id_number": pid if rnd.random() > 0.1 else None, "patient_name": name, "sex_code": sex,
                     "birth_date": birth, "phone": phone})
    cols = TABLES["lab_result"].field_names + [f.name for f in LINEAGE_FIELDS]
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols, dtype="string")
    df["_batch_id"], df["_source"], df["_profile"], df["_institution"] = "b1", "lis", "none", "H1"
    df["_partition_date"], df["_file"], df["_record_hash"] = day.isoformat(), "f.csv", "h"
    df["_line"] = [str(i + 2) for i in range(len(df))]
    out = partition_dir(s.raw, "lab_result", "lis", "H1", day)
    out.mkdir(parents=True)
    df.to_parquet(out / "b1.parquet")
    t0 = time.perf_counter()
    pd.read_parquet(out / "b1.parquet").to_parquet(tmp / "floor.parquet")
    floor = time.perf_counter() - t0
    standardise_partition(s, "lis", "H1", day)  # warm-up: migrations, code set load
    t0 = time.perf_counter()
    rep = standardise_partition(s, "lis", "H1", day)
    took = time.perf_counter() - t0
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpu, python {platform.python_version()}")
    print(f"rows {rep.rows_in}, link methods {rep.link_methods}")
    print(f"floor (read+write parquet) {floor:.3f}s; standardise {took:.3f}s = {took / floor:.0f}x floor; "
          f"{rep.rows_in / took:,.0f} rows/s")


if __name__ == "__main__":
    main()
