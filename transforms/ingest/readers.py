"""One reader per format, never per vendor: profile + file spec → canonical rows or rejects.

Readers compose format × encoding (decoding lives in ``textio``) and map vendor columns to
canonical fields through ``FileSpec.columns`` (``values.canonical_values``). They stream:
CSV, NDJSON and HL7 are read line by line, XLSX through openpyxl's read-only mode; only a
JSON document is loaded whole, because JSON cannot be split without parsing it.

File-level findings that are not records (schema drift, the encoding actually used,
GB18030 fallback lines) go to the optional ``notes`` and from there to the submission log.
A file missing a column that feeds a *required* canonical field yields one file-level
``Reject`` (``extra["scope"] == "file"``) and nothing else.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from transforms.canonical import table as canonical_table
from transforms.ingest.textio import DecodedLine, ReadNotes, iter_lines, sniff_encoding
from transforms.ingest.values import ColumnMapper, masked_json, pii_keys
from transforms.sources.profile import FileSpec, SourceProfile
from transforms.sources.records import Reject, Row

Record = Row | Reject


def iter_records(path: Path, profile: SourceProfile, spec: FileSpec, *,
                 notes: ReadNotes | None = None) -> Iterator[Record]:
    """Every record of ``path`` as a canonical ``Row`` or a ``Reject`` with its reason."""
    notes = notes if notes is not None else ReadNotes()
    fmt = profile.format
    if fmt == "csv":
        return _iter_csv(path, profile, spec, notes)
    if fmt == "xlsx":
        return _iter_xlsx(path, spec, notes)
    if fmt in ("fhir_ndjson", "fhir_bundle"):  # FHIR-native submissions: same path downstream
        from transforms.fhir.native import iter_fhir_records

        return iter_fhir_records(path, profile, spec)
    if fmt in ("json", "fhir_bundle"):
        return _iter_json(path, profile, spec, notes)
    if fmt in ("ndjson", "fhir_ndjson"):
        return _iter_ndjson(path, profile, spec, notes)
    if fmt == "hl7v2":
        from transforms.ingest.hl7v2 import iter_hl7

        return iter_hl7(path, profile, spec, notes)
    raise ValueError(f"{path.name}: profile {profile.id} has unsupported format {fmt!r}")


def check_header(path: Path, spec: FileSpec, header: list[str], notes: ReadNotes) -> Reject | None:
    """Record drift; a missing column feeding a required canonical field rejects the file."""
    tab = canonical_table(spec.table)
    have = set(header)
    notes.unknown_columns = [h for h in header if h not in spec.columns]
    missing = [k for k in spec.columns if k not in have]
    required = [k for k in missing if tab.get(spec.columns[k]).required and spec.columns[k] not in spec.constants]
    notes.absent_columns = [k for k in missing if k not in required]
    if required:
        return Reject(
            "ingest.schema.missing_required_columns",
            f"{path.name}: header lacks column(s) {required} mapped to required field(s) "
            f"{[spec.columns[k] for k in required]} of {spec.table}; whole file rejected",
            line=1, raw=json.dumps({"header": header}, ensure_ascii=False), table=spec.table,
            extra={"scope": "file"},
        )
    return None


def _record_dict(header: list[str], cells: list[object]) -> dict[str, object]:
    out: dict[str, object] = dict(zip(header, cells, strict=False))
    for i, extra in enumerate(cells[len(header):], start=1):
        out[f"_extra_{i}"] = extra
    return out


def _masked(spec: FileSpec, header: list[str], cells: list[object]) -> str:
    record = _record_dict(header, cells)
    hidden = pii_keys(spec) | {k for k in record if k.startswith("_extra_")}
    return masked_json(record, hidden)


def _iter_csv(path: Path, profile: SourceProfile, spec: FileSpec, notes: ReadNotes) -> Iterator[Record]:
    consumed: list[DecodedLine] = []

    def feed() -> Iterator[str]:
        for line in iter_lines(path, profile.encoding, notes):
            consumed.append(line)
            yield line.text + "\n"

    reader = csv.reader(feed(), delimiter=profile.delimiter)
    header: list[str] | None = None
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # e.g. an unbalanced quote swallowing lines past the field limit
            lines, consumed[:] = list(consumed), []
            first = lines[0].number if lines else None
            yield Reject("ingest.csv.parse",
                         f"{path.name}: lines {first}-{lines[-1].number if lines else first} cannot be parsed as "
                         f"CSV: {exc}", line=first, raw=json.dumps({"lines": len(lines)}), table=spec.table,
                         extra={"scope": "file"} if header is None else {})
            if header is None:
                return
            continue
        lines, consumed[:] = list(consumed), []
        first = lines[0].number if lines else None
        if header is None:
            if not cells:
                continue
            header = [c.strip() for c in cells]
            bad = [ln for ln in lines if ln.error]
            if bad:
                yield Reject("ingest.encoding", f"{bad[0].error}; header unreadable, whole file rejected",
                             line=first, table=spec.table, extra={"scope": "file"})
                return
            rej = check_header(path, spec, header, notes)
            if rej:
                yield rej
                return
            mapper = ColumnMapper(spec, header)
            width = len(header)
            continue
        if not cells or (len(cells) == 1 and not cells[0].strip()):
            continue  # blank line: not a record
        bad = [ln for ln in lines if ln.error]
        if bad:
            yield Reject("ingest.encoding", bad[0].error or "", line=first,
                         raw=_masked(spec, header, list(cells)), table=spec.table)
            continue
        if len(cells) != width:
            yield Reject("ingest.csv.column_count",
                         f"{path.name}: line {first} has {len(cells)} columns, header has {width}",
                         line=first, raw=_masked(spec, header, list(cells)), table=spec.table)
            continue
        raw = lines[0].text if len(lines) == 1 else "\n".join(ln.text for ln in lines)
        yield Row(spec.table, mapper.from_cells(cells), line=first, raw=raw)
    if header is None:
        notes.messages.append("empty file: no header line")


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _iter_xlsx(path: Path, spec: FileSpec, notes: ReadNotes) -> Iterator[Record]:
    from openpyxl import load_workbook

    notes.encoding = "xlsx"
    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        if spec.sheet is None:
            ws = wb.worksheets[0]
        elif isinstance(spec.sheet, int):
            ws = wb.worksheets[spec.sheet]
        else:
            ws = wb[spec.sheet]
        header: list[str] | None = None
        for number, values in enumerate(ws.iter_rows(values_only=True), start=1):
            cells = [_cell_text(v) for v in values]
            while cells and cells[-1] in (None, ""):
                cells.pop()
            if header is None:
                if not cells:
                    continue
                header = [(c or "").strip() for c in cells]
                rej = check_header(path, spec, header, notes)
                if rej:
                    yield rej
                    return
                mapper = ColumnMapper(spec, header)
                continue
            if not cells:
                continue
            if len(cells) > len(header):
                yield Reject("ingest.xlsx.column_count",
                             f"{path.name}: row {number} has {len(cells)} cells, header has {len(header)}",
                             line=number, raw=_masked(spec, header, cells), table=spec.table)
                continue
            cells += [None] * (len(header) - len(cells))
            yield Row(spec.table, mapper.from_cells(cells), line=number, raw=json.dumps(cells, ensure_ascii=False))
    finally:
        wb.close()


def dotted(record: object, path: str) -> object:
    """Value at a dotted path (``a.b.0.c``); ``None`` when any step is absent."""
    cur = record
    for part in path.split("."):
        if isinstance(cur, Mapping):
            cur = cur.get(part)
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return None
        if cur is None:
            return None
    return cur


def _scalar(value: object) -> object:
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _json_rows(path: Path, spec: FileSpec, records: Iterable[tuple[int, object, str]],
               notes: ReadNotes) -> Iterator[Record]:
    roots = {k.split(".")[0] for k in spec.columns}
    mapper = ColumnMapper(spec)
    drift: set[str] = set()
    for number, rec, raw in records:
        if not isinstance(rec, Mapping):
            yield Reject("ingest.json.not_object",
                         f"{path.name}: record {number} is a {type(rec).__name__}, not an object",
                         line=number, raw=json.dumps({"record": "<masked>"}), table=spec.table)
            continue
        if len(drift) < 100:
            drift.update(k for k in rec if k not in roots)
        vendor = {k: _scalar(dotted(rec, k)) for k in spec.columns}
        yield Row(spec.table, mapper.from_mapping(vendor), line=number, raw=raw,
                  message_id=str(rec.get("id")) if rec.get("id") is not None else None)
    notes.unknown_columns = sorted(set(notes.unknown_columns) | drift)


def _iter_json(path: Path, profile: SourceProfile, spec: FileSpec, notes: ReadNotes) -> Iterator[Record]:
    data = path.read_bytes()
    codec = sniff_encoding(data, profile.encoding)
    notes.encoding = codec
    try:
        doc = json.loads(data.decode(codec))
    except UnicodeDecodeError as exc:
        yield Reject("ingest.encoding", f"{path.name}: not valid {codec} at byte offset {exc.start}",
                     table=spec.table, extra={"scope": "file"})
        return
    except json.JSONDecodeError as exc:
        yield Reject("ingest.json.parse", f"{path.name}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}",
                     line=exc.lineno, table=spec.table, extra={"scope": "file"})
        return
    path_in_doc = spec.records_path or ("entry" if profile.format == "fhir_bundle" else None)
    records = dotted(doc, path_in_doc) if path_in_doc else doc
    if not isinstance(records, list):
        yield Reject("ingest.json.records_path",
                     f"{path.name}: records_path {path_in_doc!r} does not lead to a list", table=spec.table,
                     extra={"scope": "file"})
        return
    yield from _json_rows(path, spec, ((i, r, json.dumps(r, ensure_ascii=False, sort_keys=True))
                                       for i, r in enumerate(records, start=1)), notes)


def _iter_ndjson(path: Path, profile: SourceProfile, spec: FileSpec, notes: ReadNotes) -> Iterator[Record]:
    def parsed() -> Iterator[tuple[int, object, str] | Reject]:
        for line in iter_lines(path, profile.encoding, notes):
            if not line.text.strip():
                continue
            if line.error:
                yield Reject("ingest.encoding", line.error, line=line.number, table=spec.table)
                continue
            try:
                yield line.number, json.loads(line.text), line.text
            except json.JSONDecodeError as exc:
                yield Reject("ingest.json.parse",
                             f"{path.name}: line {line.number} is not JSON ({exc.msg} at column {exc.colno})",
                             line=line.number, table=spec.table)

    good: list[tuple[int, object, str]] = []
    for item in parsed():
        if isinstance(item, Reject):
            yield from _json_rows(path, spec, good, notes)
            good = []
            yield item
            continue
        good.append(item)
        if len(good) >= 1000:
            yield from _json_rows(path, spec, good, notes)
            good = []
    yield from _json_rows(path, spec, good, notes)
