"""Indicator declarations (``mappings/indicators/*.yaml``) and their schema.

An indicator is declared by a *base query*: one row per unit of counting (a visit, a
resident, a referral, ...) with the columns in ``BASE_COLUMNS``. Numerator and denominator
are sums over those rows, so the same rows serve every dimension, the SCD-2 group
attribution is done once by the engine, and the drill-down to contributing rows is the
base query itself. A declaration therefore never repeats grouping or attribution SQL.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from transforms.settings import MAPPINGS_DIR
from transforms.yamlio import load_yaml

INDICATORS_DIR = MAPPINGS_DIR / "indicators"
BASE_COLUMNS: tuple[str, ...] = ("row_id", "institution_code", "event_date", "person_key", "doctor_id", "team_id",
                                 "num", "den")
Dimension = Literal["region", "institution", "group", "district", "team", "doctor", "key_population"]
PeriodType = Literal["month", "quarter", "year"]
Unit = Literal["percent", "ratio", "days", "yuan", "count", "times"]
Direction = Literal["higher_better", "lower_better", "neutral"]
Family = Literal["family_doctor", "tiered_care", "chronic_disease", "hospital_operations", "recognition", "ehr"]


class Target(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float
    comparison: Literal[">=", "<="] = ">="
    note: str = ""


class Indicator(BaseModel):
    """One declared indicator."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$")
    version: int = 1
    name_zh: str
    name_en: str
    family: Family
    definition_zh: str
    definition_en: str
    source: str = Field(description="the policy it comes from, or 'proposed' where no source defines it")
    unit: Unit
    scale: float = Field(1.0, description="value = sum(num) / sum(den) * scale (100 for percent)")
    aggregate: Literal["ratio", "sum"] = "ratio"
    direction: Direction
    target: Target | None = None
    periods: list[PeriodType] = Field(default_factory=lambda: ["month", "quarter", "year"])
    dimensions: list[Dimension]
    params: dict[str, float | int | str] = Field(default_factory=dict)
    numerator_label: str
    denominator_label: str = ""
    base_sql: str
    notes: str = ""

    @field_validator("base_sql")
    @classmethod
    def _read_only(cls, v: str) -> str:
        head = v.strip().split(None, 1)[0].upper() if v.strip() else ""
        if head not in {"SELECT", "WITH"}:
            raise ValueError("base_sql must be a SELECT or WITH query")
        for word in (" INSERT ", " UPDATE ", " DELETE ", " DROP ", " ALTER ", ";"):
            if word in f" {v.upper()} ":
                raise ValueError(f"base_sql must be read-only, found {word.strip()!r}")
        return v

    @property
    def fingerprint(self) -> str:
        """Hash of the definition: a stored value names exactly which definition produced it."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:12]


def load_indicator(path: Path) -> Indicator:
    """Read one declaration; errors name the file and the field."""
    try:
        return Indicator.model_validate(load_yaml(path))
    except Exception as exc:
        raise ValueError(f"{path}: invalid indicator declaration: {exc}") from exc


def load_indicators(directory: Path = INDICATORS_DIR) -> dict[str, Indicator]:
    out: dict[str, Indicator] = {}
    for path in sorted(directory.glob("*.yaml")):
        ind = load_indicator(path)
        if ind.code in out:
            raise ValueError(f"{path}: duplicate indicator code {ind.code}")
        out[ind.code] = ind
    return out
