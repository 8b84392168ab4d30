"""Lab values to the target unit of their LOINC code, so results from different labs compare.

Source unit: the row's ``unit``, else the unit the dictionary's concept map declares. Target
unit: the ``unit`` property of the target concept (``mappings/codesystems``). Factor:
``mappings/units.csv``. Reference ranges convert with the same factor. No factor → the row is
``unconvertible`` and keeps its original value and unit in ``value``/``unit``.
"""

from __future__ import annotations

import re

import pandas as pd

from transforms.terminology.codeset import CodeSet
from transforms.terminology.units import parse_ref_range

# A plain number with an optional comparator, or an HL7 SN value (``^182``, ``>^10``).
_NUM = re.compile(r"^\s*(?:[<>≤≥＜＞]=?|=)?\s*\^?\s*(-?\d+(?:\.\d+)?)\s*\^?\s*$")


def unit_columns(df: pd.DataFrame, cs: CodeSet) -> pd.DataFrame:
    """value_num, value_std, unit_std, ref_low_std, ref_high_std, hr_item_code, unit_status."""
    idx = df.index
    value = df["value"].astype("string") if "value" in df else pd.Series(pd.NA, index=idx, dtype="string")
    value_num = pd.to_numeric(value.str.extract(_NUM, expand=False), errors="coerce").astype("Float64")
    dictionary = df["item_code_dictionary"]
    local = df["item_code"].astype("string").str.strip()
    rows = [cs.concept_map("lab", d).get(c) if isinstance(d, str) and isinstance(c, str) else None
            for d, c in zip(dictionary.tolist(), local.tolist(), strict=True)]
    targets = [cs.target(r.target_system, r.target_code) if r else None for r in rows]
    unit_in = df["unit"].astype("string") if "unit" in df else pd.Series(pd.NA, index=idx, dtype="string")
    src_unit = [u if isinstance(u, str) and u.strip() else (r.unit if r else None)
                for u, r in zip(unit_in.tolist(), rows, strict=True)]
    tgt_unit = [t.properties.get("unit") if t else None for t in targets]
    factors = [cs.units.factor(r.target_code if r else None, su, tu) if tu else None
               for r, su, tu in zip(rows, src_unit, tgt_unit, strict=True)]
    factor = pd.Series(factors, index=idx, dtype="Float64")
    refs = [parse_ref_range(x) if isinstance(x, str) else (None, None)
            for x in (df["ref_range"].tolist() if "ref_range" in df else [None] * len(df))]
    # a range submitted with the row is in the row's unit; the dictionary's range is in the map's unit
    lows, highs, ref_factors = [], [], []
    for (lo, hi), r, f, tu in zip(refs, rows, factors, tgt_unit, strict=True):
        if lo is not None or hi is not None:
            lows.append(lo), highs.append(hi), ref_factors.append(f)
        elif r is not None:
            lows.append(r.ref_low), highs.append(r.ref_high)
            ref_factors.append(cs.units.factor(r.target_code, r.unit, tu) if tu else None)
        else:
            lows.append(None), highs.append(None), ref_factors.append(None)
    ref_factor = pd.Series(ref_factors, index=idx, dtype="Float64")
    ref_low = pd.Series(lows, index=idx, dtype="Float64")
    ref_high = pd.Series(highs, index=idx, dtype="Float64")
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
        "hr_item_code": pd.Series([r.hr_item_code if r and r.hr_item_code else
                                   (t.properties.get("hr_item_code") if t else None)
                                   for r, t in zip(rows, targets, strict=True)], index=idx, dtype="string"),
        "unit_status": status,
    }, index=idx)
