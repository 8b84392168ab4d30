"""The check catalogue (``expectations/catalogue.csv``): checks are data, check types are code.

Long form, one row per check, so a threshold change touches one row and adding a check
edits data only. A bad row fails at load time with the row number and the field named
(pydantic), never half-way through a validation run.
"""

from __future__ import annotations

import csv
import json
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from transforms.canonical import TABLES
from transforms.settings import EXPECTATIONS_DIR

CheckType = Literal[
    "not_null", "in_set", "regex", "not_regex", "between", "pair_order", "date_span",
    "decimals", "unique", "sum_le", "foreign_key", "near_duplicate",
]
Category = Literal["Conformance", "Completeness", "Plausibility"]
Severity = Literal["error", "warning"]

# Warehouse mart names, as fixed by docs/contracts.md ("Warehouse marts").
MART_TABLES: tuple[str, ...] = (
    "dim_institution", "dim_group", "dim_group_membership", "dim_practitioner", "dim_team", "dim_person",
    "dim_date", "fact_encounter", "fact_diagnosis", "fact_lab_result", "fact_exam_report",
    "fact_prescription", "fact_immunization", "fact_followup", "fact_signing", "fact_referral",
)
CATALOGUE_PATH = EXPECTATIONS_DIR / "catalogue.csv"
CSV_COLUMNS = ("check_id", "table", "fields", "check_type", "params", "category", "severity",
               "threshold", "doc")

# Which params each check type needs (required) and accepts (optional); "where" is always optional.
_PARAMS: dict[str, tuple[set[str], set[str]]] = {
    "not_null": (set(), set()),
    "in_set": ({"values"}, set()),
    "regex": ({"pattern"}, set()),
    "not_regex": ({"pattern"}, set()),
    "between": (set(), {"min", "max"}),
    "pair_order": ({"op"}, set()),
    "date_span": ({"min_days", "max_days"}, set()),
    "decimals": ({"places"}, set()),
    "unique": (set(), set()),
    "sum_le": (set(), {"max", "max_field", "tolerance"}),
    "foreign_key": ({"ref_table", "ref_field"}, set()),
    "near_duplicate": ({"time_field", "id_field", "within_minutes"}, set()),
}
_FIELD_COUNT: dict[str, tuple[int, int]] = {  # (min, max) number of fields per check type
    "pair_order": (2, 2), "date_span": (2, 2), "unique": (1, 8), "sum_le": (1, 8), "near_duplicate": (1, 8),
}


class Check(BaseModel):
    """One catalogue row."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    check_id: str = Field(pattern=r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")
    table: str
    fields: tuple[str, ...]
    check_type: CheckType
    params: dict[str, Any] = Field(default_factory=dict)
    category: Category
    severity: Severity
    threshold: float = Field(ge=0, le=100, description="max failing % of rows for the check to pass")
    doc: str = ""

    @field_validator("table")
    @classmethod
    def _known_table(cls, v: str) -> str:
        if v not in TABLES and v not in MART_TABLES:
            raise ValueError(f"unknown table {v!r}: not a canonical table nor a mart in docs/contracts.md")
        return v

    @field_validator("fields", mode="before")
    @classmethod
    def _split_fields(cls, v: Any) -> Any:
        if isinstance(v, str):
            return tuple(f.strip() for f in v.split(";") if f.strip())
        return v

    @field_validator("params", mode="before")
    @classmethod
    def _parse_params(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                return json.loads(v) if v.strip() else {}
            except json.JSONDecodeError as exc:
                raise ValueError(f"params is not valid JSON: {exc}") from None
        return v

    @model_validator(mode="after")
    def _shape(self) -> Check:
        lo, hi = _FIELD_COUNT.get(self.check_type, (1, 1))
        if not lo <= len(self.fields) <= hi:
            raise ValueError(f"fields: {self.check_type} takes {lo}..{hi} field(s), got {list(self.fields)}")
        required, optional = _PARAMS[self.check_type]
        missing = required - set(self.params)
        unknown = set(self.params) - required - optional - {"where"}
        if missing:
            raise ValueError(f"params: {self.check_type} needs {sorted(missing)}")
        if unknown:
            raise ValueError(f"params: {self.check_type} does not take {sorted(unknown)}")
        if self.check_type == "pair_order" and self.params["op"] not in (">=", ">"):
            raise ValueError("params: pair_order op must be '>=' or '>'")
        if self.check_type == "sum_le" and ("max" in self.params) == ("max_field" in self.params):
            raise ValueError("params: sum_le needs exactly one of 'max' or 'max_field'")
        if self.check_type == "in_set" and not isinstance(self.params["values"], list):
            raise ValueError("params: in_set values must be a list")
        if not isinstance(self.params.get("where", {}), dict):
            raise ValueError("params: where must be an object {field: value or [values]}")
        return self

    @property
    def referenced_columns(self) -> list[str]:
        cols = list(self.fields) + list(self.params.get("where", {}))
        if "max_field" in self.params:
            cols.append(self.params["max_field"])
        for key in ("time_field", "id_field"):
            if key in self.params:
                cols.append(self.params[key])
        return list(dict.fromkeys(cols))


class CatalogueError(ValueError):
    """A catalogue row is invalid; the message names the file, row and field."""


def parse_rows(rows: list[dict[str, str]], source: str = "catalogue") -> list[Check]:
    """Validate raw rows; the first bad row raises with its row number and field."""
    checks: list[Check] = []
    seen: set[str] = set()
    for i, row in enumerate(rows, start=2):  # row 1 is the CSV header
        try:
            check = Check(**{k: v for k, v in row.items() if k in CSV_COLUMNS})
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "row"
            raise CatalogueError(f"{source} row {i} ({row.get('check_id')}): {where}: {err['msg']}") from None
        if check.check_id in seen:
            raise CatalogueError(f"{source} row {i}: check_id: duplicate {check.check_id!r}")
        seen.add(check.check_id)
        checks.append(check)
    return checks


def load_catalogue(path: Path | str = CATALOGUE_PATH) -> list[Check]:
    """Read and validate the catalogue CSV; cached until the file changes (mtime, size), because
    the stage asks for it once per partition and validating ~300 rows cost ~30 ms each time."""
    path = Path(path)
    st = path.stat()
    return list(_load_catalogue(path.resolve(), st.st_mtime_ns, st.st_size))


@lru_cache(maxsize=8)
def _load_catalogue(path: Path, _mtime_ns: int, _size: int) -> tuple[Check, ...]:
    with path.open(encoding="utf-8", newline="") as fh:
        return tuple(parse_rows(list(csv.DictReader(fh)), source=str(path.name)))


def checks_for(catalogue: list[Check], table: str) -> list[Check]:
    return [c for c in catalogue if c.table == table]
