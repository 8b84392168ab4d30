"""Vectorised casts of raw string columns to canonical types, keeping what fails to cast.

A value that cannot be typed is not dropped: the typed value is null and the reason goes to
the row's ``_std_issues`` (the validation stage decides quarantine).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

from transforms.canonical import FieldType

# Tried after the profile's own format; the raw layer keeps strings exactly as submitted.
DATE_FORMATS: tuple[str, ...] = ("%Y-%m-%d", "%Y%m%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d")
DATETIME_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M",
    # HL7 DTM precision is variable: try minutes before seconds, or "198808181126" reads as 11:02:06
    "%Y%m%d%H%M", "%Y%m%d%H%M%S", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y年%m月%d日 %H:%M", "%Y年%m月%d日 %H时%M分",
    "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S.%f", "%Y%m%d%H%M%S.%f", *DATE_FORMATS,
)
TRUE_VALUES = {"1", "true", "t", "y", "yes", "是", "有"}
FALSE_VALUES = {"0", "false", "f", "n", "no", "否", "无"}
NOT_APPLICABLE = {"/", "／"}
_TZ = re.compile(r"(?:[+-]\d{2}:?\d{2}|Z)$")


def _blank(s: pd.Series) -> pd.Series:
    return s.isna() | (s.astype("string").str.strip() == "")


def _offset_minutes(text: pd.Series) -> pd.Series:
    """Minutes east of UTC of a trailing offset (+0215, -05:00, Z); NA when there is none."""
    m = text.str.extract(r"(?:([+-])(\d{2}):?(\d{2})|(Z))$")
    mins = pd.to_numeric(m[1], errors="coerce") * 60 + pd.to_numeric(m[2], errors="coerce")
    mins = mins.mask((m[0] == "-").fillna(False), -mins)
    return mins.mask((m[3] == "Z").fillna(False), 0).astype("Float64")


def cast_datetime(s: pd.Series, kind: FieldType, formats: list[str]) -> pd.Series:
    """Parse with each format in turn; returns datetime64 (NaT where nothing matched).

    Standard-layer times are naive Beijing time (UTC+8). A time sent with an explicit
    offset (HL7 ``20261101083000+0215``) is converted to it, not just stripped. A date field
    sent as a date-time (HL7 DTM for a birth date) keeps its calendar date.
    """
    raw = s.astype("string").str.strip()
    text = raw.str.replace(_TZ, "", regex=True)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    todo = ~_blank(s)
    fallback = DATETIME_FORMATS if kind == "datetime" else (*DATE_FORMATS, *DATETIME_FORMATS)
    for fmt in [*formats, *fallback]:
        if not todo.any():
            break
        parsed = pd.to_datetime(text[todo], format=fmt, errors="coerce")
        ok = parsed.notna()
        out.loc[parsed.index[ok]] = parsed[ok].astype("datetime64[us]")
        todo &= out.isna()
    if kind == "datetime" and raw.str.contains(_TZ, na=False).any():
        shift = (480 - _offset_minutes(raw)).fillna(0)
        out = out + pd.to_timedelta(shift.astype("float64"), unit="m")
    return out


# What the number cleaning removes, spelled for RE2: Python's ``\s`` is every ``str.isspace`` character.
_SEPARATORS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in ",，¥￥" + "".join(
    chr(i) for i in range(0x3001) if chr(i).isspace())) + "]"


def _has_separators(text: pd.Series) -> bool:
    """Whether any value holds a thousands separator, currency sign or whitespace: most columns have
    none, and pandas' Python-regex replace cost ~2 ms a column even when nothing matched."""
    arr = text.array
    if not isinstance(arr, ArrowStringArray):
        return True
    return bool(pc.any(pc.match_substring_regex(arr._pa_array, _SEPARATORS)).as_py())


def _strings_fast(s: pd.Series) -> pd.Series | None:
    """A text field on Arrow strings: stripped, blanks null, as one Arrow kernel pass.

    Same values and dtype as ``astype("string").str.strip()`` + ``where(~blank, None)`` (pandas'
    strip is this kernel), without the ~10 pandas operations that dominated small batches.
    """
    arr = s.array
    if not isinstance(arr, ArrowStringArray):
        return None
    trimmed = pc.utf8_trim_whitespace(arr._pa_array)
    out = pc.if_else(pc.fill_null(pc.equal(trimmed, ""), False), pa.scalar(None, trimmed.type), trimmed)
    return pd.Series(pd.array(out, dtype="string"), index=s.index, name=s.name)


def cast_column(s: pd.Series, kind: FieldType, formats: list[str]) -> tuple[pd.Series, pd.Series]:
    """(typed column, reason per row where a non-blank value failed to cast, else NA).

    Typed kinds are cast once per distinct stripped value and spread back by position: a day's
    dates, statuses and flags repeat heavily, and every format tried cost a pandas pass per row.
    The distinct values (blank included) are the same set the row-wise cast saw, so everything
    that depends on the whole column (dtype inference, the offset shift) comes out the same.
    """
    if kind not in ("date", "datetime", "decimal", "int", "bool"):
        typed = _strings_fast(s)
        if typed is not None:
            return typed, pd.Series(pd.NA, index=s.index, dtype="string")
        text = s.astype("string").str.strip()
        return text.where(~(s.isna() | (text == "")), None), pd.Series(pd.NA, index=s.index, dtype="string")
    text = s.astype("string").str.strip()
    codes, uniques = text.factorize(use_na_sentinel=False)
    distinct = pd.Series(uniques.array, dtype="string")
    key = (kind, tuple(formats), tuple(distinct.tolist())) if len(distinct) <= _CACHED_DISTINCT else None
    hit = _CAST_CACHE.get(key) if key is not None else None
    if hit is None:
        hit = _cast_text(distinct, kind, formats)
        if key is not None:
            if len(_CAST_CACHE) >= _CACHE_SIZE:
                _CAST_CACHE.pop(next(iter(_CAST_CACHE)))
            _CAST_CACHE[key] = hit
    typed, why = hit
    return _spread(typed, codes, s.index), _spread(why, codes, s.index)


# Casts of small distinct-value sets, shared across batches and columns (an empty column, a
# status flag, the day's dates): key (kind, formats, distinct values) → (typed, reason).
_CACHED_DISTINCT = 64
_CACHE_SIZE = 4096
_CAST_CACHE: dict[tuple, tuple[pd.Series, pd.Series]] = {}


def _spread(per_value: pd.Series, codes: np.ndarray, index: pd.Index) -> pd.Series:
    """Per-distinct results back to one row each (same dtype)."""
    out = per_value.take(codes)
    out.index = index
    return out


def _cast_text(text: pd.Series, kind: FieldType, formats: list[str]) -> tuple[pd.Series, pd.Series]:
    """The cast of already-stripped strings (``string`` dtype) to ``kind``."""
    s = text
    blank = s.isna() | (text == "")
    na_mark = text.isin(NOT_APPLICABLE)
    if kind in ("date", "datetime"):
        dt = cast_datetime(s, kind, formats)
        typed = dt.dt.date.astype(object).where(dt.notna(), None) if kind == "date" else dt
        bad = ~blank & dt.isna()
        reason = "bad_date" if kind == "date" else "bad_datetime"
    elif kind in ("decimal", "int"):
        cleaned = text.str.replace(r"[,，¥￥\s]", "", regex=True) if _has_separators(text) else text
        num = pd.to_numeric(cleaned, errors="coerce")
        if kind == "int":
            whole = num.notna() & (num % 1 == 0)
            typed = num.where(whole).astype("Int64")
            bad = ~blank & ~whole
        else:
            typed = num.astype("Float64")
            bad = ~blank & num.isna()
        reason = "not_a_number" if kind == "decimal" else "not_an_integer"
    else:  # bool
        low = text.str.lower()
        typed = pd.Series(pd.NA, index=s.index, dtype="boolean")
        typed[low.isin(TRUE_VALUES).fillna(False)] = True
        typed[low.isin(FALSE_VALUES).fillna(False)] = False
        bad = ~blank & typed.isna()
        reason = "not_a_boolean"
    why = pd.Series(pd.NA, index=s.index, dtype="string")
    why[bad & na_mark] = "not_applicable"
    why[bad & ~na_mark] = reason
    return typed, why
