"""One reader per format, never per vendor: profile + file spec → canonical rows or rejects.

Readers compose format × encoding (decoding lives in ``textio``) and map vendor columns to
canonical fields through ``FileSpec.columns`` (``values.canonical_values``). They stream:
CSV, NDJSON and HL7 are read line by line, XLSX through openpyxl's read-only mode; only a
JSON document is loaded whole, because JSON cannot be split without parsing it.

File-level findings that are not records (schema drift, the encoding actually used,
GB18030 fallback lines) go to the optional ``notes`` and from there to the submission log.
A file missing a column that feeds a *required* canonical field yields one file-level
``Reject`` (``extra["scope"] == "file"``) and nothing else.

Why a CSV fast path (``iter_blocks``): most landed rows are plain CSV lines (no quotes, one
encoding), where a record is a line split on the delimiter. For such stretches the reader
decodes a few MB at once, splits lines and cells with ``str.split`` and cleans values a
column at a time, handing ``RowBlock``s to the raw writer; per-row objects dominated the
ingest otherwise. From the first stretch that is not plain (a quote, an undecodable byte,
a stray CR, NUL, an over-long field) it continues with the general line-by-line reader
(``csv`` module, GB18030 fallback), which starts at that line boundary — no quoted record
can be open there. Both paths yield the same rows and rejects (tests compare them).
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from transforms.canonical import table as canonical_table
from transforms.ingest.textio import SNIFF_BYTES, DecodedLine, ReadNotes, iter_lines, sniff_encoding
from transforms.ingest.values import NOT_APPLICABLE, ColumnMapper, masked_json, pii_keys
from transforms.sources.profile import FileSpec, SourceProfile
from transforms.sources.records import Reject, Row

Record = Row | Reject
FAST_CHUNK = 4 << 20  # bytes of whole lines decoded at once by the CSV fast path (bounds memory)
BOM = b"\xef\xbb\xbf"


@dataclass
class RowBlock:
    """Consecutive rows of one table, column-wise: ``values`` has every canonical field."""

    table: str
    values: dict[str, list[str | None]]
    lines: list[int]
    raws: list[str]

    def rows(self) -> Iterator[Row]:
        names = list(self.values)
        cols = [self.values[n] for n in names]
        for j, (line, raw) in enumerate(zip(self.lines, self.raws, strict=True)):
            yield Row(self.table, {n: c[j] for n, c in zip(names, cols, strict=True)}, line=line, raw=raw)


def iter_records(path: Path, profile: SourceProfile, spec: FileSpec, *,
                 notes: ReadNotes | None = None) -> Iterator[Record]:
    """Every record of ``path`` as a canonical ``Row`` or a ``Reject`` with its reason."""
    return _expand(iter_blocks(path, profile, spec, notes=notes))


def _expand(items: Iterator[Record | RowBlock]) -> Iterator[Record]:
    for item in items:
        if isinstance(item, RowBlock):
            yield from item.rows()
        else:
            yield item


def iter_blocks(path: Path, profile: SourceProfile, spec: FileSpec, *,
                notes: ReadNotes | None = None) -> Iterator[Record | RowBlock]:
    """Like ``iter_records``, but runs of CSV rows may come as one ``RowBlock`` (the ingest path)."""
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


def _open_header(path: Path, spec: FileSpec, header: list[str], notes: ReadNotes,
                 ) -> tuple[Reject | None, ColumnMapper | None, int]:
    """Check a CSV header (both CSV paths): the file's reject, or its column mapper and width."""
    rej = check_header(path, spec, header, notes)
    return (rej, None, 0) if rej else (None, ColumnMapper(spec, header), len(header))


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


def _iter_csv(path: Path, profile: SourceProfile, spec: FileSpec, notes: ReadNotes) -> Iterator[Record | RowBlock]:
    """CSV: plain stretches as ``RowBlock``s, the rest through ``_iter_csv_lines`` (module docstring)."""
    with path.open("rb") as fh:
        codec = sniff_encoding(fh.read(SNIFF_BYTES), profile.encoding)
    notes.encoding = codec
    text_codec = "utf-8" if codec == "utf-8-sig" else codec
    delim = profile.delimiter
    limit = csv.field_size_limit()
    header: list[str] | None = None
    mapper: ColumnMapper | None = None
    width = 0
    offset, number = 0, 0  # bytes and physical lines handled so far
    with path.open("rb") as fh:
        rest = b""
        while True:
            data = fh.read(FAST_CHUNK)
            eof = not data
            buf = rest + data
            if not eof:
                cut = buf.rfind(b"\n") + 1
                if cut == 0:
                    rest = buf
                    continue
                buf, rest = buf[:cut], buf[cut:]
            if not buf:
                break
            lines = _plain_lines(buf[3:] if offset == 0 and buf.startswith(BOM) else buf, text_codec, delim, limit)
            if lines is None:  # not plain: the general reader takes over from this line on
                yield from _iter_csv_lines(path, profile, spec, notes, start=(offset, number + 1), header=header)
                return
            good: list[list[str]] = []
            good_lines: list[int] = []
            good_raws: list[str] = []
            for k, text in enumerate(lines, start=number + 1):
                if not text:
                    continue  # blank line: not a record
                cells = text.split(delim)
                if header is None:
                    header = [c.strip() for c in cells]
                    rej, mapper, width = _open_header(path, spec, header, notes)
                    if rej:
                        yield rej
                        return
                    continue
                if len(cells) == 1 and not text.strip():
                    continue  # whitespace-only line: not a record
                if len(cells) != width:
                    if good:  # keep file order: the rows before this reject come first
                        yield _block(spec, mapper, good, good_lines, good_raws)
                        good, good_lines, good_raws = [], [], []
                    yield Reject("ingest.csv.column_count",
                                 f"{path.name}: line {k} has {len(cells)} columns, header has {width}",
                                 line=k, raw=_masked(spec, header, cells), table=spec.table)
                    continue
                good.append(cells)
                good_lines.append(k)
                good_raws.append(text)
            if good:
                yield _block(spec, mapper, good, good_lines, good_raws)
            offset += len(buf)
            number += len(lines)
            if eof:
                break
    if header is None:
        notes.messages.append("empty file: no header line")


def _plain_lines(buf: bytes, codec: str, delim: str, limit: int) -> list[str] | None:
    """The lines of ``buf`` (whole lines) when a line is exactly a record split on ``delim``, else None."""
    try:
        text = buf.decode(codec)
    except UnicodeDecodeError:
        return None
    if '"' in text or "\x00" in text:
        return None
    lines = text.split("\n")
    if text.endswith("\n"):
        lines.pop()
    if "\r" in text:
        lines = [t[:-1] if t.endswith("\r") else t for t in lines]
        if any("\r" in t for t in lines):
            return None
    if lines and max(map(len, lines)) > limit:  # csv would refuse a field this long
        return None
    return lines


def _block(spec: FileSpec, mapper: ColumnMapper | None, good: list[list[str]], lines: list[int],
           raws: list[str]) -> RowBlock:
    """Map and clean whole columns: the same values ``ColumnMapper.from_cells`` gives per row."""
    assert mapper is not None  # rows only follow a header
    n = len(good)
    nulls: list[str | None] = [None] * n
    na, null = mapper.na, mapper.null
    cols = list(zip(*good, strict=True))
    mapped: dict[str, list[str | None]] = {}
    for i, target in mapper.positions:
        mapped[target] = [NOT_APPLICABLE if t in na else None if t in null else t for t in map(str.strip, cols[i])]
    for target, value in mapper.constants.items():
        mapped[target] = [value] * n
    return RowBlock(spec.table, {f: mapped.get(f, nulls) for f in mapper.fields}, lines, raws)


def _iter_csv_lines(path: Path, profile: SourceProfile, spec: FileSpec, notes: ReadNotes,
                    start: tuple[int, int] = (0, 1), header: list[str] | None = None) -> Iterator[Record]:
    """The general CSV reader: line by line through ``csv``; resumes at ``start`` after ``header``."""
    consumed: list[DecodedLine] = []

    def feed() -> Iterator[str]:
        for line in iter_lines(path, profile.encoding, notes, start=start):
            consumed.append(line)
            yield line.text + "\n"

    reader = csv.reader(feed(), delimiter=profile.delimiter)
    if header is not None:
        mapper = ColumnMapper(spec, header)
        width = len(header)
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
            rej, mapper, width = _open_header(path, spec, header, notes)
            if rej:
                yield rej
                return
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
