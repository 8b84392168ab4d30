"""Provenance: one per source record, linking the resources built from it to the batch.

The entity is the source batch (identifier = batch id) with the file and line or message id
as its display, so a resource can be traced back to the exact submitted record.
"""

from __future__ import annotations

from typing import Any

from transforms.fhir.common import Row, fhir_date, org_ref, text, val
from transforms.fhir.ids import resource_id
from transforms.terminology import systems


def build_provenance(table: str, row: Row, resources: list[dict[str, Any]]) -> dict[str, Any]:
    batch, file_ = text(row, "_batch_id") or "unknown", text(row, "_file") or "unknown"
    msg, line = text(row, "_message_id"), text(row, "_line")
    locator = f"{msg or ''}#{line or ''}"  # one HL7 message may yield several rows (one per OBX)
    where = f"{file_} message {msg} row {line}" if msg else f"{file_} line {line}"
    day = fhir_date(val(row, "_partition_date")) or "1970-01-01"
    inst = text(row, "_institution") or text(row, "institution_code")
    return {
        "resourceType": "Provenance",
        "id": resource_id("Provenance", table, batch, locator),
        "target": [{"reference": f"{r['resourceType']}/{r['id']}"} for r in resources],
        # deterministic (no now()): the landing day at midnight Beijing time
        "recorded": f"{day}T00:00:00+08:00",
        "activity": {"text": f"FHIR mapping of canonical table {table}"},
        "agent": [{"who": org_ref(inst) or {"display": "unknown institution"}}],
        "entity": [{
            "role": "source",
            "what": {"identifier": {"system": systems.BATCH_ID, "value": batch}, "display": where},
        }],
    }
