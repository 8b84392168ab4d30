"""Raw lake writer: one Parquet file per batch inside its hive partition, written in chunks.

Every canonical field is a string (typing is standardise's job), plus ``LINEAGE_FIELDS``.
Rows are buffered column-wise and flushed every ``CHUNK_ROWS`` as one row group, so a
file of any size is written with bounded memory.

Why staged publishing: a partition is replaced, never appended, and a failure part-way
(full disk, killed worker) must leave readers the previous partition whole. Each batch is
written to ``<batch_id>.parquet.tmp`` (no reader globs it); only when every file of the
partition has been read does ``publish_partition`` rename the new batches in and remove
the stale ones.
"""

from __future__ import annotations

import hashlib
import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from transforms.canonical import LINEAGE_FIELDS, TABLES
from transforms.canonical import table as canonical_table
from transforms.settings import Settings
from transforms.sources.records import Row

CHUNK_ROWS = 50_000
_LINEAGE_TYPES = {"_partition_date": pa.date32(), "_line": pa.int64()}


def raw_schema(table: str) -> pa.Schema:
    cols = [pa.field(n, pa.string()) for n in canonical_table(table).field_names]
    cols += [pa.field(f.name, _LINEAGE_TYPES.get(f.name, pa.string())) for f in LINEAGE_FIELDS]
    return pa.schema(cols)


def partition_dir(settings: Settings, table: str, source: str, institution: str, day: date) -> Path:
    return settings.raw / table / f"source={source}" / f"institution={institution}" / f"date={day.isoformat()}"


def publish_partition(settings: Settings, source: str, institution: str, day: date,
                      writers: list[RawBatchWriter]) -> list[Path]:
    """Make ``writers``' batches the partition's whole raw content, in every raw table."""
    keep = {w.path for w in writers}
    published = []
    for w in writers:
        os.replace(w.tmp, w.path)
        published.append(w.path)
    for table in TABLES:
        folder = partition_dir(settings, table, source, institution, day)
        for f in [*folder.glob("*.parquet"), *folder.glob("*.parquet.tmp")]:
            if f not in keep:
                f.unlink()
    return published


def record_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class RawBatchWriter:
    """Append rows of one batch to ``<batch_id>.parquet.tmp``; ``publish_partition`` renames it in."""

    def __init__(self, settings: Settings, table: str, source: str, institution: str, day: date,
                 lineage: dict[str, object]):
        self.schema = raw_schema(table)
        self.names = canonical_table(table).field_names
        folder = partition_dir(settings, table, source, institution, day)
        folder.mkdir(parents=True, exist_ok=True)
        self.batch_id = str(lineage["_batch_id"])
        self.path = folder / f"{self.batch_id}.parquet"
        self.tmp = self.path.with_suffix(".parquet.tmp")
        self.lineage = lineage
        self.per_row = ["_line", "_message_id", "_record_hash"]
        self.columns: dict[str, list] = {n: [] for n in [*self.names, *self.per_row]}
        self.count = 0
        self.writer = pq.ParquetWriter(self.tmp, self.schema)

    def add(self, row: Row) -> None:
        cols, values = self.columns, row.values
        for n in self.names:
            cols[n].append(values.get(n))
        cols["_line"].append(row.line)
        cols["_message_id"].append(row.message_id)
        cols["_record_hash"].append(hashlib.sha256(row.raw.encode("utf-8")).hexdigest())
        self.count += 1
        if len(cols["_line"]) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        n = len(self.columns["_line"])
        if not n:
            return
        arrays = []
        for f in self.schema:
            data = self.columns[f.name] if f.name in self.columns else [self.lineage[f.name]] * n
            arrays.append(pa.array(data, type=f.type))
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=self.schema))
        self.columns = {k: [] for k in self.columns}

    def close(self) -> Path:
        """Finish the staged file (``.parquet.tmp``); ``publish_partition`` renames it in."""
        self.flush()
        if self.count == 0:
            self.writer.write_table(self.schema.empty_table())
        self.writer.close()
        return self.tmp

    def abort(self) -> None:
        try:
            self.writer.close()
        finally:
            self.tmp.unlink(missing_ok=True)


def lineage_for(batch_id: str, source: str, profile_id: str, institution: str, day: date, rel_path: str) -> dict:
    return {"_batch_id": batch_id, "_source": source, "_profile": profile_id, "_institution": institution,
            "_partition_date": day, "_file": rel_path}

