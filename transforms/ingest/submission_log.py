"""The submission log: every landed file, registered once, with its status.

Completeness and timeliness reports are built on this table, so duplicates, late files,
corrections, rejections and explicit zero reports are first-class states, not log lines.

Decisions:
- ``batch_id`` is ``sha256(bytes)[:16]`` (same bytes = same batch). A *duplicate* (same
  bytes already logged from the same source and institution under another path, any name,
  any day) is still logged, under ``sha256(bytes + path)[:16]`` so the primary key stays
  unique, with ``duplicate_of``. Identical bytes from another institution, and header-only
  zero reports (identical every day), are not duplicates; they get that path-salted id too.
- *corrected*: the name carries ``_corr<N>`` before the extension, or a file with the same
  base name in the same (source, institution, date) was logged earlier with other bytes.
  It ``supersedes`` the latest such batch, which gets ``superseded_by`` and leaves the lake.
- *late*: arrival (file mtime, in the calendar's time zone) after the calendar deadline of the dataset
  (``mappings/submission_calendar.yaml``), else next day 06:00.
- Precedence: rejected > duplicate > corrected > late > new; the reason names the others.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.settings import MAPPINGS_DIR

Status = Literal["new", "duplicate", "late", "corrected", "rejected"]
CORR = re.compile(r"^(?P<base>.+?)_corr(?P<n>\d+)$")
MANIFEST = "_manifest.json"
DEFAULT_ZONE = "Asia/Shanghai"


@dataclass
class Submission:
    """One row of ``submission_log`` (column names are the table's)."""

    batch_id: str
    source: str
    institution_code: str
    partition_date: date
    file_path: str
    checksum: str
    size_bytes: int
    arrival_time: datetime
    first_seen_at: datetime
    status: Status = "new"
    profile_id: str | None = None
    dataset: str | None = None
    declared_count: int | None = None
    status_reason: str | None = None
    duplicate_of: str | None = None
    supersedes: str | None = None
    superseded_by: str | None = None
    rows_read: int | None = None
    rows_landed: int | None = None
    rows_quarantined: int | None = None
    is_zero_report: bool | None = None
    reconciled: bool | None = None
    encoding: str | None = None
    notes: str | None = None


def file_checksum(path: Path) -> str:
    """Full sha256 of the file, streamed."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def base_name(filename: str) -> tuple[str, int | None]:
    """``mz_20260301_corr2.csv`` → (``mz_20260301.csv``, 2); other names → (name, None)."""
    stem, dot, ext = filename.rpartition(".")
    if not dot:
        stem, ext = filename, ""
    m = CORR.match(stem)
    if not m:
        return filename, None
    return m.group("base") + (f".{ext}" if dot else ""), int(m.group("n"))


def load_manifest(folder: Path) -> dict[str, int | None]:
    """Declared counts from the ``_manifest.json`` sidecar (empty when absent)."""
    path = folder / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: unreadable manifest: {exc}") from exc
    out: dict[str, int | None] = {}
    for name, meta in (data.get("files") or {}).items():
        count = meta.get("declared_count") if isinstance(meta, dict) else None
        out[name] = int(count) if count is not None else None
    return out


def deadline(source: str, table: str | None, day: date, calendar_path: Path | None = None) -> datetime:
    """When a file for ``day`` is due: the calendar's dataset deadline, else next day 06:00."""
    path = calendar_path or MAPPINGS_DIR / "submission_calendar.yaml"
    if table and path.exists():
        for ds in _calendar(str(path), path.stat().st_mtime_ns).datasets:
            if ds.source == source and ds.table == table:
                return ds.deadline.due(day)
    return datetime.combine(day + timedelta(days=1), time(6, 0))


@lru_cache(maxsize=4)
def _calendar(path: str, mtime_ns: int):
    from transforms.sources.calendar import load_calendar

    return load_calendar(Path(path))


def local_zone(calendar_path: Path | None = None) -> ZoneInfo:
    """The region's wall-clock zone (calendar ``timezone``, default Asia/Shanghai).

    Deadlines are local wall-clock times, so arrival times are stored in the same zone
    (naive), whatever zone the server runs in.
    """
    path = calendar_path or MAPPINGS_DIR / "submission_calendar.yaml"
    name = _calendar(str(path), path.stat().st_mtime_ns).timezone if path.exists() else DEFAULT_ZONE
    return ZoneInfo(name)


def new_submission(path: Path, rel_path: str, source: str, institution: str, day: date,
                   declared: int | None) -> Submission:
    """A log entry for a file as found on disk (status still ``new``)."""
    checksum = file_checksum(path)
    st = path.stat()
    zone = local_zone()
    return Submission(
        batch_id=checksum[:16], source=source, institution_code=institution, partition_date=day,
        file_path=rel_path, checksum=checksum, size_bytes=st.st_size,
        arrival_time=datetime.fromtimestamp(st.st_mtime, zone).replace(tzinfo=None, microsecond=0),
        first_seen_at=datetime.now(zone).replace(tzinfo=None, microsecond=0), declared_count=declared,
    )


def _rows(conn: Connection, sql: str, **params: object) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(sa.text(sql), params)]


def classify(conn: Connection, sub: Submission, table: str | None) -> Submission:
    """Set duplicate / corrected / late on ``sub`` against what the log already holds."""
    classify_and_find(conn, sub, table)
    return sub


def classify_and_find(conn: Connection, sub: Submission, table: str | None) -> dict | None:
    """``classify``, and return ``existing(conn, sub.batch_id)`` for the batch id it settled on.

    Why one query: every file needs the log rows with its checksum, the rows of its
    (source, institution, date) and its own row; asked separately that was three warehouse
    round trips per file (a day has hundreds of files). All filtered columns are NOT NULL,
    so filtering the union in Python selects exactly what the separate queries did, in
    the same ``ORDER BY arrival_time, file_path`` order.
    """
    salted = hashlib.sha256((sub.checksum + sub.file_path).encode()).hexdigest()[:16]
    rows = _rows(conn, "SELECT * FROM submission_log WHERE checksum = :c OR batch_id IN (:b1, :b2) "
                       "OR (source = :s AND institution_code = :i AND partition_date = :d) "
                       "ORDER BY arrival_time, file_path",
                 c=sub.checksum, b1=sub.batch_id, b2=salted, s=sub.source, i=sub.institution_code,
                 d=sub.partition_date)
    _classify(sub, table, rows)
    return next((r for r in rows if r["batch_id"] == sub.batch_id), None)


def _classify(sub: Submission, table: str | None, rows: list[dict]) -> None:
    prior = [r for r in rows if r["checksum"] == sub.checksum and r["file_path"] != sub.file_path
             and r["status"] != "duplicate"]
    if prior:  # same bytes under another path: its own batch id keeps the primary key unique
        sub.batch_id = hashlib.sha256((sub.checksum + sub.file_path).encode()).hexdigest()[:16]
    # A re-delivery is the same bytes from the same sender. Identical bytes from another
    # institution, or a header-only explicit zero report (identical every day), are not.
    same_sender = [r for r in prior if r["source"] == sub.source and r["institution_code"] == sub.institution_code]
    if same_sender and not _is_zero_record_file(sub):
        orig = same_sender[0]
        sub.status = "duplicate"
        sub.duplicate_of = orig["batch_id"]
        sub.batch_id = hashlib.sha256((sub.checksum + sub.file_path).encode()).hexdigest()[:16]
        sub.status_reason = f"same bytes as {orig['file_path']} (batch {orig['batch_id']}); not landed again"
        return
    name = Path(sub.file_path).name
    base, corr = base_name(name)
    folder = str(Path(sub.file_path).parent)
    earlier = [
        r for r in rows
        if r["source"] == sub.source and r["institution_code"] == sub.institution_code
        and r["partition_date"] == sub.partition_date and r["checksum"] != sub.checksum
        and r["status"] not in ("duplicate", "rejected")
        and str(Path(r["file_path"]).parent) == folder and base_name(Path(r["file_path"]).name)[0] == base
        and (base_name(Path(r["file_path"]).name)[1] or 0, r["arrival_time"]) < (corr or 0, sub.arrival_time)
    ]
    reasons = []
    due = deadline(sub.source, table, sub.partition_date)
    late = sub.arrival_time > due
    if corr is not None or earlier:
        sub.status = "corrected"
        if earlier:
            sub.supersedes = earlier[-1]["batch_id"]
            reasons.append(f"corrects {earlier[-1]['file_path']} (batch {sub.supersedes})")
        else:
            reasons.append(f"named as correction {corr} but no earlier {base} was logged")
    elif late:
        sub.status = "late"
    if late:
        reasons.append(f"arrived {sub.arrival_time:%Y-%m-%d %H:%M} after deadline {due:%Y-%m-%d %H:%M}")
    sub.status_reason = "; ".join(reasons) or None


def _is_zero_record_file(sub: Submission) -> bool:
    """Declared 0, or at most a header line: an explicit zero-record report."""
    if sub.declared_count == 0:
        return True
    return sub.size_bytes < 4096 and sub.declared_count is None and _nonblank_lines(sub) <= 1


def _nonblank_lines(sub: Submission) -> int:
    from transforms.settings import load_settings

    path = load_settings().landing / sub.file_path
    try:
        return sum(1 for line in path.read_bytes().splitlines() if line.strip())
    except OSError:
        return 2


def existing(conn: Connection, batch_id: str) -> dict | None:
    rows = _rows(conn, "SELECT * FROM submission_log WHERE batch_id = :b", b=batch_id)
    return rows[0] if rows else None


_UNREAD: dict = {}


def upsert(conn: Connection, sub: Submission, *, old: dict | None = _UNREAD) -> None:
    """Write the entry, keeping ``first_seen_at`` and ``superseded_by`` of an earlier run.

    ``old``: the caller's ``existing(conn, sub.batch_id)`` from the same transaction, to save
    a query per file; looked up when not given.
    """
    if old is _UNREAD:
        old = existing(conn, sub.batch_id)
    if old:
        sub.first_seen_at = old["first_seen_at"]
        sub.superseded_by = sub.superseded_by or old.get("superseded_by")
    row = asdict(sub)
    if old:
        conn.execute(sa.text("DELETE FROM submission_log WHERE batch_id = :b"), {"b": sub.batch_id})
    cols = [f.name for f in fields(Submission)]
    conn.execute(sa.text(f"INSERT INTO submission_log ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"),
                 row)


def mark_superseded(conn: Connection, old_batch: str, new_batch: str) -> None:
    conn.execute(sa.text("UPDATE submission_log SET superseded_by = :n WHERE batch_id = :o"),
                 {"n": new_batch, "o": old_batch})


class PartitionLog:
    """The submission log as one partition's ingest sees it: read once, written once.

    Why: asked per file, classification (a SELECT) and the log row (an INSERT) were two
    warehouse statements per landed file, ~8 ms each through SQLAlchemy on DuckDB. Here one
    SELECT fetches every log row any file of the partition can match (its checksums, its
    possible batch ids, the partition's own rows); ``classify_and_find``, ``upsert`` and
    ``mark_superseded`` then work on that set, in file order, exactly as the per-file
    statements did on the table; ``flush`` writes the changes (deletes, updates of rows
    kept, one multi-row INSERT) in the caller's transaction.
    """

    def __init__(self, conn: Connection, subs: list[Submission]):
        self.conn = conn
        self.pending: dict[str, dict] = {}  # batch id -> row inserted by this log
        self.deleted: set[str] = set()  # batch ids of warehouse rows to delete
        self.updated: dict[str, str] = {}  # warehouse rows kept: batch id -> superseded_by
        self.rows: list[dict] = []
        if not subs:
            return
        checksums = sorted({s.checksum for s in subs})
        ids = sorted({i for s in subs for i in (s.batch_id, _salted(s))})
        keys = sorted({(s.source, s.institution_code, s.partition_date) for s in subs})
        params: dict[str, object] = {}
        where = []
        for name, values in (("c", checksums), ("b", ids)):
            params.update({f"{name}{k}": v for k, v in enumerate(values)})
            marks = ", ".join(f":{name}{k}" for k in range(len(values)))
            where.append(f"{'checksum' if name == 'c' else 'batch_id'} IN ({marks})")
        for k, (s, i, d) in enumerate(keys):
            params.update({f"s{k}": s, f"i{k}": i, f"d{k}": d})
            where.append(f"(source = :s{k} AND institution_code = :i{k} AND partition_date = :d{k})")
        self.rows = _rows(conn, f"SELECT * FROM submission_log WHERE {' OR '.join(where)}", **params)

    def _matching(self, sub: Submission) -> list[dict]:
        """The rows ``classify_and_find``'s query returns, in its order."""
        ids = (sub.batch_id, _salted(sub))
        key = (sub.source, sub.institution_code, sub.partition_date)
        out = [r for r in self.rows if r["checksum"] == sub.checksum or r["batch_id"] in ids
               or (r["source"], r["institution_code"], r["partition_date"]) == key]
        return sorted(out, key=lambda r: (r["arrival_time"], r["file_path"]))

    def classify_and_find(self, sub: Submission, table: str | None) -> dict | None:
        """As the module-level ``classify_and_find``, on this partition's view of the log."""
        rows = self._matching(sub)
        _classify(sub, table, rows)
        return next((r for r in rows if r["batch_id"] == sub.batch_id), None)

    def upsert(self, sub: Submission, *, old: dict | None) -> None:
        """As the module-level ``upsert`` (``old`` from ``classify_and_find``); written by ``flush``."""
        if old:
            sub.first_seen_at = old["first_seen_at"]
            sub.superseded_by = sub.superseded_by or old.get("superseded_by")
            self.rows = [r for r in self.rows if r["batch_id"] != sub.batch_id]
            if self.pending.pop(sub.batch_id, None) is None:
                self.deleted.add(sub.batch_id)
                self.updated.pop(sub.batch_id, None)
        row = asdict(sub)
        self.rows.append(row)
        self.pending[sub.batch_id] = row

    def mark_superseded(self, old_batch: str, new_batch: str) -> None:
        """As the module-level ``mark_superseded``."""
        for r in self.rows:
            if r["batch_id"] == old_batch:
                r["superseded_by"] = new_batch
        if old_batch not in self.pending:
            self.updated[old_batch] = new_batch

    def flush(self) -> None:
        """Write the partition's log changes: deletes, updates of kept rows, one INSERT."""
        if self.deleted:
            ids = sorted(self.deleted)
            marks = ", ".join(f":b{k}" for k in range(len(ids)))
            self.conn.execute(sa.text(f"DELETE FROM submission_log WHERE batch_id IN ({marks})"),
                              {f"b{k}": b for k, b in enumerate(ids)})
        for old_batch, new_batch in self.updated.items():
            mark_superseded(self.conn, old_batch, new_batch)
        if self.pending:
            cols = [f.name for f in fields(Submission)]
            self.conn.execute(sa.text(f"INSERT INTO submission_log ({', '.join(cols)}) "
                                      f"VALUES ({', '.join(':' + c for c in cols)})"), list(self.pending.values()))
        self.deleted, self.updated, self.pending = set(), {}, {}


def _salted(sub: Submission) -> str:
    return hashlib.sha256((sub.checksum + sub.file_path).encode()).hexdigest()[:16]
