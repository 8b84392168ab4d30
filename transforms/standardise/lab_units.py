"""Lab values to the target unit of their LOINC code, so results from different labs compare.

Source unit: the row's ``unit``, else the unit the dictionary's concept map declares. Target
unit: the ``unit`` property of the target concept (``mappings/codesystems``). Factor:
``mappings/units.csv``. Reference ranges convert with the same factor. No factor → the row is
``unconvertible`` and keeps its original value and unit in ``value``/``unit``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from transforms.terminology.codeset import CodeSet
from transforms.terminology.units import parse_ref_range

# A plain number with an optional comparator, or an HL7 SN value (``^182``, ``>^10``).
_NUM = re.compile(r"^\s*(?:[<>≤≥＜＞]=?|=)?\s*\^?\s*(-?\d+(?:\.\d+)?)\s*\^?\s*$")


def unit_columns(df: pd.DataFrame, cs: CodeSet) -> pd.DataFrame:
    """value_num, value_std, unit_std, ref_low_std, ref_high_std, hr_item_code, unit_status.

    Everything but the value depends only on (dictionary, item code, unit, reference range),
    which repeat across a batch: the concept-map lookup, unit spelling and factor are worked out
    once per distinct combination and spread back to the rows.
    """
    idx = df.index
    n = len(df)
    value = df["value"].astype("string") if "value" in df else pd.Series(pd.NA, index=idx, dtype="string")
    value_num = pd.to_numeric(value.str.extract(_NUM, expand=False), errors="coerce").astype("Float64")
    dictionary = _plain(df["item_code_dictionary"])
    local = _plain(df["item_code"].astype("string").str.strip())
    unit_in = _plain(df["unit"].astype("string")) if "unit" in df else [None] * n
    ref_in = _plain(df["ref_range"]) if "ref_range" in df else [None] * n
    first: dict[tuple, int] = {}
    codes = np.fromiter((first.setdefault(k, len(first)) for k in zip(dictionary, local, unit_in, ref_in, strict=True)),
                        dtype=np.intp, count=n)
    per = [_one(cs, d, c, u, x) for d, c, u, x in first]
    factor = pd.Series(_spread([p[0] for p in per], codes), index=idx, dtype="Float64")
    tgt_unit = _spread([p[1] for p in per], codes)
    ref_low = pd.Series(_spread([p[2] for p in per], codes), index=idx, dtype="Float64")
    ref_high = pd.Series(_spread([p[3] for p in per], codes), index=idx, dtype="Float64")
    ref_factor = pd.Series(_spread([p[4] for p in per], codes), index=idx, dtype="Float64")
    status = pd.Series("unconvertible", index=idx, dtype="string")
    status[factor.notna()] = "normalised"
    status[value_num.isna()] = "no_value"
    convertible = factor.notna()
    return pd.DataFrame({
        "value_num": value_num,
        "value_std": (value_num * factor).round(4),
        "unit_std": pd.Series(tgt_unit, index=idx, dtype="string").where(convertible),
        "ref_low_std": (ref_low * ref_factor).round(4),
        "ref_high_std": (ref_high * ref_factor).round(4),
        "hr_item_code": pd.Series(_spread([p[5] for p in per], codes), index=idx, dtype="string"),
        "unit_status": status,
    }, index=idx)


def _plain(s: pd.Series) -> list:
    """Values with every NA spelled None (the lookups below test ``isinstance(x, str)``)."""
    return [v if isinstance(v, str) else None for v in s.tolist()]


def _spread(per_value: list, codes: np.ndarray) -> np.ndarray:
    arr = np.empty(len(per_value), dtype=object)
    arr[:] = per_value
    return arr[codes]


def _one(cs: CodeSet, d: str | None, c: str | None, u: str | None, x: str | None) -> tuple:
    """(factor, target unit, ref low, ref high, ref factor, hr item code) of one distinct combination."""
    r = cs.concept_map("lab", d).get(c) if isinstance(d, str) and isinstance(c, str) else None
    t = cs.target(r.target_system, r.target_code) if r else None
    su = u if isinstance(u, str) and u.strip() else (r.unit if r else None)
    tu = t.properties.get("unit") if t else None
    f = cs.units.factor(r.target_code if r else None, su, tu) if tu else None
    # a range submitted with the row is in the row's unit; the dictionary's range is in the map's unit
    lo, hi = parse_ref_range(x) if isinstance(x, str) else (None, None)
    if lo is not None or hi is not None:
        rf = f
    elif r is not None:
        lo, hi = r.ref_low, r.ref_high
        rf = cs.units.factor(r.target_code, r.unit, tu) if tu else None
    else:
        rf = None
    hr = r.hr_item_code if r and r.hr_item_code else (t.properties.get("hr_item_code") if t else None)
    return f, tu, lo, hi, rf, hr
