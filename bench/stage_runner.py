"""Run one pipeline stage over every partition of a day, in its own process (for RSS and time).

    python -m bench.stage_runner --stage ingest --day 2026-11-01 [--workers 2] [--only H310101]
Prints one JSON line: stage, partitions, seconds, peak RSS (MB) of this process and its children.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import date

from transforms.pipeline import discover, run_stage
from transforms.settings import load_settings


def _one(args: tuple[str, str, str, str]) -> dict:
    stage, src, inst, day = args
    return run_stage(stage, load_settings(), src, inst, date.fromisoformat(day))  # type: ignore[arg-type]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", required=True)
    ap.add_argument("--day", required=True)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--only", default="", help="only institutions whose code starts with this (e.g. one district)")
    args = ap.parse_args()
    day = date.fromisoformat(args.day)
    parts = discover(load_settings(), day)
    jobs = [(args.stage, s, i, args.day) for s, i, _ in parts if i.startswith(args.only)]
    if args.stage == "load":  # one writer: the warehouse load is serial by design
        args.workers = 1
    t0 = time.perf_counter()
    if args.workers > 1:
        registry = [j for j in jobs if j[1] == "registry"]
        rest = [j for j in jobs if j[1] != "registry"]
        for j in registry:
            _one(j)
        with ProcessPoolExecutor(args.workers) as pool:
            list(pool.map(_one, rest))
    else:
        for j in jobs:
            _one(j)
    secs = time.perf_counter() - t0
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    print(json.dumps({"stage": args.stage, "partitions": len(jobs), "seconds": round(secs, 2),
                      "peak_rss_mb": round(rss / 1024, 1), "workers": args.workers}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
