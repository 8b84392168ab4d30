"""The daily pipeline as plain functions: what a DAG task or the CLI calls.

Stages run per partition ``(source, institution, day)`` in one direction:
ingest → standardise → validate → fhir → load. Each stage is idempotent for its partition,
so a rerun, a backfill or a retry after a crash replaces rather than appends. Post-load
steps (code systems, 互认 index, indicators, quality report, feed) run once per day over
the whole warehouse.

Stage functions live in their own modules and are imported lazily: importing this module
costs nothing, and a DAG file that wires it parses in milliseconds.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from transforms.settings import Settings

PartitionStage = Literal["ingest", "standardise", "validate", "fhir", "load"]
PARTITION_STAGES: tuple[PartitionStage, ...] = ("ingest", "standardise", "validate", "fhir", "load")

_STAGE_FUNCS: dict[str, str] = {
    "ingest": "transforms.ingest.run:ingest_partition",
    "standardise": "transforms.standardise.run:standardise_partition",
    "validate": "transforms.validation.run:validate_partition",
    "fhir": "transforms.fhir.run:fhir_partition",
    "load": "transforms.warehouse.load:load_partition",
}

# Registry data (institutions, groups, staff) must land before the partitions that refer to it.
SOURCE_ORDER: tuple[str, ...] = ("registry", "public_health", "signing", "his", "lis", "pacs", "fhir")


@dataclass
class PartitionReport:
    """What every partition stage reports first: which stage ran on which partition."""

    stage: str
    source: str
    institution: str
    day: str


def _resolve(path: str) -> Callable[..., Any]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def report_as_dict(report: Any) -> dict[str, Any]:
    """Stage reports are dataclasses or dicts; callers (XCom, summaries) want plain dicts."""
    if report is None:
        return {}
    if dataclasses.is_dataclass(report):
        return {k: v for k, v in dataclasses.asdict(report).items() if _is_plain(v)}
    if isinstance(report, dict):
        return {k: v for k, v in report.items() if _is_plain(v)}
    return {k: v for k, v in vars(report).items() if not k.startswith("_") and _is_plain(v)}


def _is_plain(v: Any) -> bool:
    if isinstance(v, (str, int, float, bool, type(None))):
        return True
    if isinstance(v, (list, tuple)):
        return all(_is_plain(x) for x in v)
    if isinstance(v, dict):
        return all(isinstance(k, str) and _is_plain(x) for k, x in v.items())
    return False


def run_stage(stage: PartitionStage, settings: Settings, source: str, institution: str, day: date) -> dict[str, Any]:
    """Run one stage for one partition and return its report as a dict."""
    func = _resolve(_STAGE_FUNCS[stage])
    started = time.perf_counter()
    report = report_as_dict(func(settings, source, institution, day))
    report.setdefault("stage", stage)
    report.update(source=source, institution=institution, day=day.isoformat(),
                  seconds=round(time.perf_counter() - started, 3),
                  worker=os.environ.get("RHP_WORKER_NAME") or socket.gethostname(), pid=os.getpid())
    return report


def run_partition(settings: Settings, source: str, institution: str, day: date) -> list[dict[str, Any]]:
    """All partition stages for one partition, in order."""
    return [run_stage(s, settings, source, institution, day) for s in PARTITION_STAGES]


def discover(settings: Settings, day: date, source: str | None = None) -> list[tuple[str, str, date]]:
    """Landing partitions for ``day`` (optionally one source), registry first."""
    out: list[tuple[str, str, date]] = []
    root = settings.landing
    sources = [source] if source else [s.name for s in sorted(root.iterdir()) if s.is_dir()] if root.exists() else []
    for src in sorted(sources, key=lambda s: (SOURCE_ORDER.index(s) if s in SOURCE_ORDER else 99, s)):
        src_dir = root / src
        if not src_dir.is_dir():
            continue
        for inst in sorted(p for p in src_dir.iterdir() if p.is_dir()):
            if (inst / day.isoformat()).is_dir():
                out.append((src, inst.name, day))
    return out


@dataclass
class DayResult:
    day: date
    partitions: list[dict[str, Any]] = field(default_factory=list)
    post: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)


POST_LOAD_STEPS: tuple[tuple[str, str], ...] = (
    ("code_systems", "transforms.post_load:load_reference"),
    ("recognition_index", "transforms.post_load:refresh_recognition_index"),
    ("indicators", "transforms.post_load:compute_indicators"),
    ("quality_report", "transforms.post_load:build_quality_report"),
    ("ops_feed", "transforms.post_load:export_ops_feed"),
)


def run_post_load(settings: Settings, day: date, step: str) -> dict[str, Any]:
    """One post-load step over the warehouse (idempotent: each replaces its outputs)."""
    path = dict(POST_LOAD_STEPS)[step]
    return report_as_dict(_resolve(path)(settings, day))


def run_day(
    settings: Settings,
    day: date,
    progress: Callable[[str], None] = lambda msg: None,
    post_load: bool = True,
) -> DayResult:
    """Run every landed partition of ``day`` through every stage, then the post-load steps."""
    result = DayResult(day)
    parts = discover(settings, day)
    for i, (src, inst, d) in enumerate(parts, 1):
        for stage in PARTITION_STAGES:
            progress(f"[{day}] {i}/{len(parts)} {src}/{inst}: {stage}")
            try:
                result.partitions.append(run_stage(stage, settings, src, inst, d))
            except Exception as exc:  # one bad partition must not hide the others' results
                result.errors.append(f"{stage} {src}/{inst}/{d}: {type(exc).__name__}: {exc}")
                break
    if post_load:
        for step, _ in POST_LOAD_STEPS:
            progress(f"[{day}] post-load: {step}")
            try:
                result.post[step] = run_post_load(settings, day, step)
            except Exception as exc:
                result.errors.append(f"post-load {step}: {type(exc).__name__}: {exc}")
    return result
