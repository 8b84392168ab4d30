"""One builder per canonical table: standard-layer row (dict) -> list of resource dicts.

``build_row`` adds what every resource carries (the lineage extension) and prunes empty
elements, so builders can write optional elements as None without branching.
"""

from __future__ import annotations

from collections.abc import Callable

from transforms.fhir.builders import admin, care, clinical
from transforms.fhir.common import Row, lineage_extension, prune

Builder = Callable[[Row], list[dict]]

BUILDERS: dict[str, Builder] = {
    "institution": admin.build_institution,
    "medical_group": admin.build_medical_group,
    "group_membership": admin.build_group_membership,
    "practitioner": admin.build_practitioner,
    "team": admin.build_team,
    "health_record": admin.build_health_record,
    "encounter": clinical.build_encounter,
    "diagnosis": clinical.build_diagnosis,
    "lab_result": clinical.build_lab_result,
    "exam_report": clinical.build_exam_report,
    "prescription": clinical.build_prescription,
    "immunization": clinical.build_immunization,
    "signing_contract": care.build_signing_contract,
    "followup": care.build_followup,
    "referral": care.build_referral,
    "surveillance_report": care.build_surveillance_report,
}


def build_row(table: str, row: Row) -> list[dict]:
    """All resources for one standard row, each with the lineage extension, pruned."""
    try:
        builder = BUILDERS[table]
    except KeyError:
        raise KeyError(f"no FHIR builder for canonical table {table!r}; known: {sorted(BUILDERS)}") from None
    lineage = lineage_extension(row)
    out = []
    for res in builder(row):
        if lineage:
            res.setdefault("extension", []).append(lineage)
        out.append(prune(res))
    return out
