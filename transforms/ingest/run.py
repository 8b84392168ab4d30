"""Ingest one landing partition: log every file, read it by its profile, land raw Parquet.

``ingest_partition`` is idempotent for ``(source, institution, day)``: it clears the raw
partition and rewrites one Parquet file per landed batch; submission-log rows are keyed by
batch and quarantine rows are replaced per batch, so a rerun never duplicates anything.
Per file it reconciles ``rows_read = rows_landed + rows_quarantined`` and stores the
counts on the submission-log row.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa

from transforms.ingest import submission_log as slog
from transforms.ingest.quarantine import STAGE, quarantine_row
from transforms.ingest.raw_store import RawBatchWriter, RawPartition, lineage_for
from transforms.ingest.readers import RowBlock, iter_blocks
from transforms.ingest.textio import ReadNotes
from transforms.settings import MAPPINGS_DIR, Settings
from transforms.sources.profile import FileSpec, SourceProfile, load_profiles
from transforms.sources.records import Reject
from transforms.warehouse.db import (
    get_engine,
    migrate,
)
from transforms.yamlio import load_yaml

DATE_DIR = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass
class FileResult:
    file: str
    batch_id: str
    status: str
    profile_id: str | None = None
    table: str | None = None
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    declared_count: int | None = None
    reconciled: bool | None = None
    reason: str | None = None


@dataclass
class IngestReport:
    """What one partition's ingest did; totals are plain fields so the report serialises (XCom)."""

    source: str
    institution: str
    day: date
    files: list[FileResult] = field(default_factory=list)
    rows_read: int = 0
    rows_landed: int = 0
    rows_quarantined: int = 0
    status_counts: dict[str, int] = field(default_factory=dict)
    reconciled: bool = True

    def add(self, result: FileResult) -> None:
        self.files.append(result)
        self.rows_read += result.rows_read
        self.rows_landed += result.rows_landed
        self.rows_quarantined += result.rows_quarantined
        self.status_counts[result.status] = self.status_counts.get(result.status, 0) + 1
        self.reconciled = self.reconciled and result.reconciled is not False

    def by_status(self, status: str) -> list[FileResult]:
        return [f for f in self.files if f.status == status]


def discover_partitions(settings: Settings, day: date | None = None) -> list[tuple[str, str, date]]:
    """Every ``(source, institution, day)`` folder under landing (optionally one day)."""
    out = []
    if not settings.landing.is_dir():
        return out
    for src in sorted(p for p in settings.landing.iterdir() if p.is_dir()):
        for inst in sorted(p for p in src.iterdir() if p.is_dir()):
            for d in sorted(p for p in inst.iterdir() if p.is_dir() and DATE_DIR.match(p.name)):
                when = date.fromisoformat(d.name)
                if day is None or when == day:
                    out.append((src.name, inst.name, when))
    return out


def _literal_chars(pattern: str) -> int:
    return len(re.sub(r"\[[^\]]*\]|[*?]", "", pattern))


def choose_profile(profiles: dict[str, SourceProfile], pins: list[dict], source: str, institution: str,
                   filename: str) -> tuple[SourceProfile | None, FileSpec | None, str]:
    """Pinned profiles first (first pin matching the folder), else the most specific pattern."""
    for pin in pins:
        if pin.get("source") == source and fnmatch.fnmatchcase(institution, str(pin.get("institution", ""))):
            ids = pin.get("profiles") or ([pin["profile"]] if pin.get("profile") else [])
            for pid in ids:
                prof = profiles.get(pid)
                if prof is None:
                    return None, None, f"onboarding pin names unknown profile {pid!r}"
                spec = prof.spec_for(filename)
                if spec:
                    return prof, spec, f"pinned {pid}"
            return None, None, f"no file pattern of pinned profile(s) {ids} matches {filename!r}"
    cands = []
    for prof in profiles.values():
        if prof.source != source:
            continue
        spec = prof.spec_for(filename)
        if spec:
            cands.append((_literal_chars(spec.pattern), prof, spec))
    if not cands:
        return None, None, f"no profile of source {source!r} has a file pattern matching {filename!r}"
    cands.sort(key=lambda c: -c[0])
    if len(cands) > 1 and cands[0][0] == cands[1][0]:
        tied = [c[1].id for c in cands if c[0] == cands[0][0]]
        return None, None, f"{filename!r} matches several profiles equally {tied}; pin one in onboarding.yaml"
    return cands[0][1], cands[0][2], f"pattern {cands[0][2].pattern}"


def load_pins(profiles_dir: Path) -> list[dict]:
    """The ``pins`` list of ``onboarding.yaml`` (empty when the file is absent)."""
    path = profiles_dir / "onboarding.yaml"
    if not path.exists():
        return []
    data = load_yaml(path)
    return list((data or {}).get("pins") or [])


def profiles_and_pins(profiles_dir: Path) -> tuple[dict[str, SourceProfile], list[dict]]:
    """Profiles and pins, re-read only when a YAML file in the folder changed (a day has
    hundreds of partitions; parsing every profile for each one dominated the run)."""
    stamp = tuple((p.name, p.stat().st_mtime_ns) for p in sorted(profiles_dir.glob("*.yaml")))
    return _profiles_cached(str(profiles_dir), stamp)


@lru_cache(maxsize=8)
def _profiles_cached(profiles_dir: str, stamp: tuple) -> tuple[dict[str, SourceProfile], list[dict]]:
    return load_profiles(Path(profiles_dir)), load_pins(Path(profiles_dir))


def migrate_core(engine) -> list[str]:
    """Apply only the core migrations (0001-0099) that ingest writes to.

    Why not the full ``db.migrate``: ingest is the first stage and must keep landing files even
    while a later module's migration is broken or mid-edit; the full migrate runs in later stages
    and applies the rest in order, since versions are recorded the same way. ``db.migrate``
    remembers an up-to-date warehouse per process, so the check costs nothing per partition.
    """
    return migrate(engine, below="0100")


def _landing_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.name != slog.MANIFEST and not p.name.startswith(".")]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def ingest_partition(settings: Settings, source: str, institution: str, day: date, *,
                     profiles_dir: Path | None = None) -> IngestReport:
    """Log, read and land every file of one landing partition; see the module docstring."""
    profiles, pins = profiles_and_pins(profiles_dir or MAPPINGS_DIR / "sources")
    folder = settings.landing / source / institution / day.isoformat()
    report = IngestReport(source, institution, day)
    if not folder.is_dir():
        return report
    manifest = slog.load_manifest(folder)
    engine = get_engine(settings.warehouse_url)
    migrate_core(engine)
    # One warehouse transaction per partition (it commits before the raw folders are swapped
    # in, as the per-file commits did): a failure part-way leaves the log as it was, and a
    # day's hundreds of files no longer pay a begin/commit each.
    with RawPartition(settings, source, institution, day) as raw, engine.begin() as conn:
        staged: dict[str, RawBatchWriter] = {}
        superseded: set[str] = set()
        quarantine = QuarantineLog(conn)
        paths = _landing_files(folder)
        subs = [slog.new_submission(path, path.relative_to(settings.landing).as_posix(), source, institution, day,
                                    manifest.get(path.name)) for path in paths]
        log = slog.PartitionLog(conn, subs)
        for path, sub in zip(paths, subs, strict=True):
            result, writer, replaced = _ingest_file(log, raw, quarantine, path, sub, profiles, pins, source,
                                                    institution, day)
            report.add(result)
            if writer is not None:
                staged[writer.batch_id] = writer
            if replaced:
                superseded.add(replaced)
        for batch in superseded & set(staged):
            staged.pop(batch).discard()
        log.flush()
        quarantine.flush()
    return report


def _ingest_file(log: slog.PartitionLog, raw: RawPartition, quarantine: QuarantineLog, path: Path,
                 sub: slog.Submission, profiles, pins, source: str, institution: str,
                 day: date) -> tuple[FileResult, RawBatchWriter | None, str | None]:
    """Log and read one file; returns its result, its staged raw batch, and the batch it supersedes."""
    rel, declared = sub.file_path, sub.declared_count
    prof, spec, why = choose_profile(profiles, pins, source, institution, path.name)
    table = spec.table if spec else None
    sub.profile_id, sub.dataset = (prof.id if prof else None), table
    old = log.classify_and_find(sub, table)
    res = FileResult(rel, sub.batch_id, sub.status, sub.profile_id, table, declared_count=declared)
    if old and old.get("superseded_by"):  # a later correction replaced it: keep its log row as is
        res.status, res.reason = old["status"], f"superseded by batch {old['superseded_by']}; not landed"
        return res, None, None
    if sub.status == "duplicate":
        log.upsert(sub, old=old)
        res.reason = sub.status_reason
        return res, None, None
    if prof is None or spec is None:
        sub.status, sub.status_reason = "rejected", why
        log.upsert(sub, old=old)
        res.status, res.reason = "rejected", why
        return res, None, None

    notes = ReadNotes()
    writer = raw.writer(spec.table, lineage_for(sub.batch_id, source, prof.id, institution, day, rel))
    try:
        sink = QuarantineSink(quarantine, sub.batch_id, spec.table, institution, day, rel)
        file_reject = _read_into(path, prof, spec, notes, writer, sink)
        writer.close()
    except BaseException:  # infrastructure failure (disk, warehouse): the stage fails, nothing published
        writer.abort()
        raise
    landed = writer.count if file_reject is None else 0
    if file_reject is not None:
        writer.discard()
        sub.status, sub.status_reason = "rejected", file_reject.reason
    sub.rows_landed, sub.rows_quarantined = landed, sink.count
    sub.rows_read = landed + sink.count
    sub.encoding, sub.notes = notes.encoding or None, notes.summary() or None
    sub.is_zero_report = sub.status != "rejected" and sub.rows_read == 0 and declared in (None, 0)
    count_ok = declared is None or declared == sub.rows_read
    sub.reconciled = sub.rows_read == sub.rows_landed + sub.rows_quarantined and count_ok
    if not count_ok:
        extra = f"declared {declared} records, read {sub.rows_read}"
        sub.notes = f"{sub.notes}; {extra}" if sub.notes else extra
    log.upsert(sub, old=old)
    if sub.supersedes:
        log.mark_superseded(sub.supersedes, sub.batch_id)
        quarantine.clear(sub.supersedes)
    res.status, res.reason = sub.status, sub.status_reason
    res.rows_read, res.rows_landed, res.rows_quarantined = sub.rows_read, landed, sink.count
    res.reconciled = sub.reconciled
    return res, (writer if file_reject is None else None), sub.supersedes


def _read_into(path: Path, prof: SourceProfile, spec: FileSpec, notes: ReadNotes, writer: RawBatchWriter,
               sink: QuarantineSink) -> Reject | None:
    """Stream records into the raw writer and the quarantine; returns the file-level reject, if any.

    Only the *reader* is guarded: a file that cannot be parsed is rejected (bad input), while
    a failing write (full disk, lost warehouse) propagates and fails the stage.
    """
    records = iter_blocks(path, prof, spec, notes=notes)
    file_reject: Reject | None = None
    while True:
        try:
            rec = next(records)
        except StopIteration:
            return file_reject
        except Exception as exc:  # a corrupt container (zip, JSON, ...) must not stop the partition
            file_reject = Reject("ingest.unreadable",
                                 f"{path.name}: unreadable as {prof.format} ({prof.id}) after {writer.count} "
                                 f"record(s): {type(exc).__name__}: {str(exc)[:200]}", table=spec.table,
                                 extra={"scope": "file"})
            sink.add(file_reject)
            return file_reject
        if isinstance(rec, RowBlock):
            writer.add_columns(rec.values, rec.lines, rec.raws)
        elif isinstance(rec, Reject):
            if rec.extra.get("scope") == "file":
                file_reject = rec
            sink.add(rec)
        else:
            writer.add(rec)


class QuarantineLog:
    """The partition's ingest quarantine rows, in its transaction: batches are cleared (rerun)
    and rows inserted in as few statements as possible.

    Why: one DELETE per landed file was ~5 ms each through SQLAlchemy on DuckDB, for nothing
    on a clean day. ``clear`` only records the batch (and drops its rows buffered so far);
    ``flush`` deletes every recorded batch in one statement, then inserts the buffered rows.
    The table ends as with a DELETE per batch at the time of ``clear``: rows buffered after a
    ``clear`` survive it, and a batch whose rows were already flushed is deleted at once.
    """

    CHUNK = 10_000

    def __init__(self, conn):
        self.conn = conn
        self.rows: list[dict] = []
        self.to_clear: set[str] = set()
        self.flushed: set[str] = set()  # batches with rows inserted by this log

    def clear(self, batch_id: str) -> None:
        """Remove the batch's ingest quarantine rows (earlier runs' and this run's so far)."""
        self.rows = [r for r in self.rows if r["batch_id"] != batch_id]
        self.to_clear.add(batch_id)
        if batch_id in self.flushed:
            self._delete()
            self.flushed.discard(batch_id)

    def add(self, row: dict) -> None:
        self.rows.append(row)
        if len(self.rows) >= self.CHUNK:
            self.flush()

    def _delete(self) -> None:
        if self.to_clear:
            ids = sorted(self.to_clear)
            marks = ", ".join(f":b{k}" for k in range(len(ids)))
            self.conn.execute(sa.text(f"DELETE FROM quarantine WHERE stage = :stage AND batch_id IN ({marks})"),
                              {"stage": STAGE, **{f"b{k}": b for k, b in enumerate(ids)}})
            self.to_clear = set()

    def flush(self) -> None:
        """Apply the pending clears, then insert the buffered rows (one multi-row statement)."""
        self._delete()
        if not self.rows:
            return
        cols = list(self.rows[0])
        stmt = sa.text(f"INSERT INTO quarantine ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})")
        self.conn.execute(stmt, self.rows)
        self.flushed.update(r["batch_id"] for r in self.rows)
        self.rows = []


class QuarantineSink:
    """Quarantine rows of one batch (numbered from 1): the batch is cleared first (rerun),
    then its rejects go to the partition's ``QuarantineLog``."""

    def __init__(self, log: QuarantineLog, batch_id: str, dataset: str, institution: str, day: date, rel: str):
        self.log, self.args = log, (batch_id, dataset, institution, day, rel)
        self.now = datetime.now().replace(microsecond=0)
        self.count = 0
        log.clear(batch_id)

    def add(self, reject: Reject) -> None:
        self.count += 1
        batch_id, dataset, institution, day, rel = self.args
        self.log.add(quarantine_row(reject, self.count, batch_id, dataset, institution, day, rel, self.now))


def submission_rows(settings: Settings, source: str | None = None) -> list[dict]:
    """The submission log as dicts (for reports and tests)."""
    engine = get_engine(settings.warehouse_url)
    migrate_core(engine)
    sql = "SELECT * FROM submission_log" + (" WHERE source = :s" if source else "") + " ORDER BY arrival_time, file_path"
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.text(sql), {"s": source} if source else {})]
