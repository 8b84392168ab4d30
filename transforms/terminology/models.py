"""Pydantic models for the reviewed terminology files, and loaders that name the bad cell.

Why models: concept maps are edited by hand and by the ``suggest --accept`` command; a typo
must fail when the file is loaded, with the file, the CSV line and the field in the message,
never as a silent miss at standardise time.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from transforms.terminology import systems

Equivalence = Literal["equivalent", "equal", "wider", "narrower", "inexact", "relatedto", "unmatched"]


class TerminologyFileError(ValueError):
    """A terminology file is malformed; the message names file, line and field."""


class ConceptMapRow(BaseModel):
    """One reviewed local → target mapping (one CSV row of mappings/concept_maps/<kind>/<dict>.csv)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    map_id: str = Field(min_length=1)
    map_version: str = Field(pattern=r"^\d{4}\.\d+$")
    source_system: str = Field(min_length=1, description="local dictionary id, e.g. lis_c")
    source_code: str = Field(min_length=1)
    source_display: str = ""
    target_system: str = Field(min_length=1)
    target_code: str = Field(min_length=1)
    target_display: str = ""
    equivalence: Equivalence
    unit: str | None = None
    ref_low: float | None = None
    ref_high: float | None = None
    hr_item_code: str | None = None
    reviewed_by: str = Field(min_length=1)
    source: str = ""

    @field_validator("unit", "ref_low", "ref_high", "hr_item_code", mode="before")
    @classmethod
    def _blank_is_none(cls, v: object) -> object:
        return None if v == "" else v

    @field_validator("target_system")
    @classmethod
    def _known_system(cls, v: str) -> str:
        if v not in known_system_uris():
            raise ValueError(f"target_system {v!r} is not a constant in transforms/terminology/systems.py")
        return v


class Concept(BaseModel):
    """One concept of a target code system or value domain."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    code: str = Field(min_length=1)
    display: str = Field(min_length=1)
    display_en: str = ""
    aliases: str = ""

    @property
    def alias_list(self) -> list[str]:
        return [a for a in self.aliases.split("|") if a]

    @property
    def properties(self) -> dict[str, str]:
        return {k: v for k, v in (self.model_extra or {}).items() if v not in (None, "")}


class CodeSystem(BaseModel):
    """A loaded code system: its URI, version, kind and concepts."""

    name: str
    system: str
    version: str
    kind: str = ""
    fields: list[str] = Field(default_factory=list)
    concepts: list[Concept]

    def by_code(self) -> dict[str, Concept]:
        return {c.code: c for c in self.concepts}


def known_system_uris() -> set[str]:
    return {v for k, v in vars(systems).items() if k.isupper() and isinstance(v, str)}


def system_uri(constant: str, where: str) -> str:
    """Resolve a systems.py constant name; ``where`` names the file for the error."""
    value = getattr(systems, constant, None)
    if not isinstance(value, str):
        raise TerminologyFileError(f"{where}: system {constant!r} is not a constant in systems.py")
    return value


def _format_error(path: Path, line: int, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(x) for x in err["loc"]) or "(row)"
        parts.append(f"field {loc!r}: {err['msg']} (value {err.get('input')!r})")
    return f"{path}: line {line}: " + "; ".join(parts)


def _read_csv(path: Path) -> list[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        rows = []
        for row in reader:
            if None in row:
                raise TerminologyFileError(f"{path}: line {reader.line_num}: more cells than header columns")
            rows.append((reader.line_num, {k: (v if v is not None else "") for k, v in row.items()}))
        return rows


def load_concept_map(path: Path) -> list[ConceptMapRow]:
    """Read one concept-map CSV; a bad row raises with file, line and field named."""
    out: list[ConceptMapRow] = []
    seen: dict[str, int] = {}
    for line, raw in _read_csv(path):
        try:
            row = ConceptMapRow.model_validate(raw)
        except ValidationError as exc:
            raise TerminologyFileError(_format_error(path, line, exc)) from None
        if row.source_code in seen:
            raise TerminologyFileError(
                f"{path}: line {line}: field 'source_code': {row.source_code!r} already mapped at line "
                f"{seen[row.source_code]}"
            )
        seen[row.source_code] = line
        out.append(row)
    return out


def _load_concepts(path: Path, display_col: str = "display") -> list[Concept]:
    out = []
    for line, raw in _read_csv(path):
        if display_col != "display" and display_col in raw:
            raw = {**raw, "display": raw.pop(display_col)}
        try:
            out.append(Concept.model_validate(raw))
        except ValidationError as exc:
            raise TerminologyFileError(_format_error(path, line, exc)) from None
    codes = [c.code for c in out]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise TerminologyFileError(f"{path}: duplicate code(s) {dupes}")
    return out


def load_code_system_files(codesystems_dir: Path) -> dict[str, CodeSystem]:
    """Target code systems (``_index.yaml``) and value domains (``value_domains/_index.yaml``)."""
    out: dict[str, CodeSystem] = {}
    index = codesystems_dir / "_index.yaml"
    for fname, meta in (yaml.safe_load(index.read_text(encoding="utf-8")) or {}).items():
        path = codesystems_dir / fname
        name = Path(fname).stem
        out[name] = CodeSystem(
            name=name, system=system_uri(meta["system"], str(index)), version=str(meta["version"]),
            kind=meta.get("kind", ""), concepts=_load_concepts(path, "display_zh"),
        )
    vd_index = codesystems_dir / "value_domains" / "_index.yaml"
    for name, meta in (yaml.safe_load(vd_index.read_text(encoding="utf-8")) or {}).items():
        path = codesystems_dir / "value_domains" / f"{name}.csv"
        out[name] = CodeSystem(
            name=name, system=system_uri(meta["system"], str(vd_index)), version=str(meta["version"]),
            kind="value_domain", fields=list(meta.get("fields") or []), concepts=_load_concepts(path),
        )
    return out
