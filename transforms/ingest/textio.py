"""Decoding landed text files line by line, with the encoding decision written down.

Why line by line: a day file can be larger than memory, and one badly encoded line must
cost one quarantined record, not the file. Why the GB18030 fallback: Chinese HIS exports
declared (or sniffed) as UTF-8 regularly carry a few GBK lines typed in by hand. A data
centre accepts those lines and flags the file (``ReadNotes.fallback_lines``) rather than
losing clinical records; only bytes that decode in neither encoding are rejected with
``ingest.encoding`` naming the file and byte offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

SNIFF_BYTES = 64 * 1024
FALLBACK_ENCODING = "gb18030"


@dataclass
class ReadNotes:
    """What a reader learnt about a file besides its records (goes to the submission log)."""

    encoding: str = ""
    fallback_lines: list[int] = field(default_factory=list)  # lines decoded as GB18030 despite UTF-8
    unknown_columns: list[str] = field(default_factory=list)  # schema drift: vendor columns not mapped
    absent_columns: list[str] = field(default_factory=list)  # mapped optional columns missing
    messages: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = []
        if self.fallback_lines:
            shown = ",".join(str(n) for n in self.fallback_lines[:10])
            parts.append(
                f"{len(self.fallback_lines)} line(s) not valid {self.encoding}, accepted as GB18030 (lines {shown})"
            )
        if self.unknown_columns:
            parts.append(f"schema drift: unmapped vendor columns {self.unknown_columns}")
        if self.absent_columns:
            parts.append(f"mapped optional columns absent: {self.absent_columns}")
        parts.extend(self.messages)
        return "; ".join(parts)


@dataclass
class DecodedLine:
    """One physical line: 1-based number, byte offset of its start, text (without EOL)."""

    number: int
    offset: int
    text: str
    error: str | None = None  # set when the bytes decode in no accepted encoding


def sniff_encoding(head: bytes, declared: str) -> str:
    """The codec to read with: a BOM wins, then the declared one, then utf-8 vs gb18030."""
    if head.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if declared != "auto":
        return declared
    sample = head[:SNIFF_BYTES]
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:  # a multibyte char cut by the sample boundary
            return "utf-8"
        return FALLBACK_ENCODING


def _strip_eol(raw: bytes) -> bytes:
    if raw.endswith(b"\r\n"):
        return raw[:-2]
    if raw.endswith(b"\n") or raw.endswith(b"\r"):
        return raw[:-1]
    return raw


def iter_lines(path: Path, declared: str, notes: ReadNotes, *, start: tuple[int, int] = (0, 1)) -> Iterator[DecodedLine]:
    """Decode ``path`` line by line (LF or CRLF ends); undecodable lines carry an error.

    ``start`` = (byte offset, its line number) resumes at a line boundary, for a reader
    that read the lines before it by other means (the CSV fast path).
    """
    with path.open("rb") as fh:
        head = fh.read(SNIFF_BYTES)
        codec = sniff_encoding(head, declared)
        notes.encoding = codec
        offset, first = start
        fh.seek(offset)
        for number, raw in enumerate(fh, start=first):
            body = _strip_eol(raw)
            if number == 1 and body.startswith(b"\xef\xbb\xbf"):
                body, start = body[3:], offset + 3
            else:
                start = offset
            yield decode_line(body, codec, number, start, path, notes)
            offset += len(raw)


def decode_line(body: bytes, codec: str, number: int, offset: int, path: Path, notes: ReadNotes) -> DecodedLine:
    """Decode one line; UTF-8 that fails is retried as GB18030 (accepted and flagged)."""
    codec = "utf-8" if codec == "utf-8-sig" else codec
    try:
        return DecodedLine(number, offset, body.decode(codec))
    except UnicodeDecodeError as exc:
        first = exc
    if codec == "utf-8":
        try:
            text = body.decode(FALLBACK_ENCODING)
            notes.fallback_lines.append(number)
            return DecodedLine(number, offset, text)
        except UnicodeDecodeError:
            pass
    bad = body[first.start:first.start + 4].hex(" ")
    error = (
        f"{path.name}: line {number} is not valid {codec}"
        f"{' nor GB18030' if codec == 'utf-8' else ''} at byte offset {offset + first.start} (bytes {bad})"
    )
    return DecodedLine(number, offset, body.decode(codec, errors="replace"), error)
