"""Provenance: one per source batch (a submitted file) in a partition, targeting every resource built from it.

Why per batch and not per record: every resource already carries the lineage extension (batch,
file, line, message id; ``common.lineage_extension``) and the FHIR Parquet layer and the
warehouse store keep the same four columns, so a record is traced to its exact line or
message without a Provenance of its own. A Provenance per record was 47 % of all resources
(as many as every other type together) and so about that share of the FHIR stage and the
load. What a Provenance adds, the activity, the submitting institution and the source batch,
is a property of the batch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from transforms.fhir.common import Row, fhir_date, org_ref, text, val
from transforms.fhir.ids import resource_id
from transforms.terminology import systems


def build_provenance(table: str, row: Row, targets: Iterable[str]) -> dict[str, Any]:
    """The Provenance of ``row``'s batch for ``table``; ``targets`` are ``Type/id`` references."""
    batch, file_ = text(row, "_batch_id") or "unknown", text(row, "_file") or "unknown"
    day = fhir_date(val(row, "_partition_date")) or "1970-01-01"
    inst = text(row, "_institution") or text(row, "institution_code")
    return {
        "resourceType": "Provenance",
        "id": resource_id("Provenance", table, batch, inst or "unknown", day),
        "target": [{"reference": t} for t in targets],
        # deterministic (no now()): the landing day at midnight Beijing time
        "recorded": f"{day}T00:00:00+08:00",
        "activity": {"text": f"FHIR mapping of canonical table {table}"},
        "agent": [{"who": org_ref(inst) or {"display": "unknown institution"}}],
        "entity": [{
            "role": "source",
            "what": {"identifier": {"system": systems.BATCH_ID, "value": batch}, "display": file_},
        }],
    }
