"""Which local dictionary (and profile formats) apply to a raw row.

Order: the first pin of ``mappings/sources/onboarding.yaml`` matching (source, institution glob),
as ingest resolves it, when it names a dictionary for the kind; else the ``dictionaries`` of the
profile that read the row (``_profile``). onboarding.yaml is owned by ingest and read defensively
(``pins:`` list, or an ``institutions:`` mapping keyed by code); a malformed file is a warning,
not a crash of every partition.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from transforms.sources.profile import SourceProfile, load_profile


@dataclass
class SourceConfig:
    profiles: dict[str, SourceProfile]
    pins: list[tuple[str | None, str, dict[str, str]]]  # (source or None = any, institution glob, dictionaries)
    warnings: list[str] = field(default_factory=list)

    def dictionary(self, kind: str, source: str, institution: str, profile_id: str | None) -> str | None:
        for pin_source, glob, dicts in self.pins:
            if pin_source in (None, source) and fnmatch.fnmatchcase(institution, glob):
                if kind in dicts:
                    return dicts[kind]
                break  # first matching pin wins, as in ingest
        prof = self.profiles.get(profile_id or "")
        return prof.dictionaries.get(kind) if prof else None

    def formats(self, profile_id: str | None, table: str) -> dict[str, str]:
        prof = self.profiles.get(profile_id or "")
        out: dict[str, str] = {}
        for spec in prof.files if prof else []:
            if spec.table == table:
                out.update(spec.formats)
        return out


def _pins(data: object) -> list[tuple[str | None, str, dict[str, str]]]:
    out: list[tuple[str | None, str, dict[str, str]]] = []
    if not isinstance(data, dict):
        return out
    for pin in data.get("pins") or []:
        if isinstance(pin, dict) and pin.get("institution") is not None:
            dicts = pin.get("dictionaries") if isinstance(pin.get("dictionaries"), dict) else {}
            out.append((pin.get("source"), str(pin["institution"]), {str(k): str(v) for k, v in dicts.items()}))
    inst = data.get("institutions")
    if isinstance(inst, dict):  # {code: {dictionaries: {...}}} or {code: {<source>: {dictionaries: {...}}}}
        for code, v in inst.items():
            if not isinstance(v, dict):
                continue
            if isinstance(v.get("dictionaries"), dict):
                out.append((v.get("source"), str(code), {str(k): str(d) for k, d in v["dictionaries"].items()}))
            for src_name, sub in v.items():
                if isinstance(sub, dict) and isinstance(sub.get("dictionaries"), dict):
                    out.append((str(src_name), str(code), {str(k): str(d) for k, d in sub["dictionaries"].items()}))
    return out


def load_source_config(sources_dir: Path) -> SourceConfig:
    """Profiles and onboarding pins; files that fail to load become warnings naming the file.

    Cached per folder until a file is added, removed or changed (mtime, size): the stage asks
    once per partition and parsing every profile cost ~60 ms each time.
    """
    files = sorted(sources_dir.glob("*.yaml")) if sources_dir.is_dir() else []
    fingerprint = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _load_source_config(sources_dir, fingerprint)


@lru_cache(maxsize=8)
def _load_source_config(sources_dir: Path, _fingerprint: tuple) -> SourceConfig:
    warnings: list[str] = []
    profiles: dict[str, SourceProfile] = {}
    for path in sorted(sources_dir.glob("*.yaml")) if sources_dir.is_dir() else []:
        if path.name == "onboarding.yaml":
            continue
        try:
            prof = load_profile(path)
            profiles[prof.id] = prof
        except Exception as exc:  # a broken profile is ingest's error; standardise falls back to defaults
            warnings.append(f"{path}: skipped: {exc}".splitlines()[0])
    pins: list[tuple[str | None, str, dict[str, str]]] = []
    onboarding = sources_dir / "onboarding.yaml"
    if onboarding.is_file():
        try:
            pins = _pins(yaml.safe_load(onboarding.read_text(encoding="utf-8")))
        except yaml.YAMLError as exc:
            warnings.append(f"{onboarding}: unreadable: {exc}".splitlines()[0])
    return SourceConfig(profiles, pins, warnings)
