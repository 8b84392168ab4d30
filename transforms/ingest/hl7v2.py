"""HL7 v2 files → canonical rows: a streaming envelope splitter plus hl7apy field parsing.

Why not ``hl7apy.parse_message`` on every message: it builds the full message tree
(every segment, field and component) at ~8–20 ms per message, while a profile needs a
dozen fields. Here a plain splitter finds segments and the FHS/BHS/MSH/BTS/FTS envelope
(CR, LF or CRLF, BOM), and hl7apy parses only the fields the profile names
(``parse_field`` with the message's version and encoding characters, tolerant
validation), with parsed fields cached by their text because codes, units and flags
repeat across messages. ``bench/bench_hl7.py`` measures each variant against the ``hl7``
package; the figures are in docs/benchmarks.md.

Malformed input never stops a batch: each broken message becomes one ``Reject`` with
``check_id`` ``ingest.hl7.<kind>`` naming the file and MSH-10 (or the message ordinal):
``missing_msh`` (segments before any MSH), ``envelope`` (a second FHS/BHS inside an open
one, cutting a message), ``bad_segment`` (not a 3-character segment id),
``bad_msh`` (MSH-1/MSH-2 separators missing or not distinct), ``bad_field`` (hl7apy
cannot parse a mapped field), ``no_repeat_segment`` (the spec makes
one row per e.g. OBX and the message has none), ``encoding``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from transforms.ingest.textio import ReadNotes, decode_line, sniff_encoding
from transforms.ingest.values import NOT_APPLICABLE, ColumnMapper, mask, pii_keys
from transforms.sources.profile import FileSpec, SourceProfile
from transforms.sources.records import Reject, Row

SEGMENT_ID = re.compile(r"^[A-Z][A-Z0-9]{2}$")
PATH = re.compile(r"^([A-Z][A-Z0-9]{2})-(\d+)(?:\.(\d+))?(?:\.(\d+))?$")
ENVELOPE = {"FHS", "BHS", "BTS", "FTS"}
CHUNK = 1 << 20
DEFAULT_VERSION = "2.5"
# Standard PID/NK1 positions holding direct identifiers: masked in quarantine raw_record.
PII_POSITIONS = {"PID": {3, 4, 5, 6, 9, 11, 13, 14, 18, 19, 20}, "NK1": {2, 4, 5, 6}}


@dataclass
class Segment:
    number: int  # 1-based physical segment (= line after CR/LF normalisation)
    text: str
    error: str | None = None


@dataclass
class Message:
    """One message (or one run of orphan segments) cut from a file."""

    ordinal: int
    segments: list[Segment] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (kind, detail)

    @property
    def control_id(self) -> str | None:
        if self.segments and self.segments[0].text.startswith("MSH") and len(self.segments[0].text) > 3:
            parts = self.segments[0].text.split(self.segments[0].text[3])
            return parts[9].strip() or None if len(parts) > 9 else None
        return None

    def label(self) -> str:
        cid = self.control_id
        return f"message {self.ordinal} (MSH-10 {cid})" if cid else f"message {self.ordinal}"

    @property
    def text(self) -> str:
        return "\r".join(s.text for s in self.segments)


def iter_segments(path: Path, declared: str, notes: ReadNotes) -> Iterator[Segment]:
    """Stream segments split on CR, LF or CRLF; decode each (BOM stripped, GB18030 fallback)."""
    eol = re.compile(rb"[\r\n]")
    with path.open("rb") as fh:
        buf = fh.read(CHUNK)
        codec = sniff_encoding(buf, declared)
        notes.encoding = codec
        base = 0
        if buf.startswith(b"\xef\xbb\xbf"):
            buf, base = buf[3:], 3
        number = 0
        while True:
            chunk = fh.read(CHUNK)
            last = not chunk
            buf += chunk
            start = 0
            for m in eol.finditer(buf):
                piece = buf[start:m.start()]
                if piece.strip():
                    number += 1
                    line = decode_line(piece, codec, number, base + start, path, notes)
                    yield Segment(number, line.text, line.error)
                start = m.end()
            buf, base = buf[start:], base + start
            if last:
                if buf.strip():
                    number += 1
                    line = decode_line(buf, codec, number, base, path, notes)
                    yield Segment(number, line.text, line.error)
                return


def iter_messages(segments: Iterator[Segment], single_patient: bool = False) -> Iterator[Message]:
    """Cut messages at MSH and envelope segments; orphans and envelope breaks become errors.

    ``single_patient``: the sender's contract is one patient per message (profile flag), so a
    second PID, like a second EVN/PID in any ADT, is the next message arriving without its MSH.
    """
    in_file = in_batch = False
    current: Message | None = None
    adt: tuple[Message | None, bool] = (None, False)
    ordinal = 0

    def start(first: Segment | None) -> Message:
        nonlocal ordinal
        ordinal += 1
        return Message(ordinal, [first] if first else [])

    for seg in segments:
        sid = seg.text[:3]
        if seg.error:  # the message that owns the undecodable segment is rejected
            if sid == "MSH" or current is None:
                if current is not None:
                    yield current
                current = start(seg)
            else:
                current.segments.append(seg)
            current.errors.append(("encoding", seg.error))
            continue
        if sid == "MSH":
            if current is not None:
                yield current
            current = start(seg)
        elif sid in ("FHS", "BHS"):
            reopened = (sid == "FHS" and in_file) or (sid == "BHS" and in_batch)
            if reopened:
                if current is None:
                    current = start(None)
                current.segments.append(seg)
                current.errors.append(("envelope", f"{sid} at segment {seg.number} opens a "
                                       f"{'file' if sid == 'FHS' else 'batch'} inside an open one"))
                continue
            if current is not None:
                yield current
                current = None
            in_file = in_file or sid == "FHS"
            in_batch = in_batch or sid == "BHS"
        elif sid in ("BTS", "FTS"):
            if current is not None:
                yield current
                current = None
            if sid == "BTS":
                in_batch = False
            else:
                in_file = in_batch = False
        else:
            if current is not None and adt[0] is not current:  # once per message, not per segment
                adt = (current, _is_adt(current))
            once = ONCE_PER_ADT if current is not None and adt[1] else (
                frozenset({"PID"}) if single_patient else frozenset())
            if current is not None and sid in once and any(s.text[:3] == sid for s in current.segments):
                # an ADT message carries one EVN and one PID: a second one is the next message
                # arriving without its MSH, not part of this one
                yield current
                current = start(None)
                current.errors.append(("missing_msh", f"segment {seg.number} ({sid}) repeats inside a message "
                                                      "that carries one: the message it starts has no MSH"))
            if current is None:
                current = start(None)
                current.errors.append(("missing_msh", f"segment {seg.number} ({sid}) comes before any MSH"))
            elif not SEGMENT_ID.match(sid) or (len(seg.text) > 3 and seg.text[3] != current_sep(current)):
                current.errors.append(("bad_segment", f"segment {seg.number} has no valid segment id: {seg.text[:8]!r}"))
            current.segments.append(seg)
    if current is not None:
        yield current


ONCE_PER_ADT = frozenset({"EVN", "PID"})


def _is_adt(msg: Message) -> bool:
    first = msg.segments[0].text if msg.segments else ""
    if not first.startswith("MSH") or len(first) < 4:
        return False
    fields = first.split(first[3])
    return len(fields) > 8 and fields[8].startswith("ADT")


def current_sep(msg: Message) -> str:
    first = msg.segments[0].text if msg.segments else ""
    return first[3] if first.startswith("MSH") and len(first) > 3 else "|"


@dataclass(frozen=True)
class Path7:
    seg: str
    field: int
    comp: int | None
    sub: int | None


def parse_path(path: str) -> Path7:
    m = PATH.match(path)
    if not m:
        raise ValueError(f"HL7 column {path!r} is not a path SEG-F[.C[.S]] (e.g. PID-3.1)")
    return Path7(m.group(1), int(m.group(2)), *(int(g) if g else None for g in m.group(3, 4)))


_ESCAPES = {"F": "|", "S": "^", "T": "&", "R": "~", "E": "\\"}


def unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return re.sub(r"\\([FSTRE])\\", lambda m: _ESCAPES[m.group(1)], text)


@lru_cache(maxsize=1024)  # hl7apy trees are heavy: keep few; `extract` caches the strings
def _hl7apy_field(text: str, name: str, version: str, enc: str):
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_field

    enc_chars = {"FIELD": enc[0], "COMPONENT": enc[1], "REPETITION": enc[2], "ESCAPE": enc[3],
                 "SUBCOMPONENT": enc[4]}
    return parse_field(text, name=name, version=version, encoding_chars=enc_chars,
                       validation_level=VALIDATION_LEVEL.TOLERANT)


def _child(elem, index: int):
    for c in elem.children:
        name = c.name or ""
        if name.rsplit("_", 1)[-1] == str(index):
            return c
    return None


@lru_cache(maxsize=65536)
def extract(text: str, seg: str, fld: int, comp: int | None, sub: int | None, version: str, enc: str) -> str:
    """One field value (first repetition) at component/subcomponent.

    A field holding none of the component, repetition, escape and subcomponent characters
    is one plain value: hl7apy's parse of it is the identity (``test_plain_field_shortcut``
    checks that on random input), so only structured or whitespace-only fields go to hl7apy.
    """
    first = text.split(enc[2], 1)[0]
    if first == "":
        return ""
    if first.strip() and not any(ch in first for ch in enc[1:]):
        return first if (comp or 1) == 1 and (sub or 1) == 1 else ""
    # structured, or whitespace only (hl7apy blanks it for composite types such as CX): exact path
    return extract_hl7apy(first, seg, fld, comp, sub, version, enc)


def extract_hl7apy(first: str, seg: str, fld: int, comp: int | None, sub: int | None, version: str,
                   enc: str) -> str:
    """The general path: hl7apy parses the field with its datatype, we walk to C/S."""
    parsed = _hl7apy_field(first, f"{seg}_{fld}", version, enc)
    elem = parsed
    if comp is not None:
        elem = _child(parsed, comp)
        if elem is None:
            return first if comp == 1 and enc[1] not in first else ""
        if sub is not None:
            node = _child(elem, sub)
            if node is None:
                er7 = elem.to_er7()
                return er7 if sub == 1 and enc[4] not in er7 else ""
            elem = node
    return unescape(elem.to_er7())


def _version(msh_fields: list[str], comp_sep: str) -> str:
    from hl7apy import SUPPORTED_LIBRARIES

    v = msh_fields[12].split(comp_sep)[0].strip() if len(msh_fields) > 12 else ""
    return v if v in SUPPORTED_LIBRARIES else DEFAULT_VERSION


class MessageMapper:
    """Maps one parsed message to canonical rows for one file spec."""

    def __init__(self, profile: SourceProfile, spec: FileSpec):
        self.spec = spec
        self.paths = {key: parse_path(key) for key in spec.columns}
        # (key, segment, field, component, subcomponent, whole value wanted) per mapped column
        self.plan = [(key, p.seg, p.field, p.comp, p.sub, (p.comp or 1) == 1 and (p.sub or 1) == 1)
                     for key, p in self.paths.items()]
        self.repeat = spec.repeat_segment
        self.needed = {p.seg for p in self.paths.values()} | ({self.repeat} if self.repeat else set())
        self.pii = pii_keys(spec)
        self.mapper = ColumnMapper(spec)
        self.plan_by_segment: dict[str, list[tuple]] = {}
        for idx, (key, sg, fi, co, su, whole) in enumerate(self.plan):
            self.plan_by_segment.setdefault(sg, []).append((idx, key, fi, co, su, whole))
        self.segment_order = list(self.plan_by_segment)
        self.targets = dict(spec.columns)
        # every target fed by one key, all of them canonical fields: segments can be cleaned
        # separately and merged (else the vendor values go through ``from_mapping``)
        self.unique_targets = (len(set(self.targets.values())) == len(self.targets)
                               and set(self.targets.values()) <= set(self.mapper.fields))
        self.blank: dict[str, str | None] = dict.fromkeys(self.mapper.fields)

    def rows(self, msg: Message, path: Path) -> Iterator[Row | Reject]:
        """Canonical rows of one message (one per repeat segment, e.g. OBX, when the spec says so).

        Why per segment occurrence: an ORU has one PID/PV1/OBR and many OBX, so the fields of
        the shared segments are extracted and cleaned once per message (``_segment_values``),
        not once per OBX; the OBX's own fields are the only per-row work. The first failing
        field in ``plan`` order still names the reject, as when fields were read row by row.
        """
        msh = msg.segments[0].text
        fsep = msh[3]
        msh_fields = ["MSH", fsep, *msh[4:].split(fsep)]  # MSH-1 is the separator itself
        enc = fsep + (msh_fields[2] + "^~\\&"[len(msh_fields[2]):])[:4]
        version = _version(msh_fields, enc[1])
        cid = msg.control_id
        repeat = self.repeat
        latest: dict[str, list[str]] = {}
        first: dict[str, list[str]] = {}
        texts: dict[str, str] = {}  # segment id -> text of its latest occurrence (= fsep.join(fields))
        # (repeat segment, its fields, snapshot of latest/texts shared by repeats with no segment between)
        repeat_rows: list[tuple[Segment, list[str], tuple[dict, dict]]] = []
        snap: tuple[dict, dict] | None = None
        for seg in msg.segments:
            sid = seg.text[:3]
            if sid not in self.needed:
                continue
            fields = msh_fields if sid == "MSH" else seg.text.split(fsep)
            if sid == repeat:
                if snap is None:
                    snap = (dict(latest), dict(texts))
                repeat_rows.append((seg, fields, snap))
            else:
                snap = None
            latest[sid] = fields
            texts[sid] = seg.text
            first.setdefault(sid, fields)
        if repeat and not repeat_rows:
            yield Reject("ingest.hl7.no_repeat_segment",
                         f"{path.name}: {msg.label()} has no {repeat} segment; table "
                         f"{self.spec.table} needs one row per {repeat}",
                         line=msg.segments[0].number, message_id=cid or f"#{msg.ordinal}",
                         raw=masked_message(msg), table=self.spec.table)
            return
        if repeat:
            sources = [(seg, {**shared[0], repeat: fields}, shared) for seg, fields, shared in repeat_rows]
        else:
            sources = [(msg.segments[0], first, None)]
        cache: dict[int, tuple[dict[str, str | None], tuple | None]] = {}  # id(fields) -> values, error
        prefixes: dict[int, str] = {}  # id(shared snapshot) -> raw context before the repeat segment
        for seg, seg_fields, shared in sources:
            error: tuple | None = None
            merged: dict[str, str | None] = {}
            for sg in self.segment_order:
                fields = seg_fields.get(sg)
                got = cache.get(id(fields)) if fields is not None else None
                if got is None:
                    got = self._segment_values(sg, fields, version, enc)
                    if fields is not None:
                        cache[id(fields)] = got
                values, err = got
                if err is not None and (error is None or err[0] < error[0]):
                    error = err
                merged.update(values)
            if error is not None:
                _, key, value, exc = error
                shown = value[:60]
                if key in self.pii:
                    shown = mask(shown)
                yield Reject("ingest.hl7.bad_field",
                             f"{path.name}: {msg.label()} field {key} value {shown!r} "
                             f"cannot be parsed by hl7apy: {type(exc).__name__}: {exc}",
                             line=seg.number, message_id=cid or f"#{msg.ordinal}",
                             raw=masked_message(msg), table=self.spec.table)
                continue
            if shared is not None:
                prefix = prefixes.get(id(shared))
                if prefix is None:
                    seg_texts = shared[1]
                    prefix = prefixes[id(shared)] = "\r".join(
                        [msh] + [seg_texts[s] for s in sorted(seg_fields) if s not in ("MSH", repeat)])
                raw = prefix + "\r" + seg.text
            else:
                raw = msg.text
            if self.unique_targets:
                out = dict(self.blank)
                out.update(merged)
                out.update(self.mapper.constants)
            else:
                out = self.mapper.from_mapping(merged)
            yield Row(self.spec.table, out, line=seg.number, message_id=cid, raw=raw)

    def _segment_values(self, sg: str, fields: list[str] | None, version: str,
                        enc: str) -> tuple[dict[str, str | None], tuple | None]:
        """The mapped fields of one segment occurrence: cleaned canonical values when every
        target is fed by one key (else the vendor values), and the first failing field
        ``(plan index, key, value, exception)`` or None."""
        vendor: dict[str, str | None] = {}
        c_comp, c_rep, c_esc, c_sub = enc[1], enc[2], enc[3], enc[4]
        for idx, key, fi, co, su, whole in self.plan_by_segment[sg]:
            if fields is None or fi >= len(fields):
                vendor[key] = None
                continue
            v = fields[fi]
            # ``extract``'s plain-value shortcut inlined (most fields): no separator, not blank
            if c_comp not in v and c_rep not in v and c_esc not in v and c_sub not in v and v.strip():
                vendor[key] = v if whole else ""
                continue
            try:
                vendor[key] = extract(v, sg, fi, co, su, version, enc)
            except Exception as exc:  # hl7apy parse errors are many classes
                return {}, (idx, key, v, exc)
        if not self.unique_targets:
            return vendor, None
        na, null, targets = self.mapper.na, self.mapper.null, self.targets
        out: dict[str, str | None] = {}
        for key, v in vendor.items():  # ``ColumnMapper.from_mapping`` for this segment's keys
            if v is None:
                out[targets[key]] = None
                continue
            text = v.strip()
            out[targets[key]] = NOT_APPLICABLE if text in na else (None if text in null else text)
        return out, None


def masked_message(msg: Message) -> str:
    """The message as JSON (segments list) with standard PID/NK1 identifier fields masked."""
    out = []
    for seg in msg.segments:
        sid = seg.text[:3]
        sep = seg.text[3] if len(seg.text) > 3 else "|"
        if sid in PII_POSITIONS:
            parts = seg.text.split(sep)
            parts = [mask(p) if i in PII_POSITIONS[sid] and p else p for i, p in enumerate(parts)]
            out.append(sep.join(parts))
        else:
            out.append(seg.text)
    return json.dumps({"message": msg.ordinal, "control_id": msg.control_id, "segments": out},
                      ensure_ascii=False)


def msh_problem(msg: Message) -> str | None:
    """Why the MSH cannot define this message's separators, if it cannot."""
    text = msg.segments[0].text
    if len(text) < 8:
        return f"MSH {text!r} is too short to hold the field separator and MSH-2"
    chars = text[3] + text[4:].split(text[3])[0]
    if len(set(chars)) != len(chars) or any(c.isalnum() or c.isspace() for c in chars):
        return f"MSH-1/MSH-2 separators {chars!r} are not distinct punctuation"
    return None


def iter_hl7(path: Path, profile: SourceProfile, spec: FileSpec, notes: ReadNotes) -> Iterator[Row | Reject]:
    """Rows and rejects of one HL7 v2 file, message by message (streaming)."""
    mapper = MessageMapper(profile, spec)
    for msg in iter_messages(iter_segments(path, profile.encoding, notes), profile.hl7_one_patient_per_message):
        if not msg.errors and (problem := msh_problem(msg)):
            msg.errors.append(("bad_msh", problem))
        if msg.errors:
            kind, detail = msg.errors[0]
            yield Reject(f"ingest.hl7.{kind}", f"{path.name}: {msg.label()}: {detail}",
                         line=msg.segments[0].number if msg.segments else None,
                         message_id=msg.control_id or f"#{msg.ordinal}",
                         raw=masked_message(msg), table=spec.table)
            continue
        yield from mapper.rows(msg, path)
