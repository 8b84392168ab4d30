"""Exactly one implementation per check type, in a pandas form and a SQL form.

Every check type answers the same question the same way: which rows in scope violate it.
The pandas form returns a boolean mask of failing rows; the SQL form returns a boolean
expression that is true for a failing row of the ``base`` relation (built by
``transforms.validation.sql``). Nulls never fail a check other than ``not_null``: a missing
value is counted once, by completeness, not again by every plausibility check.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.arrays import ArrowStringArray

from transforms.validation.catalogue import Check

Dialect = Literal["duckdb", "postgresql"]
RefSets = dict[tuple[str, str], set]


# ---------------------------------------------------------------- pandas helpers
def _col(df: pd.DataFrame, name: str) -> pd.Series:
    if name not in df.columns:
        raise KeyError(name)
    return df[name]


def _comparable(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return s
    values = s.dropna().tolist()
    if values and all(isinstance(v, (int, float)) for v in values):
        return pd.to_numeric(s, errors="coerce")
    return pd.to_datetime(s, errors="coerce")


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def _bool(mask: pd.Series) -> pd.Series:
    """Boolean mask with NA as False (fast paths for numpy bool and masked boolean)."""
    if mask.dtype == bool:
        return mask
    if isinstance(mask.dtype, pd.BooleanDtype):
        return pd.Series(mask.array.to_numpy(dtype=bool, na_value=False), index=mask.index)
    return mask.astype("boolean").fillna(False).astype(bool)


def _np(mask: pd.Series) -> np.ndarray:
    return _bool(mask).to_numpy(dtype=bool)


def _floats(s: pd.Series) -> np.ndarray | None:
    """float64 values (NaN for missing) of a numeric column, else None (the caller falls back)."""
    if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
        return None
    return s.to_numpy(dtype="float64", na_value=np.nan)


def _arrow_strings(s: pd.Series) -> pa.ChunkedArray | None:
    arr = s.array
    return arr._pa_array if isinstance(arr, ArrowStringArray) else None


def scope_mask(df: pd.DataFrame, check: Check) -> pd.Series:
    """Rows the check applies to (its declarative ``where`` filter, equality or membership)."""
    where = check.params.get("where", {})
    if not where:
        return pd.Series(np.ones(len(df), dtype=bool), index=df.index)
    mask = np.ones(len(df), dtype=bool)
    for field, value in where.items():
        col = _col(df, field)
        values = value if isinstance(value, list) else [value]
        mask &= _np(col.isin(values))
    return pd.Series(mask, index=df.index)


def _p_not_null(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    s = _col(df, c.fields[0])
    ca = _arrow_strings(s)
    if ca is not None:  # pandas' str.strip on Arrow strings is this same kernel
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(ca), ""), False)
        null = pc.is_null(ca)
        return pd.Series(pc.or_(null, blank).to_numpy(zero_copy_only=False), index=s.index)
    if s.dtype != object and not isinstance(s.dtype, pd.StringDtype):  # numbers, times, booleans: never blank
        return pd.Series(s.isna().to_numpy(dtype=bool), index=s.index)
    return s.isna() | (s.astype("string").str.strip() == "").fillna(False)


def _p_in_set(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    s = _col(df, c.fields[0])
    return pd.Series(s.notna().to_numpy(dtype=bool) & ~_np(s.isin(c.params["values"])), index=s.index)


def _search(s: pd.Series, pattern: str) -> pd.Series:
    with warnings.catch_warnings():  # "pattern has match groups": we only test for a match
        warnings.simplefilter("ignore", UserWarning)
        return _bool(s.astype("string").str.contains(pattern, regex=True))


def _p_regex(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    s = _col(df, c.fields[0])
    return s.notna() & ~_search(s, c.params["pattern"])


def _p_not_regex(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    s = _col(df, c.fields[0])
    return s.notna() & _search(s, c.params["pattern"])


def _p_between(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    raw = _col(df, c.fields[0])
    v = _floats(raw)
    if v is not None:  # NaN compares False, as NA did
        fail = np.zeros(len(v), dtype=bool)
        if "min" in c.params:
            fail |= v < c.params["min"]
        if "max" in c.params:
            fail |= v > c.params["max"]
        return pd.Series(fail, index=df.index)
    s = _num(raw)
    out = pd.Series(False, index=df.index)
    if "min" in c.params:
        out |= _bool(s < c.params["min"])
    if "max" in c.params:
        out |= _bool(s > c.params["max"])
    return out


def _p_pair_order(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    a, b = (_comparable(_col(df, f)) for f in c.fields)
    ok = (b >= a) if c.params["op"] == ">=" else (b > a)
    return a.notna() & b.notna() & ~_bool(ok)


def _p_date_span(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    a, b = (pd.to_datetime(_col(df, f), errors="coerce").dt.normalize() for f in c.fields)
    days = (b - a).dt.days
    bad = (days < c.params["min_days"]) | (days > c.params["max_days"])
    return a.notna() & b.notna() & _bool(bad)


def _p_decimals(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    raw = _col(df, c.fields[0])
    v = _floats(raw)
    s = v if v is not None else _num(raw).astype("float64").to_numpy()
    scale = 10 ** int(c.params["places"])
    with np.errstate(invalid="ignore"):
        return pd.Series(np.abs((s * scale) - np.round(s * scale)) > 1e-6, index=df.index)


def _p_unique(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    cols = list(c.fields)
    scope = scope_mask(df, c).to_numpy()
    sub = df.loc[scope, cols] if not scope.all() else df[cols]
    complete = sub.notna().all(axis=1).to_numpy()
    out = np.zeros(len(df), dtype=bool)
    if complete.any():
        dup = (sub[complete] if not complete.all() else sub).duplicated(keep=False).to_numpy()
        out[np.flatnonzero(scope)[np.flatnonzero(complete)]] = dup
    return pd.Series(out, index=df.index)


def _p_sum_le(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    total = sum((_num(_col(df, f)).fillna(0) for f in c.fields), start=pd.Series(0.0, index=df.index))
    tol = float(c.params.get("tolerance", 0))
    if "max" in c.params:
        return _bool(total > float(c.params["max"]) + tol)
    cap = _num(_col(df, c.params["max_field"]))
    return cap.notna() & _bool(total > cap + tol)


def _p_near_duplicate(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    """A later row with the same key fields, another id, within ``within_minutes`` of the one before it."""
    t, i = c.params["time_field"], c.params["id_field"]
    keys = list(c.fields)
    sub = df.loc[scope_mask(df, c).to_numpy(), [*keys, t, i]].copy()
    sub = sub[sub[keys].notna().all(axis=1) & sub[t].notna()]
    if sub.empty:
        return pd.Series(False, index=df.index)
    sub["_t"] = pd.to_datetime(sub[t], errors="coerce")
    sub = sub.sort_values([*keys, "_t", i], kind="stable")
    # sorted by the keys first, each key group is a run: the row before is in the group when its keys are equal
    same = np.ones(len(sub), dtype=bool)
    same[0] = False
    for k in keys:
        v = sub[k].to_numpy(dtype=object)
        same[1:] &= v[1:] == v[:-1]
    tt = sub["_t"].to_numpy()
    prev_t = np.empty_like(tt)
    prev_t[0] = np.datetime64("NaT")
    prev_t[1:] = tt[:-1]
    prev_t[~same] = np.datetime64("NaT")
    ids = sub[i].astype("string").to_numpy(dtype=object, na_value=None)
    prev_ok = same & ~np.isnat(prev_t)
    window = np.timedelta64(pd.Timedelta(minutes=float(c.params["within_minutes"])).value, "ns")
    within = np.zeros(len(sub), dtype=bool)
    within[prev_ok] = (tt[prev_ok] - prev_t[prev_ok]) <= window
    differ = np.zeros(len(sub), dtype=bool)
    for j in np.flatnonzero(prev_ok):
        a, b = ids[j - 1], ids[j]
        differ[j] = a is not None and b is not None and a != b
    near = pd.Series(prev_ok & within & differ, index=sub.index)
    return near.reindex(df.index, fill_value=False).astype(bool)


def _p_foreign_key(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    key = (c.params["ref_table"], c.params["ref_field"])
    if key not in refs:
        raise LookupError(f"reference {key[0]}.{key[1]} is not available")
    s = _col(df, c.fields[0])
    return pd.Series(s.notna().to_numpy(dtype=bool) & ~_np(s.isin(refs[key])), index=s.index)


PANDAS: dict[str, Callable[[pd.DataFrame, Check, RefSets], pd.Series]] = {
    "not_null": _p_not_null, "in_set": _p_in_set, "regex": _p_regex, "not_regex": _p_not_regex,
    "between": _p_between, "pair_order": _p_pair_order, "date_span": _p_date_span,
    "decimals": _p_decimals, "unique": _p_unique, "sum_le": _p_sum_le, "foreign_key": _p_foreign_key,
    "near_duplicate": _p_near_duplicate,
}


def failing_mask(df: pd.DataFrame, check: Check, refs: RefSets | None = None) -> pd.Series:
    """Rows of ``df`` that fail ``check`` (pandas form). Raises KeyError for a missing column."""
    for col in check.referenced_columns:
        _col(df, col)
    fail = _np(PANDAS[check.check_type](df, check, refs or {}))
    if check.params.get("where"):
        fail = fail & scope_mask(df, check).to_numpy()
    return pd.Series(fail, index=df.index)


# ---------------------------------------------------------------- SQL form
def q(name: str) -> str:
    """Quote an identifier (names come from the validated catalogue, never from data)."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: Any) -> str:
    """A SQL literal for a catalogue parameter."""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if value is None:
        return "NULL"
    return "'" + str(value).replace("'", "''") + "'"


def scope_sql(check: Check) -> str:
    parts = []
    for field, value in check.params.get("where", {}).items():
        values = value if isinstance(value, list) else [value]
        parts.append(f"{q(field)} IN ({', '.join(lit(v) for v in values)})")
    return " AND ".join(parts) or "TRUE"


def _text(col: str) -> str:
    return f"CAST({q(col)} AS VARCHAR)"


def _s_not_null(c: Check, d: Dialect, w: str) -> str:
    return f"({q(c.fields[0])} IS NULL OR TRIM({_text(c.fields[0])}) = '')"


def _s_in_set(c: Check, d: Dialect, w: str) -> str:
    values = c.params["values"]
    col = q(c.fields[0]) if all(isinstance(v, bool) for v in values) else _text(c.fields[0])
    vals = ", ".join(lit(v) if isinstance(v, bool) else lit(str(v)) for v in values)
    return f"({q(c.fields[0])} IS NOT NULL AND {col} NOT IN ({vals}))"


def _regex_match(col: str, pattern: str, d: Dialect) -> str:
    if d == "postgresql":
        return f"({_text(col)} ~ {lit(pattern)})"
    return f"regexp_matches({_text(col)}, {lit(pattern)})"


def _s_regex(c: Check, d: Dialect, w: str) -> str:
    return f"({q(c.fields[0])} IS NOT NULL AND NOT {_regex_match(c.fields[0], c.params['pattern'], d)})"


def _s_not_regex(c: Check, d: Dialect, w: str) -> str:
    return f"({q(c.fields[0])} IS NOT NULL AND {_regex_match(c.fields[0], c.params['pattern'], d)})"


def _s_between(c: Check, d: Dialect, w: str) -> str:
    col = f"CAST({q(c.fields[0])} AS DOUBLE PRECISION)"
    parts = []
    if "min" in c.params:
        parts.append(f"{col} < {lit(c.params['min'])}")
    if "max" in c.params:
        parts.append(f"{col} > {lit(c.params['max'])}")
    return f"({q(c.fields[0])} IS NOT NULL AND ({' OR '.join(parts) or 'FALSE'}))"


def _s_pair_order(c: Check, d: Dialect, w: str) -> str:
    a, b = (q(f) for f in c.fields)
    return f"({a} IS NOT NULL AND {b} IS NOT NULL AND NOT ({b} {c.params['op']} {a}))"


def _s_date_span(c: Check, d: Dialect, w: str) -> str:
    a, b = (f"CAST({q(f)} AS DATE)" for f in c.fields)
    days = f"date_diff('day', {a}, {b})" if d == "duckdb" else f"({b} - {a})"
    return (f"({q(c.fields[0])} IS NOT NULL AND {q(c.fields[1])} IS NOT NULL AND "
            f"({days} < {int(c.params['min_days'])} OR {days} > {int(c.params['max_days'])}))")


def _s_decimals(c: Check, d: Dialect, w: str) -> str:
    scaled = f"(CAST({q(c.fields[0])} AS DOUBLE PRECISION) * {10 ** int(c.params['places'])})"
    return f"({q(c.fields[0])} IS NOT NULL AND ABS({scaled} - ROUND({scaled})) > 1e-6)"


def _s_unique(c: Check, d: Dialect, w: str) -> str:
    return f"({w} > 1)"


def unique_window(c: Check) -> str:
    """The window column the ``unique`` SQL form reads: rows sharing the key within scope."""
    keys = ", ".join(q(f) for f in c.fields)
    complete = " AND ".join(f"{q(f)} IS NOT NULL" for f in c.fields)
    return (f"CASE WHEN {complete} THEN COUNT(*) OVER (PARTITION BY ({scope_sql(c)}), {keys}) "
            f"ELSE 0 END")


def near_duplicate_window(c: Check) -> str:
    """1 when the previous row with the same key (by time) has another id and is within the window."""
    t, i = q(c.params["time_field"]), q(c.params["id_field"])
    keys = ", ".join(q(f) for f in c.fields)
    w = f"OVER (PARTITION BY ({scope_sql(c)}), {keys} ORDER BY {t}, {i})"
    minutes = int(c.params["within_minutes"])
    complete = " AND ".join(f"{q(f)} IS NOT NULL" for f in c.fields)
    return (f"CASE WHEN {complete} AND {t} IS NOT NULL AND LAG({t}) {w} IS NOT NULL "
            f"AND CAST({t} AS TIMESTAMP) - CAST(LAG({t}) {w} AS TIMESTAMP) <= INTERVAL '{minutes} minutes' "
            f"AND CAST(LAG({i}) {w} AS VARCHAR) <> CAST({i} AS VARCHAR) THEN 1 ELSE 0 END")


def _s_near_duplicate(c: Check, d: Dialect, w: str) -> str:
    return f"({w} = 1)"


def _s_sum_le(c: Check, d: Dialect, w: str) -> str:
    total = " + ".join(f"COALESCE(CAST({q(f)} AS DOUBLE PRECISION), 0)" for f in c.fields)
    tol = float(c.params.get("tolerance", 0))
    if "max" in c.params:
        return f"(({total}) > {float(c.params['max']) + tol})"
    cap = q(c.params["max_field"])
    return f"({cap} IS NOT NULL AND ({total}) > CAST({cap} AS DOUBLE PRECISION) + {tol})"


def _s_foreign_key(c: Check, d: Dialect, w: str) -> str:
    f, rt, rf = c.fields[0], c.params["ref_table"], c.params["ref_field"]
    return (f"({q(f)} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {q(rt)} r "
            f"WHERE r.{q(rf)} = base.{q(f)}))")


SQL: dict[str, Callable[[Check, Dialect, str], str]] = {
    "not_null": _s_not_null, "in_set": _s_in_set, "regex": _s_regex, "not_regex": _s_not_regex,
    "between": _s_between, "pair_order": _s_pair_order, "date_span": _s_date_span,
    "decimals": _s_decimals, "unique": _s_unique, "sum_le": _s_sum_le, "foreign_key": _s_foreign_key,
    "near_duplicate": _s_near_duplicate,
}


def failing_sql(check: Check, dialect: Dialect, window_col: str = "") -> str:
    """SQL boolean: this row of ``base`` is in scope and fails ``check``."""
    return f"(({scope_sql(check)}) AND {SQL[check.check_type](check, dialect, window_col)})"


def describe(check: Check) -> str:
    """One line a reader of a quarantine reason understands."""
    p = {k: v for k, v in check.params.items()}
    return f"{check.check_type}({', '.join(check.fields)}{'; ' + json.dumps(p, ensure_ascii=False) if p else ''})"
