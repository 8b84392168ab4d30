"""Lab unit normalisation driven by ``mappings/units.csv`` (analyte, from_unit, to_unit, factor).

Why a table: which conversions are valid depends on the analyte (mg/dL → mmol/L differs for
glucose and cholesterol), and reviewers must be able to read and extend it without code.
Only spelling is normalised in code (µ/μ → u, ^ → *, ×10 → 10, case of the litre).
A pair with no row is ``unconvertible`` and the value is kept in its original unit.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

UnitStatus = Literal["normalised", "unconvertible", "no_value"]


def norm_unit(unit: str | None) -> str | None:
    """Canonical spelling of a unit string, for comparison only."""
    if unit is None:
        return None
    u = unicodedata.normalize("NFKC", str(unit)).strip()
    if not u:
        return None
    u = u.replace("µ", "u").replace("μ", "u").replace("^", "*").replace("×", "").replace(" ", "")
    u = re.sub(r"^[xX](?=10)", "", u)
    u = re.sub(r"/l$", "/L", u)
    u = re.sub(r"/dl$", "/dL", u, flags=re.IGNORECASE)
    u = re.sub(r"/ml$", "/mL", u, flags=re.IGNORECASE)
    if u.lower() in ("miu/l", "m[iu]/l"):
        u = "m[IU]/L"
    return u


@dataclass(frozen=True)
class UnitTable:
    """Factors keyed by (analyte or '*', from, to) in normalised spelling."""

    factors: dict[tuple[str, str, str], float]

    def factor(self, analyte: str | None, from_unit: str | None, to_unit: str | None) -> float | None:
        """Multiplier from ``from_unit`` to ``to_unit`` for ``analyte``; None when unknown."""
        f, t = norm_unit(from_unit), norm_unit(to_unit)
        if f is None or t is None:
            return None
        if f == t:
            return 1.0
        for key in ((analyte or "", f, t), ("*", f, t)):
            if key in self.factors:
                return self.factors[key]
        return None


def load_units(path: Path) -> UnitTable:
    """Read the conversion table; a bad factor names the file and line."""
    factors: dict[tuple[str, str, str], float] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            try:
                factor = float(row["factor"])
            except (TypeError, ValueError):
                raise ValueError(f"{path}: line {reader.line_num}: field 'factor': not a number: "
                                 f"{row.get('factor')!r}") from None
            key = (row["analyte"].strip(), norm_unit(row["from_unit"]) or "", norm_unit(row["to_unit"]) or "")
            if not key[1] or not key[2]:
                raise ValueError(f"{path}: line {reader.line_num}: from_unit and to_unit are required")
            factors[key] = factor
    return UnitTable(factors)


_RANGE = re.compile(
    r"^\s*(?P<lo>-?\d+(?:\.\d+)?)\s*(?:-|~|～|—|–|至|to)\s*(?P<hi>-?\d+(?:\.\d+)?)\s*$"
)
_UPPER = re.compile(r"^\s*(?:<|<=|≤|＜)\s*(?P<hi>\d+(?:\.\d+)?)\s*$")
_LOWER = re.compile(r"^\s*(?:>|>=|≥|＞)\s*(?P<lo>\d+(?:\.\d+)?)\s*$")


def parse_ref_range(text: str | None) -> tuple[float | None, float | None]:
    """'3.9-6.1', '3.9~6.1', '<5.2', '>=1.04' → (low, high); anything else → (None, None)."""
    if not text:
        return None, None
    t = unicodedata.normalize("NFKC", text)
    if m := _RANGE.match(t):
        return float(m["lo"]), float(m["hi"])
    if m := _UPPER.match(t):
        return None, float(m["hi"])
    if m := _LOWER.match(t):
        return float(m["lo"]), None
    return None, None
