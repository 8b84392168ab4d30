"""What a reader yields: a canonical row, or a rejected record with its reason."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Row:
    """One canonical record (values are strings as read; typing happens in standardise)."""

    table: str
    values: dict[str, str | None]
    line: int | None = None  # 1-based physical line / XLSX row / record index
    message_id: str | None = None  # HL7 MSH-10 or FHIR id
    raw: str = ""  # the raw record text, for the record hash and quarantine


@dataclass
class Reject:
    """A record that could not be read; it goes to quarantine, never to the bin."""

    check_id: str  # e.g. ingest.hl7.bad_segment, ingest.csv.column_count, ingest.encoding
    reason: str  # a sentence naming the file, the line or message id, and the value
    line: int | None = None
    message_id: str | None = None
    raw: str = ""
    table: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
