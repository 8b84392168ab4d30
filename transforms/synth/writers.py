"""Profile-driven file writers: canonical rows in, one vendor's file out, streamed.

The writer reads the same SourceProfile the ingest reader uses and inverts it (canonical
field -> vendor column / JSON path / HL7 path, strptime format -> strftime), so the files
and the profiles cannot drift apart. Rows are written as they come; nothing is buffered
beyond one HL7 message.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import zipfile
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from transforms.sources.profile import FileSpec, SourceProfile
from transforms.synth.defects import (
    CODE_FIELD,
    KEY_FIELD,
    NEAR_DUP,
    DefectLog,
    Feb30,
    Kind,
    applicable_file_kinds,
    applicable_row_kinds,
    apply_row_defect,
    arrival,
)
from transforms.synth.refdata import DATA
from transforms.synth.rng import h64
from transforms.yamlio import load_yaml

_DATE_DEFAULT = {"date": "%Y-%m-%d", "datetime": "%Y-%m-%d %H:%M:%S"}
EPOCH_ZIP = (2020, 1, 1, 0, 0, 0)


@cache
def styles() -> dict[str, dict]:
    return load_yaml(DATA / "vendor_styles.yaml")


def render(value: Any, fld: str, spec: FileSpec, style: dict) -> str | None:
    """One canonical value as the vendor writes it."""
    if value is None:
        return None
    if isinstance(value, Feb30):
        return value.render(spec.formats.get(fld, "%Y-%m-%d"))
    if isinstance(value, bool):
        yes, no = style.get("bool", ["1", "0"])
        return yes if value else no
    if isinstance(value, datetime):
        return value.strftime(spec.formats.get(fld, _DATE_DEFAULT["datetime"]))
    if isinstance(value, date):
        return value.strftime(spec.formats.get(fld, _DATE_DEFAULT["date"]))
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, Decimal):
        return str(value)
    s = str(value)
    mapping = style.get(fld)
    if isinstance(mapping, dict):
        return str(mapping.get(s, s))
    return s


class _Sink:
    """Physical output; `count` = canonical rows written."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0


class CsvSink(_Sink):
    def __init__(self, path: Path, headers: list[str], encoding: str, delimiter: str, bom: bool) -> None:
        super().__init__(path)
        self.fh = path.open("w", encoding=encoding, newline="")
        if bom:
            self.fh.write("\ufeff")
        self.w = csv.writer(self.fh, delimiter=delimiter, lineterminator="\r\n")
        self.w.writerow(headers)
        self.headers = headers

    def write(self, values: list[str | None]) -> None:
        self.w.writerow(["" if v is None else v for v in values])
        self.count += 1

    def close(self) -> None:
        self.fh.close()


class XlsxSink(_Sink):
    def __init__(self, path: Path, headers: list[str], sheet: str) -> None:
        from openpyxl import Workbook

        super().__init__(path)
        self.wb = Workbook(write_only=True)
        fixed = datetime(2020, 1, 1)
        self.wb.properties.created = fixed
        self.wb.properties.modified = fixed
        self.ws = self.wb.create_sheet(sheet)
        self.ws.append(headers)

    def write(self, values: list[str | None]) -> None:
        self.ws.append(["" if v is None else v for v in values])
        self.count += 1

    def close(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        self.wb.save(tmp)
        _normalise_zip(tmp, self.path)
        tmp.unlink()


def _normalise_zip(src: Path, dst: Path) -> None:
    """Rewrite a zip with fixed entry times so the same seed gives byte-identical XLSX."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            fixed = zipfile.ZipInfo(info.filename, EPOCH_ZIP)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o600 << 16
            if info.filename == "docProps/core.xml":  # openpyxl stamps "modified" with now()
                xml = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2020-01-01T00:00:00Z", zin.read(info))
                zout.writestr(fixed, xml)
                continue
            with zin.open(info) as fin, zout.open(fixed, "w") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)


class JsonSink(_Sink):
    """Streams {"export_time": ..., "data": {"<key>": [records...]}} one record at a time."""

    def __init__(self, path: Path, records_path: str, export_time: str, bom: bool) -> None:
        super().__init__(path)
        self.fh = path.open("w", encoding="utf-8", newline="\n")
        if bom:
            self.fh.write("\ufeff")
        outer, key = records_path.split(".", 1)
        self.fh.write(f'{{"export_time": {json.dumps(export_time)}, "{outer}": {{"{key}": [')
        self.tail = "]}}\n"

    def write(self, record: dict) -> None:
        self.fh.write(("\n" if self.count == 0 else ",\n") + json.dumps(record, ensure_ascii=False))
        self.count += 1

    def close(self) -> None:
        self.fh.write(("\n" if self.count else "") + self.tail)
        self.fh.close()


class Hl7Sink(_Sink):
    """FHS/BHS ... BTS/FTS batch of CR-terminated messages; `count` = canonical rows."""

    def __init__(self, path: Path, facility: str, stamp: str, batch_id: str) -> None:
        super().__init__(path)
        self.fh = path.open("w", encoding="utf-8", newline="")
        self.messages = 0
        self.fh.write(f"FHS|^~\\&|RHP-SYNTH|{facility}|RHP|REGION|{stamp}||{path.name}|{batch_id}\r")
        self.fh.write(f"BHS|^~\\&|RHP-SYNTH|{facility}|RHP|REGION|{stamp}||||{batch_id}\r")

    def write_message(self, segments: list[str], rows: int) -> None:
        self.fh.write("".join(s + "\r" for s in segments))
        self.messages += 1
        self.count += rows

    def close(self) -> None:
        self.fh.write(f"BTS|{self.messages}\rFTS|1\r")
        self.fh.close()


def _set_path(tree: dict[str, dict[int, dict[int, dict[int, str]]]], path: str, value: str) -> None:
    seg, rest = path.split("-", 1)
    parts = [int(p) for p in rest.split(".")]
    f, c, s = parts[0], parts[1] if len(parts) > 1 else 1, parts[2] if len(parts) > 2 else 1
    tree.setdefault(seg, {}).setdefault(f, {}).setdefault(c, {})[s] = value


def _esc(v: str) -> str:
    return v.replace("\\", "\\E\\").replace("|", "\\F\\").replace("^", "\\S\\").replace("&", "\\T\\").replace("~", "\\R\\")


def render_segment(seg: str, fields: dict[int, dict[int, dict[int, str]]]) -> str:
    """Render one segment from {field: {component: {sub: value}}} (1-based)."""
    if not fields:
        return seg
    top = max(fields)
    out = []
    start = 3 if seg == "MSH" else 1  # MSH-1 is the separator itself, MSH-2 the encoding chars
    for f in range(start, top + 1):
        comps = fields.get(f, {})
        if not comps:
            out.append("")
            continue
        cs = []
        for c in range(1, max(comps) + 1):
            subs = comps.get(c, {})
            cs.append("&".join(_esc(subs.get(s, "")) for s in range(1, max(subs) + 1)) if subs else "")
        out.append("^".join(cs))
    head = "MSH|^~\\&" if seg == "MSH" else seg
    return head + "|" + "|".join(out) if out else head


class OutFile:
    """One delivered file: formatting, row defects, file defects, arrival time, manifest count."""

    def __init__(self, landing: Path, profile: SourceProfile, spec: FileSpec, institution: str,
                 day: date, defects: DefectLog, dictionaries: dict[str, Any], zero_required: bool) -> None:
        self.profile, self.spec, self.day = profile, spec, day
        self.name = spec.pattern.replace("*", f"{day:%Y%m%d}")
        self.folder = landing / profile.source / institution / f"{day:%Y-%m-%d}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rel = f"{profile.source}/{institution}/{day:%Y-%m-%d}/{self.name}"
        self.ctx = {"source": profile.source, "institution": institution, "date": f"{day:%Y-%m-%d}",
                    "file": self.rel}
        self.defects, self.dicts, self.zero_required = defects, dictionaries, zero_required
        self.style = styles().get(profile.id, {})
        self.inv = {canon: vendor for vendor, canon in spec.columns.items()}
        self.headers = list(spec.columns)
        self.row_kinds = applicable_row_kinds(spec.table, profile.format)
        self.file_defect = defects.file_kind(self.rel, applicable_file_kinds(profile.format, profile.encoding))
        self.rows_seen = 0  # events generated (before file defects)
        # CSV/XLSX: physical line of the next data row (header = 1); JSON: 1-based record index
        self.next_line = 1 if profile.format == "json" else 2
        self.force_next = self.file_defect is Kind.corrected_file
        self.row_defects = 0
        fd = self.file_defect
        enc = profile.encoding if profile.encoding not in ("auto",) else "utf-8"
        self.sink = self._open(self.folder / self.name, enc if fd is not Kind.wrong_encoding else "gbk",
                               fd is Kind.bom)
        self.corr = None
        if fd is Kind.corrected_file:
            stem, ext = os.path.splitext(self.name)
            self.corr = self._open(self.folder / f"{stem}_corr1{ext}", enc, False)
        self.suppress = fd in (Kind.zero_report, Kind.missing_file)  # rows do not reach the file / are lost

    def _open(self, path: Path, encoding: str, bom: bool):
        fmt = self.profile.format
        if fmt == "csv":
            return CsvSink(path, self.headers, encoding, self.profile.delimiter, bom)
        if fmt == "xlsx":
            return XlsxSink(path, self.headers, str(self.spec.sheet or "Sheet1"))
        if fmt == "json":
            return JsonSink(path, self.spec.records_path or "data.records", f"{self.day}T23:30:00", bom)
        if fmt == "hl7v2":
            return Hl7Sink(path, self.ctx["institution"], f"{self.day:%Y%m%d}233000", f"{h64(self.rel) % 10**8:08d}")
        raise ValueError(f"{self.profile.id}: the generator cannot write format {fmt!r}")

    # ---- tabular / JSON rows -------------------------------------------------------------
    def _values(self, row: dict[str, Any]) -> list[str | None]:
        return [render(row.get(self.spec.columns[h]), self.spec.columns[h], self.spec, self.style) for h in self.headers]

    def _record(self, row: dict[str, Any]) -> dict:
        rec: dict = {}
        for key, canon in self.spec.columns.items():
            v = row.get(canon)
            rv = render(v, canon, self.spec, self.style) if not isinstance(v, bool) else self.style.get("bool", [1, 0])[0 if v else 1]
            node = rec
            parts = key.split(".")
            for p in parts[:-1]:
                node = node.setdefault(p, {})
            node[parts[-1]] = rv
        return rec

    def _emit(self, sink, row: dict[str, Any]) -> None:
        if self.profile.format == "json":
            sink.write(self._record(row))
        else:
            sink.write(self._values(row))

    def _unmapped(self, line: int) -> str:
        kind = CODE_FIELD[self.spec.table][1]
        return self.dicts[kind].unmapped_code(h64(self.rel, line))

    def write(self, row: dict[str, Any]) -> None:
        """Write one canonical row (typed values), maybe with one injected row defect."""
        self.rows_seen += 1
        if self.corr is not None:
            self._emit(self.corr, row)
        if self.suppress:
            return
        line = self.next_line
        kind = self.defects.row_kind(self.rel, line, self.row_kinds, force=self.force_next)
        self.force_next = False
        key = str(row.get(KEY_FIELD.get(self.spec.table, ""), "") or "")
        if kind is Kind.sex_mismatch and len(str(row.get("id_number") or "")) != 18:
            kind = None
        if kind in (Kind.exact_duplicate, Kind.near_duplicate):
            self._emit(self.sink, row)
            dup = dict(row)
            detail = f"row of line {line} repeated at line {line + 1}"
            if kind is Kind.near_duplicate:
                kf, tf = NEAR_DUP[self.spec.table]
                dup[kf] = f"{row[kf]}R"
                if tf and isinstance(row.get(tf), datetime):
                    from datetime import timedelta

                    dup[tf] = row[tf] + timedelta(minutes=2)
                detail = f"line {line + 1} re-enters line {line} with {kf} {dup[kf]} and time +2 min"
            self._emit(self.sink, dup)
            self.defects.add(kind, self.ctx, detail, line=line + 1, record=key)
            self.next_line += 2
            self.row_defects += 1
            return
        if kind is not None:
            bad = dict(row)
            unmapped = self._unmapped(line) if kind is Kind.unmapped_code else ""
            detail = apply_row_defect(kind, self.spec.table, bad, unmapped)
            self.defects.add(kind, self.ctx, detail, line=line, record=key)
            self.row_defects += 1
            row = bad
        self._emit(self.sink, row)
        self.next_line += 1

    # ---- HL7 messages --------------------------------------------------------------------
    def write_message(self, header: dict[str, Any], obx_rows: list[dict[str, Any]], msg_type: str,
                      control_id: str, fixed: dict[str, str]) -> None:
        """One HL7 message: header fields (PID/PV1/ORC/OBR/...) plus zero or more OBX rows."""
        rows = max(1, len(obx_rows)) if self.spec.repeat_segment else 1
        self.rows_seen += rows
        if self.corr is not None:
            self.corr.write_message(self._segments(header, obx_rows, msg_type, control_id, fixed), rows)
        if self.suppress:
            return
        kind = self.defects.row_kind(self.rel, self.rows_seen, self.row_kinds,
                                     force=self.force_next)
        self.force_next = False
        header, obx_rows = dict(header), [dict(o) for o in obx_rows]
        if kind is Kind.sex_mismatch and len(str(header.get("id_number") or "")) != 18:
            kind = None
        if kind is not None:
            target = header
            if self.spec.table == "lab_result" and kind in (Kind.unmapped_code,):
                target = obx_rows[0]
            if self.spec.table == "lab_result" and kind is Kind.impossible_date:
                merged = {**header, **obx_rows[0]}
                detail = apply_row_defect(kind, "lab_result", merged, "")
                header["report_time"] = merged["report_time"]
            else:
                unmapped = self._unmapped(self.rows_seen) if kind is Kind.unmapped_code else ""
                detail = apply_row_defect(kind, self.spec.table, target, unmapped)
            self.defects.add(kind, self.ctx, detail, message_id=control_id,
                             record=str(header.get(KEY_FIELD.get(self.spec.table, ""), "")))
            self.row_defects += 1
        segs = self._segments(header, obx_rows, msg_type, control_id, fixed)
        if self.file_defect is Kind.malformed_hl7 and not getattr(self, "_malformed_done", False) \
                and self.sink.messages >= 1:
            segs, detail = _malform(segs, h64(self.rel) % 3)
            self._malformed_done = True
            self.defects.add(Kind.malformed_hl7, self.ctx, detail, message_id=control_id)
        self.sink.write_message(segs, rows)

    def _segments(self, header: dict[str, Any], obx_rows: list[dict[str, Any]], msg_type: str,
                  control_id: str, fixed: dict[str, str]) -> list[str]:
        tree: dict = {}
        for path, canon in self.spec.columns.items():
            if path.startswith("OBX"):
                continue
            v = render(header.get(canon), canon, self.spec, self.style)
            if v is not None:
                _set_path(tree, path, v)
        for path, v in {"MSH-3": "RHP-SYNTH", "MSH-5": "RHP", "MSH-6": "REGION",
                        "MSH-9.1": msg_type.split("^")[0], "MSH-9.2": msg_type.split("^")[1],
                        "MSH-10": control_id, "MSH-11": "P", "MSH-12": "2.5", "MSH-18": "UNICODE UTF-8",
                        "PID-1": "1", **fixed}.items():
            _set_path(tree, path, v)
        order = ["MSH", "EVN", "PID", "PV1", "ORC", "OBR", "DG1"]
        segs = [render_segment(s, tree[s]) for s in order if s in tree]
        for n, obx in enumerate(obx_rows, 1):
            otree: dict = {}
            for path, canon in self.spec.columns.items():
                if path.startswith("OBX"):
                    v = render(obx.get(canon), canon, self.spec, self.style)
                    if v is not None:
                        _set_path(otree, path, v)
            _set_path(otree, "OBX-1", str(n))
            _set_path(otree, "OBX-2", "NM" if _is_num(obx.get("value")) else "ST")
            segs.append(render_segment("OBX", otree["OBX"]))
        return segs

    # ---- finish --------------------------------------------------------------------------
    def close(self) -> dict[str, int]:
        """Finish the file(s); apply the file defect; return manifest entries {name: declared}."""
        self.sink.close()
        if self.corr is not None:
            self.corr.close()
        fd, declared = self.file_defect, self.sink.count
        entries: dict[str, int] = {}
        on_time = arrival(self.day)
        if self.rows_seen == 0 and not self.zero_required:  # nothing happened, nothing owed
            self.sink.path.unlink()
            if self.corr is not None:
                self.corr.path.unlink()
            return {}
        if fd is Kind.zero_report and self.rows_seen == 0:
            fd = None  # nothing to drop: it is a genuine zero report
        if fd is Kind.corrected_file and self.row_defects == 0:
            self.corr.path.unlink()
            fd = None
        if fd is Kind.missing_file:
            self.sink.path.unlink()
            self.defects.add(Kind.missing_file, self.ctx,
                             f"expected file {self.name} ({self.rows_seen} rows) was not delivered; "
                             "_manifest.json still declares it")
            return {self.name: self.rows_seen}
        entries[self.name] = declared
        os.utime(self.sink.path, (on_time, on_time))
        if fd is Kind.zero_report:
            self.defects.add(Kind.zero_report, self.ctx,
                             f"header-only file declared 0 rows although {self.rows_seen} events occurred")
        elif fd is Kind.late_file:
            late = 2 + h64(self.rel, "late") % 5
            t = arrival(self.day, late)
            os.utime(self.sink.path, (t, t))
            self.defects.add(Kind.late_file, self.ctx, f"delivered {late} days after the deadline day")
        elif fd is Kind.duplicate_file:
            stem, ext = os.path.splitext(self.name)
            copy = self.sink.path.with_name(f"{stem} (1){ext}")
            shutil.copyfile(self.sink.path, copy)
            os.utime(copy, (on_time + 600, on_time + 600))
            self.defects.add(Kind.duplicate_file, self.ctx, f"same file delivered again as {copy.name}")
        elif fd is Kind.corrected_file:
            t = arrival(self.day, 3)
            os.utime(self.corr.path, (t, t))
            entries[self.corr.path.name] = self.corr.count
            self.defects.add(Kind.corrected_file, self.ctx,
                             f"{self.corr.path.name} re-delivers the file 3 days later with its "
                             f"{self.row_defects} row defect(s) fixed")
        elif fd is Kind.wrong_encoding:
            self.defects.add(Kind.wrong_encoding, self.ctx, "UTF-8 profile file written in GBK")
        elif fd is Kind.bom:
            self.defects.add(Kind.bom, self.ctx, "file starts with a UTF-8 byte-order mark")
        return entries


def _is_num(v: Any) -> bool:
    try:
        float(str(v))
        return True
    except ValueError:
        return False


def _malform(segs: list[str], variant: int) -> tuple[list[str], str]:
    if variant == 0:
        return segs[:2] + ["ZZ|garbled\\segment|" + "x" * 5, "OB"] + segs[2:], \
            "bad segments 'ZZ|garbled...' and 'OB' inserted after PID"
    if variant == 1:
        return segs[1:], "message has no MSH segment (starts with PID)"
    cut = max(2, len(segs) // 2)
    return segs[:cut], f"message truncated after {cut} of {len(segs)} segments"


def write_manifest(folder: Path, entries: dict[str, int]) -> None:
    doc = {"files": {n: {"declared_count": c} for n, c in sorted(entries.items())}}
    (folder / "_manifest.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def csv_text(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(rows)
    return buf.getvalue()
