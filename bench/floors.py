"""Raw floors on the same data each stage handles: what the hardware and libraries allow.

- ingest: pyarrow reading the landed CSV files, openpyxl (read-only) the XLSX files,
  ``json.loads`` the JSON files, and the ``hl7`` package parsing each HL7 message (the floor
  the performance issue names); ``hl7_split=True`` replaces the last with a bare decode +
  split into segments, a stricter floor reported beside it;
- standardise and validate: pyarrow reading and writing the same raw / standard Parquet;
- fhir: ``fhir.resources`` (R4B) validating the same resources one at a time;
- load: a bare DuckDB ``CREATE TABLE AS SELECT * FROM read_parquet(...)`` of the same FHIR rows.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def _timed(fn) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = fn()
    return time.perf_counter() - t0, n


def _hl7_rows(p: Path, split_only: bool) -> int:
    """Decode an HL7 batch and split it (``split_only``) or parse each message with ``hl7``; its row count."""
    text = p.read_bytes().decode("utf-8", errors="replace").replace("\r\n", "\r").replace("\n", "\r")
    segments = text.split("\r")
    if not split_only:
        import hl7

        messages: list[list[str]] = []
        for seg in segments:
            if seg.startswith("MSH|"):
                messages.append([seg])
            elif messages and seg and not seg.startswith(("BTS|", "FTS|")):
                messages[-1].append(seg)
        for m in messages:
            hl7.parse("\r".join(m))
    return sum(1 for seg in segments if seg.startswith("OBX|")) or text.count("MSH|")


def ingest_floor(landing: Path, day: str | None = None, hl7_split: bool = False) -> tuple[float, int]:
    """Read the same files the ingest stage read (``day``'s folders only, when given)."""
    def run() -> int:
        n = 0
        for p in landing.rglob("*"):
            if not p.is_file() or p.name.startswith("_") or (day and p.parent.name != day):
                continue
            if p.suffix == ".csv":
                for enc in ("utf8", "gb18030"):
                    try:
                        n += pacsv.read_csv(p, read_options=pacsv.ReadOptions(encoding=enc)).num_rows
                        break
                    except Exception:
                        continue
            elif p.suffix == ".hl7":
                n += _hl7_rows(p, hl7_split)
            elif p.suffix == ".xlsx":
                import openpyxl

                wb = openpyxl.load_workbook(p, read_only=True)
                n += sum(1 for _ in wb.active.iter_rows(values_only=True))
                wb.close()
            elif p.suffix == ".json":
                import json as _json

                n += len(_json.loads(p.read_bytes()))
        return n

    return _timed(run)


def parquet_roundtrip_floor(root: Path) -> tuple[float, int]:
    def run() -> int:
        n = 0
        out = Path(tempfile.mkdtemp())
        for i, p in enumerate(root.rglob("*.parquet")):
            t = pq.read_table(p)
            pq.write_table(t, out / f"{i}.parquet")
            n += t.num_rows
        return n

    return _timed(run)


def fhir_floor(ndjson_root: Path, limit: int = 20000) -> tuple[float, int]:
    """fhir.resources validating resources one at a time (sampled to ``limit``, scaled by the caller).

    The sample is every k-th line over all files (k = lines // limit, files sorted), so each
    resource type and partition is represented in proportion: a sample of the first lines in
    rglob order measured whichever types happened to come first. Each sampled line is validated
    from its JSON text with ``model_validate_json``, the cheapest way fhir.resources offers (the
    stage validates the same text it writes), and with ``model_validate`` on the parsed dict.
    The faster of the two is the floor; ``fhir_floor_both`` returns both.
    """
    dict_s, json_s, n = fhir_floor_both(ndjson_root, limit)
    return min(dict_s, json_s), n


def fhir_floor_both(ndjson_root: Path, limit: int = 20000) -> tuple[float, float, int]:
    """(seconds with model_validate on dicts, seconds with model_validate_json on lines, n sampled)."""
    from fhir.resources.R4B import get_fhir_model_class

    files = sorted(ndjson_root.rglob("*.ndjson"))
    total = 0
    for p in files:
        with p.open("rb") as f:
            total += sum(1 for _ in f)
    step = max(1, total // max(1, limit))
    sample: list[tuple[type, str]] = []
    i = 0
    for p in files:
        with p.open(encoding="utf-8") as f:
            for line in f:
                if i % step == 0:
                    sample.append((get_fhir_model_class(json.loads(line)["resourceType"]), line))
                i += 1
    for cls, line in sample[:50]:  # warm-up: model classes are built lazily on first use
        cls.model_validate_json(line)

    def by_dict() -> int:
        for cls, line in sample:
            cls.model_validate(json.loads(line))
        return len(sample)

    def by_json() -> int:
        for cls, line in sample:
            cls.model_validate_json(line)
        return len(sample)

    dict_s, n = _timed(by_dict)
    json_s, _ = _timed(by_json)
    return dict_s, json_s, n


def load_floor(fhir_parquet_root: Path) -> tuple[float, int]:
    import duckdb

    def run() -> int:
        con = duckdb.connect(str(Path(tempfile.mkdtemp()) / "floor.duckdb"))
        files = [str(p) for p in fhir_parquet_root.rglob("*.parquet")]
        if not files:
            return 0
        con.execute("CREATE TABLE t AS SELECT * FROM read_parquet(?, union_by_name = true)", [files])
        return con.execute("SELECT COUNT(*) FROM t").fetchall()[0][0]

    return _timed(run)
