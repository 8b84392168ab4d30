"""The validate stage: standard layer -> validated layer + quarantine + batch results.

Per partition ``(source, institution, day)``: every catalogue check of each table runs on
each batch file; rows failing an error-severity check go to the warehouse ``quarantine``
(one row per rejected record, naming the file, line and values), the rest go to
``lake/validated`` with warning failures listed in ``_dq_warnings``, and every (batch,
check) count goes to ``dq_check_result``. Counts reconcile: in = validated + quarantined.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.lakeio import staged_partition
from transforms.pipeline import PartitionReport
from transforms.settings import Settings
from transforms.validation.catalogue import MART_TABLES, Check, checks_for, load_catalogue
from transforms.validation.checktypes import RefSets, describe
from transforms.validation.engine import (
    CheckOutcome,
    flags_pandas,
    outcomes_from_flags,
    push_down_counts,
    runnable,
    status_for,
)
from transforms.warehouse.db import replace_partition, transaction

STAGE = "validate"
WARNINGS_COL = "_dq_warnings"


@dataclass
class TableCounts:
    rows_in: int = 0
    rows_validated: int = 0
    rows_quarantined: int = 0
    rows_with_warnings: int = 0
    rows_exact_duplicates: int = 0


@dataclass
class StageReport(PartitionReport):
    """What one validate run did; ``reconciled`` is in == validated + quarantined for every table."""

    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    checks_run: int = 0
    checks_failed: int = 0
    checks_not_run: int = 0
    reconciled: bool = True
    tables: dict[str, dict[str, int]] = field(default_factory=dict)


@dataclass
class FrameResult:
    """Validation of one batch frame: the split and the per-check outcomes."""

    validated: pd.DataFrame
    rejected: pd.DataFrame
    reject_checks: pd.Series  # per rejected row: list of failing error check ids
    outcomes: list[CheckOutcome]


def validate_frame(df: pd.DataFrame, checks: list[Check], refs: RefSets | None) -> FrameResult:
    """Run ``checks`` on one frame; pure (no I/O), so tests and the stage share it."""
    cols = set(df.columns)
    ready, outcomes = [], []
    for c in checks:
        why = runnable(c, cols, refs)
        if why:
            outcomes.append(CheckOutcome(c, 0, 0, "not_run", why))
        else:
            ready.append(c)
    flags = flags_pandas(df, ready, refs or {})
    outcomes = outcomes_from_flags(df, ready, flags) + outcomes
    errors = [c.check_id for c in ready if c.severity == "error"]
    warns = [c.check_id for c in ready if c.severity == "warning"]
    err_any = flags[errors].any(axis=1) if errors else pd.Series(False, index=df.index)
    warn_text = (_joined_ids(flags[warns], warns, ";")
                 if warns and len(df) else pd.Series("", index=df.index, dtype="string"))
    validated = df.loc[~err_any].copy()
    validated[WARNINGS_COL] = warn_text.loc[~err_any].astype("string").to_numpy() if len(validated) else []
    rejected = df.loc[err_any]
    reject_checks = (_joined_ids(flags.loc[err_any, errors], errors, None)
                     if len(rejected) else pd.Series([], dtype=object))
    return FrameResult(validated, rejected, reject_checks, outcomes)


def _joined_ids(flags: pd.DataFrame, ids: list[str], sep: str | None) -> pd.Series:
    """Per row, the ids whose flag is set (in ``ids`` order): ``sep``-joined, or a list when ``sep``
    is None. Row-wise ``DataFrame.apply`` cost ~0.2 ms a row; this only visits flagged rows."""
    arr = flags[ids].to_numpy(dtype=bool)
    names = np.array(ids, dtype=object)
    out = np.empty(len(flags), dtype=object)
    for i in range(len(out)):
        out[i] = "" if sep is not None else []
    for i in np.flatnonzero(arr.any(axis=1)):
        found = names[arr[i]].tolist()
        out[i] = sep.join(found) if sep is not None else found
    return pd.Series(out, index=flags.index, dtype=object)


def split_exact_duplicates(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    """(first copies, repeated copies, line of the first copy per repeat), by ``_record_hash``.

    A byte-identical repeat is not a conflicting version: keep the first copy and quarantine
    the repeats, so the ``unique`` checks only catch keys submitted with different content.
    """
    if "_record_hash" not in df.columns or df.empty:
        return df, df.iloc[0:0], pd.Series([], dtype=object)
    rep = df.duplicated("_record_hash", keep="first") & df["_record_hash"].notna()
    if not rep.any():  # the usual case: skip the lookup of first lines
        return df.loc[~rep], df.iloc[0:0], pd.Series([], dtype=object)
    line_col = "_line" if "_line" in df.columns else None
    first = df.loc[~rep].drop_duplicates("_record_hash").set_index("_record_hash")
    first_line = df.loc[rep, "_record_hash"].map(first[line_col] if line_col else pd.Series(dtype=object))
    return df.loc[~rep], df.loc[rep], first_line


# ------------------------------------------------------------------ references
def _warehouse_codes(conn: Connection, table: str, column: str) -> set | None:
    cols = _columns(conn, table)
    if not cols or column not in cols:  # the mart is not built yet: fall back to the lake
        return None
    rows = conn.execute(sa.text(f'SELECT DISTINCT "{column}" FROM "{table}"')).all()
    return {r[0] for r in rows if r[0] is not None} or None


def _lake_codes(root: Path, table: str, column: str) -> set | None:
    files = sorted((root / table).glob("**/*.parquet"))
    if not files:
        return None
    codes: set = set()
    for f in files:
        codes.update(pd.read_parquet(f, columns=[column])[column].dropna().tolist())
    return codes or None


def load_refs(settings: Settings, conn: Connection, checks: list[Check]) -> RefSets:
    """Reference sets the foreign-key checks need: the warehouse dimension, else the registry in the lake."""
    refs: RefSets = {}
    for c in checks:
        if c.check_type != "foreign_key":
            continue
        key = (c.params["ref_table"], c.params["ref_field"])
        if key in refs:
            continue
        codes = _warehouse_codes(conn, *key)
        if codes is None and key == ("dim_institution", "institution_code"):
            codes = _lake_codes(settings.lake / "validated", "institution", "institution_code") or _lake_codes(
                settings.standard, "institution", "institution_code")
        if codes is not None:
            refs[key] = codes
    return refs


def insert_rows(conn: Connection, table: str, rows: list[dict], chunk: int = 200) -> int:
    """Multi-row INSERT with bound values: one statement per chunk (DuckDB's executemany runs
    one statement per row, which dominated the stage's time on small partitions)."""
    if not rows:
        return 0
    cols = list(rows[0])
    if conn.dialect.name.startswith("duckdb") and _insert_arrow(conn, table, cols, rows):
        return len(rows)
    for i in range(0, len(rows), chunk):
        part = rows[i:i + chunk]
        values = ", ".join("(" + ", ".join(f":{c}_{j}" for c in cols) + ")" for j in range(len(part)))
        params = {f"{c}_{j}": r[c] for j, r in enumerate(part) for c in cols}
        conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES {values}"), params)
    return len(rows)


def _insert_arrow(conn: Connection, table: str, cols: list[str], rows: list[dict]) -> bool:
    """DuckDB: one INSERT ... SELECT from a registered Arrow table (binding ~15 k parameters per
    statement took most of the stage). False when the values do not form an Arrow table."""
    import pyarrow as pa

    try:
        data = pa.Table.from_pydict({c: [r[c] for r in rows] for c in cols})
    except (pa.ArrowException, TypeError, ValueError):
        return False
    raw = conn.connection.driver_connection
    name = f"_rows_{table}"
    raw.register(name, data)
    try:
        names = ", ".join(cols)
        raw.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {name}")
    finally:
        raw.unregister(name)
    return True


# ------------------------------------------------------------------ the stage
def _partition(root: Path, table: str, source: str, institution: str, day: date) -> Path:
    return root / table / f"source={source}" / f"institution={institution}" / f"date={day.isoformat()}"


def _jsonable(v: Any) -> Any:
    if v is None or (not isinstance(v, (list, dict, str)) and pd.isna(v)):
        return None
    if isinstance(v, (pd.Timestamp, datetime, date)):
        return v.isoformat()
    if hasattr(v, "item"):
        return v.item()
    return v if isinstance(v, (str, int, float, bool)) else str(v)


class _Rows:
    """Row-wise read access to a frame without ``iterrows`` (which builds a Series per row).

    ``Series.tolist`` yields the same Python values ``iterrows`` does for every dtype of the
    standard layer (checked on a district day), so reasons and raw records are unchanged.
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        self.names = list(frame.columns)
        self.pos = {c: i for i, c in enumerate(self.names)}
        self.cols = [frame[c].tolist() for c in self.names]
        self.index = frame.index.tolist()

    def get(self, name: str, i: int) -> Any:
        j = self.pos.get(name)
        return None if j is None else self.cols[j][i]

    def raw_json(self, i: int) -> str:
        return json.dumps({k: _jsonable(col[i]) for k, col in zip(self.names, self.cols, strict=True)},
                          ensure_ascii=False, default=str)


def _findings(table: str, frame: pd.DataFrame, ids_per_row: list[list[str]], checks: dict[str, Check],
              batch_id: str, institution: str, day: date, now: datetime, raw: bool) -> list[dict]:
    """Quarantine-shaped rows for ``frame`` (``raw_record`` only when ``raw``)."""
    if frame.empty:
        return []
    rows = _Rows(frame)
    out = []
    for i, idx in enumerate(rows.index):
        ids = ids_per_row[i]
        file, line, msg = rows.get("_file", i), _jsonable(rows.get("_line", i)), _jsonable(rows.get("_message_id", i))
        where = f"line {line}" if line is not None else (f"message {msg}" if msg else f"row {idx}")
        parts = []
        for cid in ids:
            c = checks[cid]
            vals = ", ".join(f"{f}={_jsonable(rows.get(f, i))!r}" for f in c.referenced_columns)
            parts.append(f"{cid} [{describe(c)}] got {vals}")
        reason = f"{file} {where}: " + "; ".join(parts)
        locator = f"{line}|{msg}|{idx}"
        qid = hashlib.sha256(f"{batch_id}|{STAGE}|{ids[0]}|{locator}".encode()).hexdigest()[:24]
        out.append({
            "quarantine_id": qid, "batch_id": batch_id, "stage": STAGE, "dataset": table,
            "institution_code": institution, "partition_date": day, "check_id": f"{STAGE}.{ids[0]}",
            "reason": reason, "file_path": file, "line_no": line, "message_id": msg,
            "raw_record": rows.raw_json(i) if raw else None, "quarantined_at": now, "released": False,
        })
    return out


def quarantine_rows(table: str, rejected: pd.DataFrame, reject_checks: pd.Series, checks: dict[str, Check],
                    batch_id: str, institution: str, day: date, now: datetime) -> list[dict]:
    """One quarantine row per rejected record; the reason names file, line or message, check and values."""
    if rejected.empty:
        return []
    ids = reject_checks.loc[rejected.index].tolist()
    return _findings(table, rejected, ids, checks, batch_id, institution, day, now, raw=True)


def warning_rows(table: str, validated: pd.DataFrame, checks: dict[str, Check], batch_id: str,
                 institution: str, day: date, now: datetime) -> list[dict]:
    """One ``dq_warning`` row per kept record with warning findings, worded like a quarantine reason."""
    flagged = validated[validated[WARNINGS_COL].fillna("") != ""] if WARNINGS_COL in validated else validated.iloc[0:0]
    if flagged.empty:
        return []
    ids = flagged[WARNINGS_COL].map(lambda t: [c for c in str(t).split(";") if c in checks])
    known = ids.map(bool)
    q = _findings(table, flagged[known], ids[known].tolist(), checks, batch_id, institution, day, now, raw=False)
    return [{"warning_id": r["quarantine_id"], "batch_id": r["batch_id"], "dataset": r["dataset"],
             "institution_code": r["institution_code"], "partition_date": r["partition_date"],
             "check_id": r["check_id"], "reason": r["reason"], "file_path": r["file_path"], "line_no": r["line_no"],
             "message_id": r["message_id"], "raised_at": now} for r in q]


def duplicate_rows(table: str, repeats: pd.DataFrame, first_line: pd.Series, batch_id: str, institution: str,
                   day: date, now: datetime) -> list[dict]:
    """Quarantine rows for byte-identical repeats, naming the line of the copy that was kept."""
    if repeats.empty:
        return []
    rows = _Rows(repeats)
    firsts = first_line.loc[repeats.index].tolist()
    out = []
    for i, idx in enumerate(rows.index):
        line, msg = _jsonable(rows.get("_line", i)), _jsonable(rows.get("_message_id", i))
        where = f"line {line}" if line is not None else (f"message {msg}" if msg else f"row {idx}")
        reason = (f"{rows.get('_file', i)} {where}: exact duplicate of line {_jsonable(firsts[i])} "
                  f"(same record hash {str(rows.get('_record_hash', i))[:12]}); the first copy was kept")
        qid = hashlib.sha256(f"{batch_id}|{STAGE}|exact_duplicate|{line}|{msg}|{idx}".encode()).hexdigest()[:24]
        out.append({
            "quarantine_id": qid, "batch_id": batch_id, "stage": STAGE, "dataset": table,
            "institution_code": institution, "partition_date": day, "check_id": f"{STAGE}.{table}.exact_duplicate",
            "reason": reason, "file_path": rows.get("_file", i), "line_no": line, "message_id": msg,
            "raw_record": rows.raw_json(i), "quarantined_at": now, "released": False,
        })
    return out


def result_rows(outcomes: list[CheckOutcome], batch_id: str, table: str, layer: str, source: str | None,
                institution: str | None, day: date | None, now: datetime) -> list[dict]:
    return [{
        "batch_id": batch_id, "table_name": table, "check_id": o.check.check_id, "check_type": o.check.check_type,
        "layer": layer, "source": source, "institution_code": institution, "partition_date": day,
        "category": o.check.category, "severity": o.check.severity, "numerator": o.numerator,
        "denominator": o.denominator, "pct": o.pct, "threshold": o.check.threshold, "status": o.status,
        "note": o.note or None, "run_at": now,
    } for o in outcomes]


def validate_partition(settings: Settings, source: str, institution: str, day: date,
                       catalogue: list[Check] | None = None) -> StageReport:
    """Validate every standard-layer table of one partition (idempotent: replaces its outputs)."""
    cat = catalogue if catalogue is not None else load_catalogue()
    report = StageReport(STAGE, source, institution, day.isoformat())
    now = datetime.now().replace(microsecond=0)
    tables = sorted(p.name for p in settings.standard.glob("*") if p.is_dir()) if settings.standard.exists() else []
    with transaction(settings.warehouse_url) as conn:
        for table in tables:
            part = _partition(settings.standard, table, source, institution, day)
            files = sorted(part.glob("*.parquet"))
            if not files:
                continue
            checks = checks_for(cat, table)
            by_id = {c.check_id: c for c in checks}
            refs = load_refs(settings, conn, checks)
            out_dir = _partition(settings.lake / "validated", table, source, institution, day)
            counts = TableCounts()
            with staged_partition(out_dir) as staging:
                for f in files:
                    df = pd.read_parquet(f)
                    batch_id = str(df["_batch_id"].iloc[0]) if "_batch_id" in df.columns and len(df) else f.stem
                    kept, repeats, first_line = split_exact_duplicates(df)
                    res = validate_frame(kept, checks, refs)
                    res.validated.to_parquet(staging / f.name, index=False)
                    q = quarantine_rows(table, res.rejected, res.reject_checks, by_id, batch_id, institution, day, now)
                    q += duplicate_rows(table, repeats, first_line, batch_id, institution, day, now)
                    conn.execute(sa.text("DELETE FROM quarantine WHERE stage = :s AND batch_id = :b AND dataset = :t"),
                                 {"s": STAGE, "b": batch_id, "t": table})
                    insert_rows(conn, "quarantine", q)
                    conn.execute(sa.text("DELETE FROM dq_warning WHERE batch_id = :b AND dataset = :t"),
                                 {"b": batch_id, "t": table})
                    insert_rows(conn, "dq_warning", warning_rows(table, res.validated, by_id, batch_id, institution,
                                                                 day, now))
                    conn.execute(sa.text("DELETE FROM dq_check_result WHERE batch_id = :b AND table_name = :t"),
                                 {"b": batch_id, "t": table})
                    insert_rows(conn, "dq_check_result", result_rows(res.outcomes, batch_id, table, "standard", source,
                                                                     institution, day, now))
                    counts.rows_in += len(df)
                    counts.rows_validated += len(res.validated)
                    counts.rows_quarantined += len(res.rejected) + len(repeats)
                    counts.rows_exact_duplicates += len(repeats)
                    counts.rows_with_warnings += int((res.validated[WARNINGS_COL].fillna("") != "").sum())
                    report.checks_run += sum(o.status != "not_run" for o in res.outcomes)
                    report.checks_failed += sum(o.status == "fail" for o in res.outcomes)
                    report.checks_not_run += sum(o.status == "not_run" for o in res.outcomes)
            report.tables[table] = vars(counts)
            report.rows_in += counts.rows_in
            report.rows_out += counts.rows_validated
            report.rows_quarantined += counts.rows_quarantined
            report.reconciled &= counts.rows_in == counts.rows_validated + counts.rows_quarantined
    return report


# ------------------------------------------------------------------ warehouse marts and thresholds
def _columns(conn: Connection, table: str) -> set[str] | None:
    """Column names of a warehouse table, or None when it does not exist (no failed query:
    DuckDB cannot roll back to a savepoint)."""
    rows = conn.execute(sa.text(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = :t AND table_schema = current_schema()"), {"t": table}).all()
    return {r[0] for r in rows} or None


def validate_marts(conn: Connection, catalogue: list[Check] | None = None,
                   run_day: date | None = None) -> list[CheckOutcome]:
    """Run the mart checks inside the warehouse (SQL pushdown) and store them as batch ``marts:<day>``."""
    cat = catalogue if catalogue is not None else load_catalogue()
    day = run_day or date.today()
    batch_id = f"marts:{day.isoformat()}"
    now = datetime.now().replace(microsecond=0)
    everything: list[CheckOutcome] = []
    for table in MART_TABLES:
        checks = checks_for(cat, table)
        if not checks:
            continue
        cols = _columns(conn, table)
        ready, outcomes = [], []
        for c in checks:
            why = f"table {table} not built" if cols is None else runnable(c, cols, None)
            if not why and c.check_type == "foreign_key" and _columns(conn, c.params["ref_table"]) is None:
                why = f"reference table {c.params['ref_table']} not built"
            (outcomes.append(CheckOutcome(c, 0, 0, "not_run", why)) if why else ready.append(c))
        outcomes = push_down_counts(conn, table, ready) + outcomes
        replace_partition(conn, "dq_check_result", {"batch_id": batch_id, "table_name": table},
                          result_rows(outcomes, batch_id, table, "mart", None, None, day, now))
        everything += outcomes
    return everything


def recompute_status(conn: Connection, catalogue: list[Check] | None = None) -> int:
    """Apply the catalogue's current thresholds to stored counts (no re-validation); rows changed."""
    cat = catalogue if catalogue is not None else load_catalogue()
    changed = 0
    for c in cat:
        rows = conn.execute(sa.text(
            "SELECT batch_id, table_name, numerator, denominator, threshold, status FROM dq_check_result "
            "WHERE check_id = :c AND status <> 'not_run'"), {"c": c.check_id}).all()
        for b, t, num, den, thr, status in rows:
            new = status_for(int(num), int(den), c.threshold)
            if new != status or float(thr) != c.threshold:
                conn.execute(sa.text(
                    "UPDATE dq_check_result SET status = :s, threshold = :th "
                    "WHERE batch_id = :b AND table_name = :t AND check_id = :c"),
                    {"s": new, "th": c.threshold, "b": b, "t": t, "c": c.check_id})
                changed += 1
    return changed
