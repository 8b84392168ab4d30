"""Run one pipeline stage over every partition of a day, in its own process (for RSS and time).

    python -m bench.stage_runner --stage ingest --day 2026-11-01 [--workers 2] [--only H310101]
    python -m bench.stage_runner --stage fhir --then load --day 2026-11-02 --workers 2

Prints one JSON line: stage, partitions, seconds, peak RSS (MB) of this process and its children,
and the stage's own split of its time summed over partitions (``seconds_*`` of the reports).

``--then load`` pipelines the load behind the stage as the production DAGs do: each partition
is loaded by the one warehouse writer as soon as its FHIR output is ready, while the workers
map the next partitions (the load is serial by design, so run after the FHIR stage it would
leave the second core idle).
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from datetime import date

from transforms.pipeline import discover, run_stage
from transforms.settings import load_settings

Job = tuple[str, str, str, str]  # stage, source, institution, day


def _one(args: Job) -> dict:
    stage, src, inst, day = args
    return run_stage(stage, load_settings(), src, inst, date.fromisoformat(day))  # type: ignore[arg-type]


def _split(reports: list[dict]) -> dict[str, float]:
    """Sum the reports' ``seconds_*`` fields (e.g. the load's seconds_store / seconds_marts)."""
    parts: dict[str, float] = {}
    for rep in reports:
        for k, v in rep.items():
            if k.startswith("seconds_") and isinstance(v, (int, float)):
                parts[k] = parts.get(k, 0.0) + v
    return {k: round(v, 2) for k, v in sorted(parts.items())}


def _run(jobs: list[Job], workers: int, then: str | None) -> tuple[list[dict], list[dict], float | None]:
    """Reports of the stage, of the pipelined ``then`` stage, and when the last stage job ended."""
    registry = [j for j in jobs if j[1] == "registry"]  # reference data first, as the DAGs order it
    rest = [j for j in jobs if j[1] != "registry"]
    reports: list[dict] = []
    followers: list[Future] = []
    t0 = time.perf_counter()
    with ProcessPoolExecutor(1) as writer, ProcessPoolExecutor(max(workers, 1)) as pool:
        def follow(job: Job) -> None:
            if then:
                followers.append(writer.submit(_one, (then, *job[1:])))

        for j in registry:
            reports.append(_one(j))
            follow(j)
        if workers > 1:
            futures = {pool.submit(_one, j): j for j in rest}
            for f in as_completed(futures):
                reports.append(f.result())
                follow(futures[f])
        else:
            for j in rest:
                reports.append(_one(j))
                follow(j)
        stage_done = time.perf_counter() - t0
        then_reports = [f.result() for f in followers]
    return reports, then_reports, stage_done if then else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", required=True)
    ap.add_argument("--then", choices=["load"], default=None,
                    help="pipeline this stage behind --stage, one partition at a time, in one writer process")
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
    reports, then_reports, stage_done = _run(jobs, args.workers, args.then)
    secs = time.perf_counter() - t0
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    out = {"stage": args.stage + (f"+{args.then}" if args.then else ""), "partitions": len(jobs),
           "seconds": round(secs, 2), "peak_rss_mb": round(rss / 1024, 1), "workers": args.workers, **_split(reports)}
    if args.then:
        out.update({f"{args.stage}_done_seconds": round(stage_done or 0.0, 2),
                    f"{args.stage}_partition_seconds": round(sum(r["seconds"] for r in reports), 2),
                    f"{args.then}_partition_seconds": round(sum(r["seconds"] for r in then_reports), 2),
                    **{f"{args.then}_{k}": v for k, v in _split(then_reports).items()}})
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
