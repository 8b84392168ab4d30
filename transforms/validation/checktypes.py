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

import pandas as pd

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
    if s.dropna().map(lambda v: isinstance(v, (int, float))).all() and s.notna().any():
        return pd.to_numeric(s, errors="coerce")
    return pd.to_datetime(s, errors="coerce")


def _num(s: pd.Series) -> pd.Series:
    return pd.to_numeric(s, errors="coerce")


def _bool(mask: pd.Series) -> pd.Series:
    return mask.astype("boolean").fillna(False).astype(bool)


def scope_mask(df: pd.DataFrame, check: Check) -> pd.Series:
    """Rows the check applies to (its declarative ``where`` filter, equality or membership)."""
    mask = pd.Series(True, index=df.index)
    for field, value in check.params.get("where", {}).items():
        col = _col(df, field)
        values = value if isinstance(value, list) else [value]
        mask &= _bool(col.isin(values))
    return mask


def _p_not_null(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    s = _col(df, c.fields[0])
    return s.isna() | (s.astype("string").str.strip() == "").fillna(False)


def _p_in_set(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    s = _col(df, c.fields[0])
    return s.notna() & ~_bool(s.isin(c.params["values"]))


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
    s = _num(_col(df, c.fields[0]))
    fail = pd.Series(False, index=df.index)
    if "min" in c.params:
        fail |= _bool(s < c.params["min"])
    if "max" in c.params:
        fail |= _bool(s > c.params["max"])
    return fail


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
    s = _num(_col(df, c.fields[0])).astype("float64")
    scale = 10 ** int(c.params["places"])
    return _bool(((s * scale) - (s * scale).round()).abs() > 1e-6)


def _p_unique(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    cols = list(c.fields)
    scope = scope_mask(df, c)
    sub = df.loc[scope, cols]
    complete = sub.notna().all(axis=1)
    dup = sub[complete].duplicated(keep=False)
    return dup.reindex(df.index, fill_value=False).astype(bool)


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
    sub = df.loc[scope_mask(df, c), [*keys, t, i]].copy()
    sub = sub[sub[keys].notna().all(axis=1) & sub[t].notna()]
    if sub.empty:
        return pd.Series(False, index=df.index)
    sub["_t"] = pd.to_datetime(sub[t], errors="coerce")
    sub = sub.sort_values([*keys, "_t", i], kind="stable")
    grp = sub.groupby(keys, sort=False, dropna=False)
    prev_t, prev_i = grp["_t"].shift(), grp[i].shift()
    near = prev_t.notna() & ((sub["_t"] - prev_t) <= pd.Timedelta(minutes=float(c.params["within_minutes"]))) \
        & (prev_i.astype("string") != sub[i].astype("string")).fillna(False)
    return near.reindex(df.index, fill_value=False).astype(bool)


def _p_foreign_key(df: pd.DataFrame, c: Check, refs: RefSets) -> pd.Series:
    key = (c.params["ref_table"], c.params["ref_field"])
    if key not in refs:
        raise LookupError(f"reference {key[0]}.{key[1]} is not available")
    s = _col(df, c.fields[0])
    return s.notna() & ~_bool(s.isin(refs[key]))


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
    scope = scope_mask(df, check)
    return (PANDAS[check.check_type](df, check, refs or {}) & scope).astype(bool)


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
