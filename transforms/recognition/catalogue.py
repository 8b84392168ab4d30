"""The recognition rules as data: catalogue, institution qualifications, prices, re-test reasons.

Why files in ``mappings/recognition/`` and pydantic models: the windows, scopes and QC status
are published by regional QC organisations and change by notice, not by release. A bad row
fails loading with the file, line and field named, so a wrong edit never silently changes who
is recognised.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from transforms.settings import MAPPINGS_DIR

RECOGNITION_DIR = MAPPINGS_DIR / "recognition"

M = TypeVar("M", bound="BaseModel")
ItemKind = Literal["lab", "exam"]
Scope = Literal["region", "group"]
QcStatus = Literal["passed", "failed", "suspended"]


class RuleFileError(ValueError):
    """A row in a recognition mapping file is invalid; the message names file, line and field."""


def _blank_to_none(v: object) -> object:
    return None if isinstance(v, str) and v.strip() == "" else v


class CatalogueItem(BaseModel):
    """One recognisable item in one catalogue version."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    catalogue_version: str
    item_kind: ItemKind
    item_code: str
    hr_item_code: str | None = None
    value_type: Literal["numeric", "text", "image"]
    validity_days: int
    scope: Scope
    hr_scope_level: Literal["national", "province", "city", "group"]
    hr_region_code: str | None = None
    effective_from: date
    effective_to: date | None = None  # exclusive

    _blank = field_validator("hr_item_code", "hr_region_code", "effective_to", mode="before")(_blank_to_none)

    @field_validator("validity_days")
    @classmethod
    def _positive(cls, v: int) -> int:
        if v <= 0:
            raise ValueError("validity_days must be a positive number of days")
        return v

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on < self.effective_to)


class Qualification(BaseModel):
    """An institution's QC/EQA status for one item (or ``*lab`` / ``*exam``) over a period."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    institution_code: str
    item_code: str
    qc_status: QcStatus
    qc_organisation: str
    valid_from: date
    valid_to: date  # exclusive

    @model_validator(mode="after")
    def _ordered(self) -> Qualification:
        if self.valid_to <= self.valid_from:
            raise ValueError("valid_to must be after valid_from")
        return self

    def covers(self, item_code: str, item_kind: str, on: date) -> bool:
        wildcard = self.item_code == f"*{item_kind}"
        return (wildcard or self.item_code == item_code) and self.valid_from <= on < self.valid_to


class Price(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    item_code: str
    price_yuan: Decimal
    effective_from: date
    effective_to: date | None = None
    source_note: str | None = None

    _blank = field_validator("effective_to", "source_note", mode="before")(_blank_to_none)


class RetestReason(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    reason_code: str
    justified: bool
    source: str
    description_zh: str
    description_en: str


def _read_rows(path: Path, model: type[M]) -> list[M]:
    out: list[M] = []
    with path.open(encoding="utf-8", newline="") as fh:
        for line_no, row in enumerate(csv.DictReader(fh), start=2):
            try:
                out.append(model.model_validate(row))
            except ValidationError as exc:
                err = exc.errors()[0]
                field = ".".join(str(p) for p in err["loc"]) or "(row)"
                raise RuleFileError(
                    f"{path.name} line {line_no}: field '{field}' {err['msg']} (value {err.get('input')!r})"
                ) from exc
    return out


@dataclass(frozen=True)
class Rules:
    """Everything the recognition decision needs besides the data itself."""

    catalogue: tuple[CatalogueItem, ...]
    qualifications: tuple[Qualification, ...]
    prices: tuple[Price, ...]
    retest_reasons: dict[str, RetestReason]

    def item(self, code: str, on: date) -> CatalogueItem | None:
        """The catalogue entry in force on ``on`` for a unified item code or an HR item code."""
        for it in self.catalogue:
            if (it.item_code == code or it.hr_item_code == code) and it.in_force(on):
                return it
        return None

    def unified_code(self, code: str) -> str:
        """HR item codes resolve to the unified (LOINC / exam) code; others pass through."""
        for it in self.catalogue:
            if it.hr_item_code == code:
                return it.item_code
        return code

    def qualification(self, institution: str | None, item: CatalogueItem, on: date) -> Qualification | None:
        """The deciding qualification row: a failed/suspended row wins over a passed one."""
        rows = [q for q in self.qualifications
                if q.institution_code == institution and q.covers(item.item_code, item.item_kind, on)]
        bad = [q for q in rows if q.qc_status != "passed"]
        return (bad or rows or [None])[0]

    def price(self, item_code: str, on: date) -> Decimal | None:
        for p in self.prices:
            if p.item_code == item_code and p.effective_from <= on and (p.effective_to is None or on < p.effective_to):
                return p.price_yuan
        return None


def load_rules(directory: Path = RECOGNITION_DIR) -> Rules:
    """Read and validate all four files; raises RuleFileError naming the bad field."""
    reasons = _read_rows(directory / "retest_reasons.csv", RetestReason)
    return Rules(
        catalogue=tuple(_read_rows(directory / "catalogue.csv", CatalogueItem)),
        qualifications=tuple(_read_rows(directory / "qualifications.csv", Qualification)),
        prices=tuple(_read_rows(directory / "prices.csv", Price)),
        retest_reasons={r.reason_code: r for r in reasons},
    )


@lru_cache(maxsize=4)
def default_rules(directory: str = str(RECOGNITION_DIR)) -> Rules:
    """The rules from ``mappings/recognition`` loaded once per process."""
    return load_rules(Path(directory))
