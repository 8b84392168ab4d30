"""CLI: python -m transforms.synth --out DIR --start YYYY-MM-DD --days N --scale tiny|district|city."""

from __future__ import annotations

import argparse
import json
import time
from datetime import date
from pathlib import Path

from transforms.synth.generate import generate


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m transforms.synth", description=__doc__)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--start", required=True, type=date.fromisoformat)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--scale", choices=["tiny", "district", "city"], default="tiny")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--defect-rate", type=float, default=0.02)
    ap.add_argument("--skip-days", type=int, default=0,
                    help="leave out the first N days' files (e.g. the start-day snapshot); the registry is kept")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    summary = generate(a.out, a.start, a.days, a.scale, a.seed, a.defect_rate, a.skip_days)
    brief = {k: summary[k] for k in ("scale", "seed", "start", "days", "rows_generated", "defects_total")}
    brief["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(brief, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
