"""Reference data the generator draws from: its own data files plus the repo's mappings.

Local codes, units and reference ranges come from ``mappings/concept_maps`` (read, never
edited), so a hospital on dictionary lis_b really reports glucose in mg/dL, and items the
dictionary lacks come out as naturally unmapped local codes.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from transforms.settings import MAPPINGS_DIR
from transforms.yamlio import load_yaml

DATA = Path(__file__).resolve().parent / "data"


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@cache
def data_csv(name: str) -> list[dict[str, str]]:
    return _rows(DATA / name)


@cache
def clinical() -> dict:
    return load_yaml(DATA / "clinical.yaml")


@cache
def scales() -> dict:
    return load_yaml(DATA / "scales.yaml")


@cache
def codesystem(name: str) -> dict[str, dict[str, str]]:
    """National code list (mappings/codesystems/<name>.csv) keyed by code."""
    return {r["code"]: r for r in _rows(MAPPINGS_DIR / "codesystems" / f"{name}.csv")}


@dataclass(frozen=True)
class LocalCode:
    code: str
    display: str
    unit: str = ""
    ref_low: str = ""
    ref_high: str = ""
    mapped: bool = True


@dataclass(frozen=True)
class Dictionary:
    """One institution dictionary: national target code -> local code."""

    kind: str
    id: str
    by_target: dict[str, LocalCode]
    prefix: str

    def local(self, target: str) -> LocalCode:
        return self.by_target[target]

    def unmapped_code(self, n: int) -> str:
        """A local code that is NOT in the dictionary (the unmapped_code defect)."""
        return f"{self.prefix}9{n % 1000:03d}"


_NATIONAL = {"lab": "loinc_lab_subset", "diagnosis": "icd10_cn_clinical_subset",
             "drug": "nhsa_drug_subset", "exam": "exam_items"}


@cache
def dictionary(kind: str, dict_id: str) -> Dictionary:
    """Load a concept map; national codes it lacks get synthetic local codes (unmapped)."""
    rows = _rows(MAPPINGS_DIR / "concept_maps" / kind / f"{dict_id}.csv")
    by_target = {
        r["target_code"]: LocalCode(r["source_code"], r["source_display"], r["unit"],
                                    r["ref_low"], r["ref_high"])
        for r in rows
    }
    m = re.match(r"^(\D*)(\d+)$", rows[-1]["source_code"])
    prefix = m.group(1) if m else rows[-1]["source_code"][:1]
    width = len(m.group(2)) if m else 3
    last = int(m.group(2)) if m else 0
    step = 1
    if m and len(rows) > 1:
        m0 = re.match(r"^(\D*)(\d+)$", rows[-2]["source_code"])
        step = max(1, last - int(m0.group(2))) if m0 else 1
    k = 0
    for code, nat in codesystem(_NATIONAL[kind]).items():
        if code not in by_target:  # naturally unmapped: the vendor has a code, the map does not
            k += 1
            by_target[code] = LocalCode(f"{prefix}{last + step * k:0{width}d}", nat["display_zh"],
                                        nat.get("unit", ""), nat.get("ref_low", ""),
                                        nat.get("ref_high", ""), mapped=False)
    return Dictionary(kind, dict_id, by_target, prefix or "X")


def mapped_codes(kind: str, dict_id: str) -> set[str]:
    """Local codes present in the concept map file (for tests and the defect manifest)."""
    return {c.code for c in dictionary(kind, dict_id).by_target.values() if c.mapped}
