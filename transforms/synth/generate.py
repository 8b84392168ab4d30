"""Entry point: generate a synthetic region's landing zone for a date range.

Output: ``<out>/landing/<source>/<institution>/<YYYY-MM-DD>/`` files with a
``_manifest.json`` each, ``<out>/_defects_manifest.json`` (ground truth of every injected
defect) and ``<out>/_synth_manifest.json`` (what was generated).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from transforms.synth.defects import DefectLog, arrival
from transforms.synth.events import Day, run_district_day
from transforms.synth.refdata import scales
from transforms.synth.region import District, build_district, municipal_hospitals
from transforms.synth.routing import DayFiles, spec_for
from transforms.synth.writers import OutFile

Scale = Literal["tiny", "district", "city"]


def move_date(start: date, days: int) -> date:
    """The day 真新 CHC changes group: inside the window (its middle), or its start."""
    return start + timedelta(days=days // 2)


def write_registry(landing: Path, d: District, start: date, log: DefectLog) -> dict[str, int]:
    """Registry CSVs delivered on the start date (never defect-injected: it is reference data)."""
    clean = DefectLog(log.seed, 0.0)
    rows: dict[str, list[dict[str, Any]]] = {
        "institution": [
            {"institution_code": i.code, "name": i.name, "uscc": i.uscc, "inst_type": i.inst_type,
             "level": i.level, "grade": i.grade, "parent_code": i.parent_code, "division_code": i.division_code,
             "beds": i.beds, "is_primary_care": i.is_primary_care}
            for i in [*d.institutions, *municipal_hospitals()]],
        "medical_group": d.groups,
        "group_membership": [
            {"institution_code": m.institution_code, "group_code": m.group_code, "role": m.role,
             "valid_from": m.valid_from, "valid_to": m.valid_to} for m in d.memberships],
        "practitioner": [
            {"practitioner_id": p.practitioner_id, "name": p.name, "sex_code": p.sex_code,
             "institution_code": p.institution_code, "title": p.title, "is_gp": p.is_gp,
             "team_id": p.team_id or None, "team_role": p.team_role or None} for p in d.practitioners],
        "team": d.teams,
    }
    entries: dict[str, int] = {}
    folder = None
    for table, items in rows.items():
        prof, spec = spec_for("registry", d.code, table=table)
        f = OutFile(landing, prof, spec, d.code, start, clean, {}, True)
        for row in items:
            f.write(row)
        entries.update(f.close())
        folder = f.folder
    if folder is not None:
        from transforms.synth.writers import write_manifest

        write_manifest(folder, entries)
    return {t: len(v) for t, v in rows.items()}


def generate(out: Path, start: date, days: int, scale: str = "tiny", seed: int = 42,
             defect_rate: float = 0.02, skip_days: int = 0) -> dict[str, Any]:
    """Write the landing zone; deterministic for the arguments; returns the manifest summary.

    ``skip_days`` leaves out the first days' files (the registry is still written on
    ``start``): each day is derived from the seed alone, so a later day comes out the same
    without its predecessors. It lets a benchmark produce one city *daily* day without
    first writing the one-off snapshot of 25 M health records.
    """
    if scale not in scales():
        raise ValueError(f"unknown scale {scale!r}; known: {sorted(scales())}")
    if days < 1:
        raise ValueError("days must be >= 1")
    if not 0 <= skip_days < days:
        raise ValueError("skip_days must be in [0, days)")
    if not 0 <= defect_rate < 1:
        raise ValueError("defect_rate must be in [0, 1)")
    out = Path(out)
    landing = out / "landing"
    landing.mkdir(parents=True, exist_ok=True)
    log = DefectLog(seed, defect_rate)
    counts: dict[str, int] = {}
    registry: dict[str, dict[str, int]] = {}
    institutions: list[dict[str, str]] = []
    files = 0
    for dcode in scales()[scale]["districts"]:
        d = build_district(seed, dcode, scale, move_date(start, days))
        registry[dcode] = write_registry(landing, d, start, log)
        institutions += [{"institution_code": i.code, "name": i.name, "inst_type": i.inst_type,
                          "parent_code": i.parent_code} for i in d.institutions]
        for n in range(skip_days, days):
            day = start + timedelta(days=n)
            df = DayFiles(landing, day, log)
            df.expect([i.as_row() for i in d.institutions])
            ctx = Day(seed, d, day, start, scale, df)
            run_district_day(ctx)
            files += df.close()
            for t, c in ctx.counts.items():
                counts[t] = counts.get(t, 0) + c
    for folder in landing.glob("registry/*/*"):
        t = arrival(start)
        for p in folder.iterdir():
            import os

            os.utime(p, (t, t))
    defect_counts = log.write(out)
    summary = {"scale": scale, "seed": seed, "start": start.isoformat(), "days": days, "skip_days": skip_days,
               "defect_rate": defect_rate, "districts": list(scales()[scale]["districts"]),
               "institutions": institutions, "registry_rows": registry, "rows_generated": dict(sorted(counts.items())),
               "files_opened": files, "defects": defect_counts, "counts": defect_counts, "defects_total": sum(defect_counts.values())}
    (out / "_synth_manifest.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary
