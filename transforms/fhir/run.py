"""The FHIR stage for one partition: standard/validated rows -> validated R4 resources.

Input: ``lake/validated/<table>/source=<s>/institution=<i>/date=<d>/*.parquet``; when the
validated layer has no folder for that table and partition (validation not run, or run
before this stage in a deployment that orders it later), ``lake/standard/...`` is read
instead, and the report says which layer each table came from.

Output (replaced as a whole on rerun):
``lake/fhir/ndjson/<Type>/source=<s>/institution=<i>/date=<d>.ndjson`` (FHIR Bulk Data) and
``lake/fhir/parquet/<Type>/source=<s>/institution=<i>/date=<d>.parquet``.
Rows are streamed in Arrow batches; only resources that several rows contribute to (a lab
DiagnosticReport and its order, a management EpisodeOfCare) are held until the end.
A row whose resources cannot be built or fail validation becomes one quarantine row
(stage ``fhir``), and none of its resources is written: ``rows_in = rows_out + quarantined``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from transforms.fhir.builders import BUILDERS, build_row
from transforms.fhir.errors import BuildError, InvalidResource
from transforms.fhir.provenance import build_provenance
from transforms.fhir.validate import ElementCache, sample_rate, shared_cache, validate_resource
from transforms.settings import Settings

BATCH_ROWS = 5_000  # Arrow batch size and Parquet flush size: bounds memory per resource type
LINEAGE_COLS = ("_batch_id", "_file", "_line", "_message_id", "_source", "_institution", "_partition_date")
PARQUET_COLS = ("id", "resource_type", "person_key", "resource", *LINEAGE_COLS)
MERGED_TYPES = {"DiagnosticReport", "ServiceRequest", "EpisodeOfCare"}  # several rows -> one resource


@dataclass
class StageReport:
    """What the FHIR stage did for one partition (turned into a dict by the pipeline)."""

    stage: str = "fhir"
    rows_in: int = 0
    rows_out: int = 0
    rows_quarantined: int = 0
    resources: dict[str, int] = field(default_factory=dict)
    model_validated: int = 0
    validate_sample_rate: float = 1.0
    input_layers: dict[str, str] = field(default_factory=dict)  # table -> validated | standard
    quarantine_checks: dict[str, int] = field(default_factory=dict)


def _partition_dir(base: Path, table: str, source: str, institution: str, day: date) -> Path:
    return base / table / f"source={source}" / f"institution={institution}" / f"date={day.isoformat()}"


def input_files(settings: Settings, table: str, source: str, institution: str, day: date) -> tuple[str, list[Path]]:
    """The layer used for ``table`` and its Parquet files (validated first, then standard)."""
    for layer, base in (("validated", settings.lake / "validated"), ("standard", settings.standard)):
        d = _partition_dir(base, table, source, institution, day)
        if d.is_dir():
            return layer, sorted(d.glob("*.parquet"))
    return "none", []


def _plain(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return v if v is None or isinstance(v, (str, int, float, bool)) else str(v)


class _Sink:
    """NDJSON + Parquet writers for one partition, written to temp names and swapped in at the end."""

    def __init__(self, settings: Settings, source: str, institution: str, day: date) -> None:
        self.root = settings.fhir
        self.tail = Path(f"source={source}") / f"institution={institution}"
        self.day = day.isoformat()
        self.suffix = f".tmp-{os.getpid()}"
        self.ndjson: dict[str, Any] = {}
        self.parquet: dict[str, Any] = {}
        self.buffers: dict[str, list[dict]] = {}
        self.counts: dict[str, int] = {}

    def path(self, kind: str, rtype: str) -> Path:
        return self.root / kind / rtype / self.tail / f"date={self.day}.{'ndjson' if kind == 'ndjson' else 'parquet'}"

    def write(self, resource: dict, meta: dict[str, Any]) -> None:
        rtype = resource["resourceType"]
        text = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
        if rtype not in self.ndjson:
            p = self.path("ndjson", rtype)
            p.parent.mkdir(parents=True, exist_ok=True)
            self.ndjson[rtype] = open(str(p) + self.suffix, "w", encoding="utf-8")  # noqa: SIM115
            self.buffers[rtype] = []
        self.ndjson[rtype].write(text + "\n")
        self.buffers[rtype].append({"id": resource["id"], "resource_type": rtype, "resource": text, **meta})
        self.counts[rtype] = self.counts.get(rtype, 0) + 1
        if len(self.buffers[rtype]) >= BATCH_ROWS:
            self._flush(rtype)

    def _flush(self, rtype: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = self.buffers[rtype]
        if not rows:
            return
        schema = pa.schema([(c, pa.int64() if c == "_line" else pa.date32() if c == "_partition_date" else pa.string())
                            for c in PARQUET_COLS])
        cols = {c: [r.get(c) for r in rows] for c in PARQUET_COLS}
        cols["_partition_date"] = [date.fromisoformat(str(v)[:10]) if v else None for v in cols["_partition_date"]]
        table = pa.table(cols, schema=schema)
        if rtype not in self.parquet:
            p = self.path("parquet", rtype)
            p.parent.mkdir(parents=True, exist_ok=True)
            self.parquet[rtype] = pq.ParquetWriter(str(p) + self.suffix, schema)
        self.parquet[rtype].write_table(table)
        self.buffers[rtype] = []

    def commit(self) -> None:
        """Close, remove every old file of this partition, then move the new ones in."""
        for rtype in list(self.buffers):
            self._flush(rtype)
        for f in [*self.ndjson.values(), *self.parquet.values()]:
            f.close()
        for kind in ("ndjson", "parquet"):
            for old in (self.root / kind).glob(f"*/{self.tail.as_posix()}/date={self.day}.*"):
                if not old.name.endswith(self.suffix):
                    old.unlink()
        for rtype in self.ndjson:
            for kind in ("ndjson", "parquet"):
                p = self.path(kind, rtype)
                Path(str(p) + self.suffix).replace(p)


def _merge(held: dict, new: dict) -> dict:
    """Several rows contribute to one resource: union the list of results."""
    if new.get("result"):
        seen = {r["reference"] for r in held.get("result", [])}
        held.setdefault("result", []).extend(r for r in new["result"] if r["reference"] not in seen)
    return held


def _quarantine_row(table: str, row: dict, check_id: str, reason: str, day: date) -> dict[str, Any]:
    batch = str(row.get("_batch_id") or "unknown")
    locator = f"{row.get('_message_id') or ''}#{row.get('_line') or ''}"
    where = (f"{row.get('_file')} message {row.get('_message_id')} row {row.get('_line')}" if row.get("_message_id")
             else f"{row.get('_file')} line {row.get('_line')}")
    raw = {k: _plain(v) for k, v in row.items()}
    return {
        "quarantine_id": hashlib.sha256(f"{batch}|fhir|{check_id}|{table}|{locator}".encode()).hexdigest()[:24],
        "batch_id": batch, "stage": "fhir", "dataset": table,
        "institution_code": row.get("_institution") or row.get("institution_code"),
        "partition_date": day, "check_id": check_id, "reason": f"{where}: {reason}",
        "file_path": row.get("_file"), "line_no": row.get("_line"), "message_id": row.get("_message_id"),
        "raw_record": json.dumps(raw, ensure_ascii=False),  # standard rows carry no clear-text PII
        "quarantined_at": datetime.now(UTC).replace(tzinfo=None),
    }


def map_rows(table: str, rows: list[dict], rate: float, merged_seen: set[str] | None = None,
             cache: ElementCache | None = None) -> tuple[list[tuple[dict, list[dict]]], list[tuple[dict, str, str]], int]:
    """Build and validate the resources of rows: (row, resources) pairs, failures, models run.

    A resource several rows contribute to (``MERGED_TYPES``) is validated the first time its id
    is seen: later rows only add ``result`` references to the first instance, which is what is
    written, so validating every row's copy would check the same content again. ``cache``
    (one per process) lets repeated elements be validated once (see validate.ElementCache).
    """
    ok, bad, validated = [], [], 0
    merged_seen = set() if merged_seen is None else merged_seen
    for row in rows:
        try:
            resources = build_row(table, row)
            fresh = []
            for res in resources:
                if res["resourceType"] in MERGED_TYPES:
                    key = f"{res['resourceType']}/{res['id']}"
                    if key in merged_seen:
                        continue
                    fresh.append(key)
                validated += validate_resource(res, rate, cache)
            merged_seen.update(fresh)
        except (BuildError, InvalidResource) as exc:
            bad.append((row, exc.check_id, exc.reason if isinstance(exc, BuildError) else str(exc)))
            continue
        ok.append((row, resources))
    return ok, bad, validated


def _write_provenance(sink: _Sink, batches: dict[tuple[str, str], tuple[dict, dict[str, None]]], rate: float,
                      cache: ElementCache) -> int:
    """One Provenance per (table, batch) of the partition, targeting the resources its rows produced.

    Built from our own lineage columns, so a failure is a bug in the builder: it is raised, never
    quarantined (no source row is at fault). Returns the number of model passes run.
    """
    from transforms.fhir.common import prune

    validated = 0
    for (table, _batch), (row, targets) in batches.items():
        res = prune(build_provenance(table, row, targets))
        validated += validate_resource(res, rate, cache)
        meta = {c: _plain(row.get(c)) for c in LINEAGE_COLS}
        meta.update({"_line": None, "_message_id": None, "person_key": None})
        sink.write(res, meta)
    return validated


def _link_diagnoses(table: str, rows: list[dict], encounter_person: dict[tuple[str, str], str]) -> None:
    """Diagnosis rows carry no person fields: take the person of their encounter in this partition.

    Encounters are mapped before diagnoses (builder order), so the map is complete when needed;
    a diagnosis whose encounter is not in the partition keeps no person and is quarantined.
    """
    if table == "encounter":
        for r in rows:
            if r.get("person_key") and r.get("encounter_no"):
                encounter_person[(str(r.get("institution_code")), str(r["encounter_no"]))] = r["person_key"]
    elif table == "diagnosis":
        for r in rows:
            if not r.get("person_key"):
                pk = encounter_person.get((str(r.get("institution_code")), str(r.get("encounter_no"))))
                if pk:
                    r["person_key"] = pk


def fhir_partition(settings: Settings, source: str, institution: str, day: date) -> StageReport:
    """Map one partition to FHIR, write NDJSON + Parquet, quarantine failures; idempotent."""
    import pyarrow.parquet as pq

    rate = sample_rate()
    report = StageReport(validate_sample_rate=rate)
    sink = _Sink(settings, source, institution, day)
    held: dict[str, tuple[dict, dict]] = {}
    seen: dict[str, str] = {}
    quarantine: list[dict] = []
    encounter_person: dict[tuple[str, str], str] = {}  # (institution, encounter_no) -> person_key
    merged_seen: set[str] = set()  # merged resources already validated in this partition
    batches_read: set[tuple[str, str]] = set()  # (table, batch_id): their old fhir quarantine rows are replaced
    provenance: dict[tuple[str, str], tuple[dict, dict[str, None]]] = {}  # (table, batch) -> first row, targets
    cache = shared_cache()  # validated elements, reused across this process's partitions
    for table in BUILDERS:
        layer, files = input_files(settings, table, source, institution, day)
        if layer == "none":
            continue
        report.input_layers[table] = layer
        for path in files:
            for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS):
                rows = batch.to_pylist()
                report.rows_in += len(rows)
                batches_read.update((table, str(r.get("_batch_id") or "unknown")) for r in rows)
                _link_diagnoses(table, rows, encounter_person)
                ok, bad, n_valid = map_rows(table, rows, rate, merged_seen, cache)
                report.model_validated += n_valid
                for row, resources in ok:
                    meta = {c: _plain(row.get(c)) for c in LINEAGE_COLS}
                    meta["_line"] = row.get("_line")
                    meta["person_key"] = row.get("person_key")
                    where = f"{row.get('_file')}:{row.get('_message_id') or row.get('_line')}"
                    dup = next((r for r in resources if r["resourceType"] not in MERGED_TYPES
                                and r["id"] in seen), None)
                    if dup is not None:
                        for r in resources:  # not written: a later row's copy must be validated again
                            key = f"{r['resourceType']}/{r['id']}"
                            if r["resourceType"] in MERGED_TYPES and key not in held:
                                merged_seen.discard(key)
                        bad.append((row, "fhir.duplicate_id",
                                    f"{dup['resourceType']}/{dup['id']} was already produced by {seen[dup['id']]} "
                                    f"in this partition (duplicate business key)"))
                        continue
                    report.rows_out += 1
                    batch_key = (table, str(row.get("_batch_id") or "unknown"))
                    if batch_key not in provenance:
                        provenance[batch_key] = (row, {})
                    targets = provenance[batch_key][1]
                    for res in resources:
                        key = f"{res['resourceType']}/{res['id']}"
                        targets[key] = None
                        if res["resourceType"] in MERGED_TYPES:
                            held[key] = (_merge(held[key][0], res), held[key][1]) if key in held else (res, meta)
                        else:
                            seen[res["id"]] = where
                            sink.write(res, meta)
                for row, check_id, reason in bad:
                    quarantine.append(_quarantine_row(table, row, check_id, reason, day))
                    report.quarantine_checks[check_id] = report.quarantine_checks.get(check_id, 0) + 1
    for res, meta in held.values():
        sink.write(res, meta)
    report.model_validated += _write_provenance(sink, provenance, rate, cache)
    sink.commit()
    report.rows_quarantined = len(quarantine)
    report.resources = dict(sorted(sink.counts.items()))
    write_quarantine(settings, source, institution, day, quarantine)
    record_quarantine(settings, batches_read, quarantine)
    return report


def record_quarantine(settings: Settings, batches: set[tuple[str, str]], rows: list[dict]) -> None:
    """Replace the warehouse ``quarantine`` rows of stage fhir for every (table, batch) read.

    Same table and shape as ingest and validation use, so the quality report sees FHIR-stage
    rejects next to the others; rerunning the partition replaces them.
    """
    import sqlalchemy as sa

    from transforms.warehouse.db import transaction

    if not batches:
        return
    with transaction(settings.warehouse_url) as conn:
        for table, batch in sorted(batches):
            conn.execute(sa.text("DELETE FROM quarantine WHERE stage = 'fhir' AND batch_id = :b AND dataset = :t"),
                         {"b": batch, "t": table})
        if rows:
            cols = list(rows[0])
            conn.execute(sa.text(f"INSERT INTO quarantine ({', '.join(cols)}) "
                                 f"VALUES ({', '.join(':' + c for c in cols)})"), rows)


def write_quarantine(settings: Settings, source: str, institution: str, day: date, rows: list[dict]) -> Path:
    """Replace this partition's FHIR-stage quarantine file (``lake/quarantine/fhir/...``)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = settings.quarantine / "fhir" / f"source={source}" / f"institution={institution}" / f"date={day.isoformat()}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ("quarantine_id", "batch_id", "stage", "dataset", "institution_code", "partition_date", "check_id",
            "reason", "file_path", "line_no", "message_id", "raw_record", "quarantined_at")
    types = {"partition_date": pa.date32(), "line_no": pa.int64(), "quarantined_at": pa.timestamp("us")}
    schema = pa.schema([(c, types.get(c, pa.string())) for c in cols])
    pq.write_table(pa.table({c: [r.get(c) for r in rows] for c in cols}, schema=schema), path)
    return path
