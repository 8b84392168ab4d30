"""CSV ingest throughput and memory: ``ingest_partition`` on one large HIS extract.

Usage: ``PYTHONPATH=. .venv/bin/python -m bench.bench_ingest [--rows 300000]``

The file follows the ``his_vendor_a_csv`` profile (25 columns, UTF-8). Floor: one pass of
``csv.reader`` over the same file. Peak RSS is reported to show that memory is bounded by
the 50k-row record batches, not by the file size (run with two sizes to compare).
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from transforms.settings import MAPPINGS_DIR


def write_extract(path: Path, rows: int, seed: int = 3) -> None:
    from transforms.sources.profile import load_profile

    spec = load_profile(MAPPINGS_DIR / "sources" / "his_vendor_a_csv.yaml").spec_for("mz_jzjl_20260302.csv")
    header = list(spec.columns)
    rnd = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for i in range(rows):
            w.writerow([f"JZ{i:012d}", "H31011400101", f"P{rnd.randint(1, 10**6):07d}",
                        f"31011419{rnd.randint(50, 99)}0101{rnd.randint(1000, 9999)}", f"患者{i % 997}",
                        rnd.choice("12"), "1970-01-01", f"1380000{i % 10000:04d}", "门诊", "全科", "D001",
                        "2026-03-02 08:30:00", "2026-03-02 08:45:00", "I10", "高血压", "123.45", "80.00",
                        "20.00", "/", "23.45", "医保统筹", "310114", "1", "线下", ""][:len(header)])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=300_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RHP_HOME"] = tmp
        os.environ.setdefault("RHP_PSEUDONYM_KEY", "bench")
        from transforms.ingest.run import ingest_partition
        from transforms.settings import load_settings

        settings = load_settings()
        day = date(2026, 3, 2)
        folder = settings.landing / "his" / "H31011400101" / day.isoformat()
        folder.mkdir(parents=True)
        path = folder / "mz_jzjl_20260302.csv"
        write_extract(path, args.rows)
        size_mb = path.stat().st_size / 1e6
        t = time.process_time()
        with path.open(encoding="utf-8", newline="") as fh:
            for _ in csv.reader(fh):
                pass
        floor = time.process_time() - t
        import pyarrow

        pyarrow.array(["warm"])  # first use imports pandas (~1 s): not ingest work

        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        t = time.process_time()
        report = ingest_partition(settings, "his", "H31011400101", day)
        cpu = time.process_time() - t
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"rows {args.rows}, file {size_mb:.0f} MB; "
          f"floor csv.reader {floor:.2f} s CPU; ingest {cpu:.2f} s CPU = {cpu / floor:.1f}x floor, "
          f"{args.rows / cpu:,.0f} rows/s; peak RSS {peak:.0f} MB (before ingest {rss0:.0f} MB); "
          f"landed {report.rows_landed}, quarantined {report.rows_quarantined}")


if __name__ == "__main__":
    main()
