"""Which local dictionary (and profile formats) apply to a raw row.

Order: the per-institution pin in ``mappings/sources/onboarding.yaml``, then the ``dictionaries``
of the profile that read the row (``_profile``). onboarding.yaml is owned by ingest; it is read
defensively (mapping keyed by institution, or a list of entries), and a malformed file is a
warning, not a crash of every partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from transforms.sources.profile import SourceProfile, load_profile


@dataclass
class SourceConfig:
    profiles: dict[str, SourceProfile]
    pins: dict[tuple[str | None, str], dict[str, str]]  # (source or None, institution) -> kind -> dictionary
    warnings: list[str] = field(default_factory=list)

    def dictionary(self, kind: str, source: str, institution: str, profile_id: str | None) -> str | None:
        for key in ((source, institution), (None, institution)):
            if kind in self.pins.get(key, {}):
                return self.pins[key][kind]
        prof = self.profiles.get(profile_id or "")
        return prof.dictionaries.get(kind) if prof else None

    def formats(self, profile_id: str | None, table: str) -> dict[str, str]:
        prof = self.profiles.get(profile_id or "")
        out: dict[str, str] = {}
        for spec in prof.files if prof else []:
            if spec.table == table:
                out.update(spec.formats)
        return out


def _pins(data: object, warnings: list[str]) -> dict[tuple[str | None, str], dict[str, str]]:
    out: dict[tuple[str | None, str], dict[str, str]] = {}
    if not isinstance(data, dict):
        return out
    inst = data.get("institutions", data.get("onboarding"))
    entries: list[tuple[str | None, str, dict]] = []
    if isinstance(inst, dict):
        for code, v in inst.items():
            if isinstance(v, dict):
                entries.append((v.get("source"), str(code), v))
    elif isinstance(inst, list):
        for v in inst:
            if isinstance(v, dict) and (v.get("institution") or v.get("institution_code")):
                entries.append((v.get("source"), str(v.get("institution") or v.get("institution_code")), v))
    for source, code, v in entries:
        dicts = v.get("dictionaries")
        if isinstance(dicts, dict):
            out.setdefault((source, code), {}).update({str(k): str(d) for k, d in dicts.items()})
        for src_name, sub in v.items():  # {his: {profile: x, dictionaries: {...}}}
            if isinstance(sub, dict) and isinstance(sub.get("dictionaries"), dict):
                out.setdefault((src_name, code), {}).update({str(k): str(d) for k, d in sub["dictionaries"].items()})
    return out


def load_source_config(sources_dir: Path) -> SourceConfig:
    """Profiles and onboarding pins; files that fail to load become warnings naming the file."""
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
    pins: dict[tuple[str | None, str], dict[str, str]] = {}
    onboarding = sources_dir / "onboarding.yaml"
    if onboarding.is_file():
        try:
            pins = _pins(yaml.safe_load(onboarding.read_text(encoding="utf-8")), warnings)
        except yaml.YAMLError as exc:
            warnings.append(f"{onboarding}: unreadable: {exc}".splitlines()[0])
    return SourceConfig(profiles, pins, warnings)
