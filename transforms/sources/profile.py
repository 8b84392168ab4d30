"""Source profiles: one vendor's or system's export, described as data.

A profile (``mappings/sources/*.yaml``) says which files in a landing date folder it
reads, in which format and encoding, and how each vendor column, JSON key or HL7 field
maps to a canonical field (``transforms.canonical``). Onboarding an institution that
uses a known vendor is configuration only: ``mappings/sources/onboarding.yaml`` names the
profile per (source, institution), and an institution that is not listed falls back to the
profiles whose file patterns match its files.

Bad configuration fails loudly with the field named (pydantic), never at row 50 000.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from transforms.canonical import TABLES
from transforms.yamlio import load_yaml

Format = Literal["csv", "xlsx", "hl7v2", "json", "ndjson", "fhir_ndjson", "fhir_bundle"]
Encoding = Literal["utf-8", "utf-8-sig", "gbk", "gb18030", "auto"]


class FileSpec(BaseModel):
    """One kind of file in the export and the canonical table it feeds."""

    model_config = ConfigDict(extra="forbid")

    pattern: str = Field(description="glob matched against the file name inside the date folder")
    table: str = Field(description="canonical table name")
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="vendor column / JSON key (dotted path) / HL7 path (e.g. OBX-3.1) -> canonical field",
    )
    constants: dict[str, str] = Field(default_factory=dict, description="canonical field -> fixed value")
    formats: dict[str, str] = Field(default_factory=dict, description="canonical field -> strptime format")
    records_path: str | None = Field(None, description="JSON: dotted path to the list of records")
    repeat_segment: str | None = Field(None, description="HL7: one canonical row per repetition, e.g. OBX")
    sheet: str | int | None = Field(None, description="XLSX: sheet name or index")
    null_values: list[str] = Field(default_factory=lambda: ["", "NULL", "null", "-"])
    not_applicable_values: list[str] = Field(default_factory=lambda: ["/"])

    @model_validator(mode="after")
    def _known_table_and_fields(self) -> FileSpec:
        if self.table not in TABLES:
            raise ValueError(f"table: unknown canonical table {self.table!r}")
        known = set(TABLES[self.table].field_names)
        for target in list(self.columns.values()) + list(self.constants) + list(self.formats):
            if target not in known:
                raise ValueError(f"columns: {target!r} is not a field of canonical table {self.table!r}")
        return self


class SourceProfile(BaseModel):
    """How to read one vendor's or system's export."""

    model_config = ConfigDict(extra="forbid")

    id: str
    version: int = 1
    source: str = Field(description="landing folder: his, lis, public_health, signing, registry, fhir")
    vendor: str
    description: str = ""
    format: Format
    encoding: Encoding = "auto"
    delimiter: str = ","
    files: list[FileSpec]
    hl7_one_patient_per_message: bool = Field(
        False, description="HL7: the sender sends one patient per message, so a second PID means a lost MSH",
    )
    dictionaries: dict[str, str] = Field(
        default_factory=dict,
        description="code kind (lab, diagnosis, drug, exam, vaccine) -> local dictionary id in mappings/concept_maps/<kind>/",
    )

    def spec_for(self, filename: str) -> FileSpec | None:
        """The file spec whose glob matches ``filename``, if any."""
        from fnmatch import fnmatch

        for spec in self.files:
            if fnmatch(filename, spec.pattern):
                return spec
        return None


def load_profile(path: Path) -> SourceProfile:
    """Read and validate one profile file; errors name the file and the field.

    Cached per (path, mtime, size): every partition of every stage looks profiles up, and
    re-parsing YAML each time cost more than reading a small partition.
    """
    st = path.stat()
    return _load_profile_cached(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _load_profile_cached(path_str: str, _mtime: int, _size: int) -> SourceProfile:
    path = Path(path_str)
    data = load_yaml(path)
    try:
        return SourceProfile.model_validate(data)
    except Exception as exc:  # pydantic.ValidationError: re-raise with the file named
        raise ValueError(f"{path}: invalid source profile: {exc}") from exc


def load_profiles(directory: Path) -> dict[str, SourceProfile]:
    """All profiles in ``directory`` keyed by id (onboarding.yaml is not a profile)."""
    out: dict[str, SourceProfile] = {}
    for path in sorted(directory.glob("*.yaml")):
        if path.name == "onboarding.yaml":
            continue
        prof = load_profile(path)
        if prof.id in out:
            raise ValueError(f"{path}: duplicate profile id {prof.id!r}")
        out[prof.id] = prof
    return out
