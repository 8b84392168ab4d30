"""Quarantine rows for ingest rejects: one warehouse row per rejected record or message."""

from __future__ import annotations

import hashlib
from datetime import date, datetime

from transforms.sources.records import Reject

STAGE = "ingest"


def quarantine_row(reject: Reject, ordinal: int, batch_id: str, dataset: str | None, institution: str,
                   day: date, rel_path: str, now: datetime) -> dict:
    """The ``quarantine`` row for one reject; the id is stable across reruns of the batch."""
    locator = f"{ordinal}:{reject.line}:{reject.message_id}"
    qid = hashlib.sha256(f"{batch_id}|{STAGE}|{reject.check_id}|{locator}".encode()).hexdigest()[:24]
    return {
        "quarantine_id": qid, "batch_id": batch_id, "stage": STAGE, "dataset": dataset,
        "institution_code": institution, "partition_date": day, "check_id": reject.check_id,
        "reason": reject.reason, "file_path": rel_path, "line_no": reject.line,
        "message_id": reject.message_id, "raw_record": reject.raw or None,
        "quarantined_at": now, "released": False,
    }
