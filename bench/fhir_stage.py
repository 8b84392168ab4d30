"""Whole FHIR stage on one synthetic lab partition: rows/s and peak memory.

Run: PYTHONPATH=. .venv/bin/python bench/fhir_stage.py [ROWS]
Writes ROWS standard lab_result rows (10 analytes per report, one lab order per report) to a
temp lake, then runs ``fhir_partition`` in a fresh process so its peak RSS is the stage's own,
and prints the time, the ratio to a floor (read + write the same rows as Parquet) and that
peak, which should stay nearly flat as ROWS grows (streaming).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

DAY = date(2026, 11, 1)


def stage_only(home: str) -> None:
    import pyarrow.parquet as pq

    from transforms.fhir.run import fhir_partition
    from transforms.settings import load_settings

    s = load_settings(home)
    src = next((s.standard / "lab_result").rglob("*.parquet"))
    pq.write_table(pq.read_table(src), Path(home) / "copy.parquet")  # warm-up
    t0 = time.perf_counter()
    pq.write_table(pq.read_table(src), Path(home) / "copy.parquet")
    floor = time.perf_counter() - t0
    t0 = time.perf_counter()
    rep = fhir_partition(s, "lis", "H1", DAY)
    dt = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = rep.rows_in
    print(f"rows={n} resources={sum(rep.resources.values())} {rep.resources}")
    print(f"fhir_partition {dt:.1f}s = {n / dt:,.0f} rows/s, {dt / floor:.0f}x floor ({floor:.2f}s); "
          f"peak RSS of the stage process {rss:.0f} MB; quarantined {rep.rows_quarantined}")


def main(n: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from fhir_validation import rows

    from transforms.settings import load_settings

    with tempfile.TemporaryDirectory() as home:
        s = load_settings(home)
        d = s.standard / "lab_result" / "source=lis" / "institution=H1" / f"date={DAY.isoformat()}"
        d.mkdir(parents=True)
        data = rows(n)
        for r in data:
            r["order_no"] = r["report_no"]
        pq.write_table(pa.Table.from_pylist(data), d / "b.parquet")
        del data
        env = {**os.environ, "RHP_PSEUDONYM_KEY": os.environ.get("RHP_PSEUDONYM_KEY", "bench")}
        subprocess.run([sys.executable, __file__, "--stage-only", home], check=True, env=env)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--stage-only":
        stage_only(sys.argv[2])
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
