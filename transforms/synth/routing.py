"""Where a generated record goes: profile, file spec and dictionaries per institution.

Reads the same onboarding pins and submission calendar the pipeline reads, so what the
generator writes is exactly what the readers and the completeness report expect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatch
from functools import cache
from pathlib import Path
from typing import Any

from transforms.settings import MAPPINGS_DIR
from transforms.sources.calendar import Calendar, expected_submissions, load_calendar
from transforms.sources.profile import FileSpec, SourceProfile, load_profiles
from transforms.synth.defects import DefectLog
from transforms.synth.refdata import DATA, Dictionary, dictionary
from transforms.synth.writers import OutFile, write_manifest
from transforms.yamlio import load_yaml

HIS_ROLES = {"his_encounter": ("outpatient", "inpatient"), "his_diagnosis": ("diagnosis",),
             "his_prescription": ("prescription",)}


@cache
def profiles() -> dict[str, SourceProfile]:
    return load_profiles(MAPPINGS_DIR / "sources")


@cache
def pins() -> list[dict[str, Any]]:
    return load_yaml(MAPPINGS_DIR / "sources" / "onboarding.yaml")["pins"]


@cache
def calendar() -> Calendar:
    return load_calendar(MAPPINGS_DIR / "submission_calendar.yaml")


@cache
def _deliveries() -> dict[str, dict[str, str]]:
    return load_yaml(DATA / "deliveries.yaml")["his"]


def pin_for(source: str, institution: str) -> dict[str, Any]:
    for pin in pins():
        if pin["source"] == source and fnmatch(institution, pin["institution"]):
            return pin
    raise LookupError(f"onboarding.yaml has no pin for ({source}, {institution})")


def dictionaries_for(source: str, institution: str) -> dict[str, Dictionary]:
    pin = pin_for(source, institution)
    merged: dict[str, str] = {}
    for pid in pin["profiles"]:
        merged.update(profiles()[pid].dictionaries)
    merged.update(pin.get("dictionaries") or {})
    return {kind: dictionary(kind, did) for kind, did in merged.items()}


def spec_for(source: str, institution: str, *, table: str | None = None,
             pattern: str | None = None) -> tuple[SourceProfile, FileSpec]:
    for pid in pin_for(source, institution)["profiles"]:
        prof = profiles()[pid]
        for spec in prof.files:
            if (pattern and spec.pattern == pattern) or (table and not pattern and spec.table == table):
                return prof, spec
    raise LookupError(f"no profile pinned for ({source}, {institution}) writes {pattern or table}")


def his_pattern(institution: str, role: str) -> str | None:
    for glob, roles in _deliveries().items():
        if fnmatch(institution, glob):
            return roles.get(role)
    return None


@dataclass
class DayFiles:
    """The open files of one district-day, keyed by (source, institution, role/table)."""

    landing: Path
    day: date
    defects: DefectLog
    expected: set[tuple[str, str, str]] = field(default_factory=set)  # (source, inst, dataset)
    files: dict[tuple[str, str, str], OutFile | None] = field(default_factory=dict)

    def expect(self, institutions: list[dict[str, str]]) -> None:
        cal = calendar()
        for e in expected_submissions(cal, institutions, self.day):
            self.expected.add((e.source, e.institution, e.dataset))
            for role in self._roles(e.source, e.institution, e.dataset):
                self.get(e.source, e.institution, role)

    def _roles(self, source: str, inst: str, dataset: str) -> list[str]:
        if source == "his":
            return [r for r in HIS_ROLES[dataset] if his_pattern(inst, r)]
        return [calendar().dataset(dataset).table]

    def _dataset(self, source: str, role: str) -> str:
        for ds in calendar().datasets:
            if ds.source != source:
                continue
            if source == "his" and role in HIS_ROLES.get(ds.id, ()):
                return ds.id
            if source != "his" and ds.table == role:
                return ds.id
        raise LookupError(f"no calendar dataset for {source}/{role}")

    def get(self, source: str, inst: str, role: str) -> OutFile | None:
        """The open file for a record kind, or None when the calendar does not expect it."""
        key = (source, inst, role)
        if key in self.files:
            return self.files[key]
        ds_id = self._dataset(source, role)
        if (source, inst, ds_id) not in self.expected:
            self.files[key] = None
            return None
        if source == "his":
            pattern = his_pattern(inst, role)
            if pattern is None:
                self.files[key] = None
                return None
            prof, spec = spec_for(source, inst, pattern=pattern)
        else:
            prof, spec = spec_for(source, inst, table=role)
        ds = calendar().dataset(ds_id)
        f = OutFile(self.landing, prof, spec, inst, self.day, self.defects,
                    dictionaries_for(source, inst), ds.zero_report_required)
        self.files[key] = f
        return f

    def close(self) -> int:
        """Close every file and write one _manifest.json per date folder; returns files closed."""
        by_folder: dict[Path, dict[str, int]] = {}
        n = 0
        for f in self.files.values():
            if f is None:
                continue
            entries = f.close()
            n += 1
            by_folder.setdefault(f.folder, {}).update(entries)
        for folder, entries in by_folder.items():
            if entries:
                write_manifest(folder, entries)
            elif folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        self.files.clear()
        return n
