"""Whole FHIR stage on one synthetic lab partition: rows/s and peak memory.

Run: PYTHONPATH=. .venv/bin/python bench/fhir_stage.py [ROWS]
Writes ROWS standard lab_result rows (10 analytes per report) to a temp lake, runs
``fhir_partition`` and prints the time, the ratio to a floor (read + write the same rows as
Parquet) and the peak RSS, which must stay flat as ROWS grows (streaming).
"""

from __future__ import annotations

import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.settings import load_settings

DAY = date(2026, 11, 1)


def main(n: int = 10_000) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import os

    from fhir_validation import rows

    os.environ.setdefault("RHP_PSEUDONYM_KEY", "bench")
    with tempfile.TemporaryDirectory() as home:
        s = load_settings(home)
        d = s.standard / "lab_result" / "source=lis" / "institution=H1" / f"date={DAY.isoformat()}"
        d.mkdir(parents=True)
        data = rows(n)
        for r in data:
            r["order_no"] = r["report_no"]
        pq.write_table(pa.Table.from_pylist(data), d / "b.parquet")
        t0 = time.perf_counter()
        pq.write_table(pq.read_table(d / "b.parquet"), Path(home) / "copy.parquet")
        floor = time.perf_counter() - t0
        from transforms.fhir.run import fhir_partition

        t0 = time.perf_counter()
        rep = fhir_partition(s, "lis", "H1", DAY)
        dt = time.perf_counter() - t0
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"rows={n} resources={sum(rep.resources.values())} {rep.resources}")
        print(f"fhir_partition {dt:.1f}s = {n / dt:,.0f} rows/s, {dt / floor:.0f}x floor ({floor:.2f}s); "
              f"peak RSS {rss:.0f} MB; quarantined {rep.rows_quarantined}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
