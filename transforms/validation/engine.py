"""Run catalogue checks on a DataFrame (row flags) or push them down to a SQL warehouse (counts).

Row flags for the stage come from the pandas form: on an in-memory batch it was the fastest
path with the same numerators as GX, DuckDB and PostgreSQL (docs/benchmarks.md); DuckDB
wins when it reads Parquet itself, and the warehouse marts are checked by SQL pushdown. A check whose column or reference is absent is ``not_run`` with a
note, never silently passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from transforms.validation.catalogue import Check
from transforms.validation.checktypes import RefSets, failing_mask, scope_mask
from transforms.validation.sql import counts_query, flags_query


@dataclass
class CheckOutcome:
    check: Check
    numerator: int
    denominator: int
    status: str  # pass | fail | not_run
    note: str = ""

    @property
    def pct(self) -> float:
        return round(100.0 * self.numerator / self.denominator, 4) if self.denominator else 0.0


def status_for(numerator: int, denominator: int, threshold: float) -> str:
    pct = 100.0 * numerator / denominator if denominator else 0.0
    return "pass" if pct <= threshold + 1e-9 else "fail"


def runnable(check: Check, columns: set[str], refs: RefSets | None) -> str:
    """Empty when the check can run on these columns/references, else the reason it cannot."""
    missing = [c for c in check.referenced_columns if c not in columns]
    if missing:
        return f"column(s) {missing} not in the data"
    if check.check_type == "foreign_key" and refs is not None:
        if (check.params["ref_table"], check.params["ref_field"]) not in refs:
            return f"reference {check.params['ref_table']}.{check.params['ref_field']} not available"
    return ""


def flags_pandas(df: pd.DataFrame, checks: list[Check], refs: RefSets) -> pd.DataFrame:
    """Failing-row flags, one boolean column per check id (pandas form)."""
    return pd.DataFrame({c.check_id: failing_mask(df, c, refs).to_numpy() for c in checks}, index=df.index)


def flags_duckdb(df: pd.DataFrame, checks: list[Check], refs: RefSets) -> pd.DataFrame:
    """Failing-row flags from one DuckDB scan of the frame (SQL form)."""
    import duckdb

    con = duckdb.connect()
    try:
        frame = df.reset_index(drop=True).assign(_rid=range(len(df)))
        con.register("t", frame)
        for (table, field), values in refs.items():
            con.register(table, pd.DataFrame({field: sorted(values, key=str)}))
        if not checks:
            return pd.DataFrame(index=df.index)
        out = con.execute(flags_query("t", checks, "duckdb")).fetchnumpy()
    finally:
        con.close()
    data = {c.check_id: out[f"f{i}"].astype(bool) for i, c in enumerate(checks)}
    return pd.DataFrame(data, index=df.index)


def outcomes_from_flags(df: pd.DataFrame, checks: list[Check], flags: pd.DataFrame) -> list[CheckOutcome]:
    res = []
    for c in checks:
        num = int(flags[c.check_id].sum())
        den = int(scope_mask(df, c).sum())
        res.append(CheckOutcome(c, num, den, status_for(num, den, c.threshold)))
    return res


def push_down_counts(conn, relation: str, checks: list[Check]) -> list[CheckOutcome]:
    """Numerators and denominators computed inside the warehouse (SQLAlchemy connection)."""
    import sqlalchemy as sa

    from transforms.warehouse.db import dialect

    if not checks:
        return []
    row = conn.execute(sa.text(counts_query(relation, checks, dialect(conn)))).one()
    res = []
    for i, c in enumerate(checks):
        den, num = int(row[2 * i] or 0), int(row[2 * i + 1] or 0)
        res.append(CheckOutcome(c, num, den, status_for(num, den, c.threshold)))
    return res
