"""Synthetic generator cost per day, as a ratio to a plain CSV-writing floor.

Usage: ``PYTHONPATH=. .venv/bin/python -m bench.bench_synth [--scale tiny] [--days 3]``

Floor: writing the same number of rows (all tables together) as 20-column constant CSV
rows with ``csv.writer`` — the I/O any generator must pay. CPU time (process_time) is
reported next to wall time because the CI/dev machine is shared.
"""

from __future__ import annotations

import argparse
import csv
import platform
import resource
import tempfile
import time
from datetime import date
from pathlib import Path

from transforms.synth import generate


def floor(rows: int, out: Path) -> float:
    t0 = time.process_time()
    with (out / "floor.csv").open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        row = ["MZ0000120260302000001", "H31011400001", "P0881038160", "310104196805055967", "刘丽萍", "2",
               "1968-05-05", "19955588141", "门诊", "内分泌科", "H31011400001D0006", "2026-03-02 09:40:00",
               "2026-03-02 10:03:00", "A0024", "高血压性心脏病", "216.49", "73.59", "61.34", "6.16", "75.40"]
        for _ in range(rows):
            w.writerow(row)
    return time.process_time() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="tiny")
    ap.add_argument("--days", type=int, default=3)
    ap.add_argument("--defect-rate", type=float, default=0.02)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        generate(out / "warm", date(2026, 3, 2), 1, "tiny", 1, 0.0)  # imports, caches
        c0, w0 = time.process_time(), time.perf_counter()
        s = generate(out / "run", date(2026, 3, 2), a.days, a.scale, 42, a.defect_rate)
        cpu, wall = time.process_time() - c0, time.perf_counter() - w0
        rows = sum(s["rows_generated"].values())
        fl = floor(rows, out)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"scale={a.scale} days={a.days} rows={rows} encounters={s['rows_generated'].get('encounter', 0)}")
    print(f"generate: cpu {cpu:.2f} s, wall {wall:.2f} s, {rows / cpu:,.0f} rows/cpu-s, peak RSS {rss:.0f} MB")
    print(f"floor (csv.writer, same rows): cpu {fl:.2f} s -> ratio {cpu / fl:.1f}x floor")


if __name__ == "__main__":
    main()
