"""Raw lake writer: one Parquet file per batch inside its hive partition, written in chunks.

Every canonical field is a string (typing is standardise's job), plus ``LINEAGE_FIELDS``.
Rows are buffered column-wise and flushed every ``CHUNK_ROWS`` as one row group, so a
file of any size is written with bounded memory. Readers that already hold whole columns
(the CSV fast path) hand them over with ``RawBatchWriter.add_columns``; the Parquet written
is the same as row by row.

Why staged publishing: a partition is replaced, never appended, and a failure part-way
(full disk, killed worker) must leave readers the previous partition whole. ``RawPartition``
stages each raw table's partition folder with ``transforms.lakeio.staged_partition`` (the
same mechanism as standardise and validate): batches are written into a hidden staging
folder beside it, and only when every file of the partition has been read are the folders
swapped in (stale batches go with the replaced folder).
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.canonical import LINEAGE_FIELDS, TABLES
from transforms.canonical import table as canonical_table
from transforms.lakeio import staged_partition
from transforms.settings import Settings
from transforms.sources.records import Row

CHUNK_ROWS = 50_000
DRAIN_ROWS = 2_000  # rows from ``add`` kept as objects before they are turned into columns
_LINEAGE_TYPES = {"_partition_date": pa.date32(), "_line": pa.int64()}


def raw_schema(table: str) -> pa.Schema:
    cols = [pa.field(n, pa.string()) for n in canonical_table(table).field_names]
    cols += [pa.field(f.name, _LINEAGE_TYPES.get(f.name, pa.string())) for f in LINEAGE_FIELDS]
    return pa.schema(cols)


def partition_dir(settings: Settings, table: str, source: str, institution: str, day: date) -> Path:
    return settings.raw / table / f"source={source}" / f"institution={institution}" / f"date={day.isoformat()}"


class RawPartition:
    """The raw tables of one ``(source, institution, day)``, published whole or not at all.

    Use as a context manager around the partition's ingest: ``writer`` opens a staging folder
    per table on first use; a clean exit also stages (empty) every table folder that already
    exists, so batches not written this run leave the lake, then swaps all folders in. An
    exception removes the staging folders and leaves the published partition untouched.
    """

    def __init__(self, settings: Settings, source: str, institution: str, day: date):
        self.settings, self.source, self.institution, self.day = settings, source, institution, day
        self._stack = ExitStack()
        self._staging: dict[str, Path] = {}

    def __enter__(self) -> RawPartition:
        self._stack.__enter__()
        return self

    def staging(self, table: str) -> Path:
        """The staging folder of ``table``'s partition (created on first use)."""
        if table not in self._staging:
            out = partition_dir(self.settings, table, self.source, self.institution, self.day)
            self._staging[table] = self._stack.enter_context(staged_partition(out))
        return self._staging[table]

    def writer(self, table: str, lineage: dict[str, object]) -> RawBatchWriter:
        return RawBatchWriter(self.settings, table, self.source, self.institution, self.day, lineage,
                              folder=self.staging(table))

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            try:
                for table in TABLES:  # clear stale batches of tables not written this run
                    if table not in self._staging and partition_dir(
                            self.settings, table, self.source, self.institution, self.day).is_dir():
                        self.staging(table)
            except BaseException as err:
                if not self._stack.__exit__(type(err), err, err.__traceback__):
                    raise
                return False
        return bool(self._stack.__exit__(exc_type, exc, tb))


def record_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class RawBatchWriter:
    """Append rows of one batch to ``<batch_id>.parquet`` in a staging folder (``RawPartition``).

    Without ``folder`` it writes straight into the published partition folder: only for
    tools and tests that do not need the whole-or-nothing guarantee.
    """

    def __init__(self, settings: Settings, table: str, source: str, institution: str, day: date,
                 lineage: dict[str, object], *, folder: Path | None = None):
        self.schema = raw_schema(table)
        self.names = canonical_table(table).field_names
        if folder is None:
            folder = partition_dir(settings, table, source, institution, day)
            folder.mkdir(parents=True, exist_ok=True)
        self.batch_id = str(lineage["_batch_id"])
        self.path = folder / f"{self.batch_id}.parquet"
        self.lineage = lineage
        self.per_row = ["_line", "_message_id", "_record_hash"]
        self.columns: dict[str, list] = {n: [] for n in [*self.names, *self.per_row]}
        self.pending: list[Row] = []  # rows from ``add``, turned into columns a chunk at a time
        self.count = 0
        self.writer = pq.ParquetWriter(self.path, self.schema)

    def add(self, row: Row) -> None:
        self.pending.append(row)
        self.count += 1
        if len(self.pending) >= DRAIN_ROWS:  # bound memory: a Row with its dict is ~10x its columns' share
            self._drain()
        if len(self.columns["_line"]) + len(self.pending) >= CHUNK_ROWS:
            self.flush()

    def _drain(self) -> None:
        """Move ``pending`` rows into the column buffers (one comprehension per column, not
        one append per field per row: the per-row cost of every non-CSV reader)."""
        rows, self.pending = self.pending, []
        if not rows:
            return
        cols = self.columns
        for n in self.names:
            cols[n].extend([r.values.get(n) for r in rows])
        cols["_line"].extend([r.line for r in rows])
        cols["_message_id"].extend([r.message_id for r in rows])
        sha = hashlib.sha256
        cols["_record_hash"].extend([sha(r.raw.encode("utf-8")).hexdigest() for r in rows])

    def add_columns(self, values: dict[str, list], lines: list[int], raws: list[str]) -> None:
        """Append a block of rows given column-wise (``values`` per canonical field, absent = null).

        Row groups are cut at the same ``CHUNK_ROWS`` boundaries as ``add``, so the file is
        the same as if the rows had been added one by one.
        """
        n = len(lines)
        if not n:
            return
        self._drain()
        cols = self.columns
        nulls = [None] * n
        for name in self.names:
            cols[name].extend(values.get(name, nulls))
        cols["_line"].extend(lines)
        cols["_message_id"].extend(nulls)
        sha = hashlib.sha256
        cols["_record_hash"].extend([sha(r.encode("utf-8")).hexdigest() for r in raws])
        self.count += n
        while len(cols["_line"]) >= CHUNK_ROWS:
            self.flush()
            cols = self.columns

    def flush(self) -> None:
        """Write up to ``CHUNK_ROWS`` buffered rows as one row group."""
        self._drain()
        n = min(len(self.columns["_line"]), CHUNK_ROWS)
        if not n:
            return
        arrays = []
        for f in self.schema:
            data = self.columns[f.name][:n] if f.name in self.columns else [self.lineage[f.name]] * n
            arrays.append(pa.array(data, type=f.type))
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.columns = {k: v[n:] for k, v in self.columns.items()}

    def close(self) -> Path:
        """Finish the file (in its staging folder, published when ``RawPartition`` exits)."""
        self._drain()
        while self.columns["_line"]:
            self.flush()
        if self.count == 0:
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()
        return self.path

    def abort(self) -> None:
        """Close and delete the file (a failed or rejected batch leaves nothing behind)."""
        try:
            self.writer.close()
        finally:
            self.path.unlink(missing_ok=True)

    def discard(self) -> None:
        """Delete the finished file (the batch is rejected or superseded): it is not published."""
        self.path.unlink(missing_ok=True)


def lineage_for(batch_id: str, source: str, profile_id: str, institution: str, day: date, rel_path: str) -> dict:
    return {"_batch_id": batch_id, "_source": source, "_profile": profile_id, "_institution": institution,
            "_partition_date": day, "_file": rel_path}

