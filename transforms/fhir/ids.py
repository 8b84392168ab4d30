"""Deterministic resource ids: uuid5 over resource type + source identity.

Why: a reload or a re-mapping of the same record must replace its resource, never add a
second one, so the id may depend only on who issued the record and its business key.
"""

from __future__ import annotations

import uuid
from functools import lru_cache

from transforms.terminology import systems

_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, systems.FHIR_ID_NAMESPACE)


@lru_cache(maxsize=65_536)  # institutions and practitioners are referenced over and over
def _uuid5(name: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, name))


def resource_id(resource_type: str, *parts: object) -> str:
    """uuid5 of ``resource_type`` and the business-key parts (e.g. institution, encounter_no)."""
    if not parts or any(p is None or p == "" for p in parts):
        raise ValueError(f"{resource_type}: cannot derive an id from an incomplete key {parts!r}")
    name = "|".join([resource_type, *(str(p) for p in parts)])
    return _uuid5(name)


def patient_id(person_key: str) -> str:
    """A Patient's id is derived from the pseudonymous person key only."""
    return resource_id("Patient", person_key)


@lru_cache(maxsize=65_536, typed=True)  # shared result: never mutated (build_row's prune copies)
def ref(resource_type: str, *parts: object) -> dict[str, str]:
    """A literal reference ``{"reference": "Type/<id>"}`` to a deterministic id."""
    return {"reference": f"{resource_type}/{resource_id(resource_type, *parts)}"}


@lru_cache(maxsize=65_536)  # shared result: never mutated (build_row's prune copies)
def patient_ref(person_key: str) -> dict[str, str]:
    return {"reference": f"Patient/{patient_id(person_key)}"}
