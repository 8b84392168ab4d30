"""Relationship-scoped access: may this institution see this resident?

Decision (docs/api.md): a clinician of institution X sees a resident only if the resident has
any encounter at X (fact_encounter) or a signing contract with X in force on the query date
(fact_signing, end_date NULL or not before it). The basis is returned so the audit records it.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

Basis = Literal["encounter", "signing"]

_ENCOUNTER = sa.text("SELECT 1 FROM fact_encounter WHERE person_key = :pk AND institution_code = :inst LIMIT 1")
_SIGNING = sa.text(
    "SELECT 1 FROM fact_signing WHERE person_key = :pk AND institution_code = :inst "
    "AND (start_date IS NULL OR start_date <= :d) AND (end_date IS NULL OR end_date >= :d) LIMIT 1"
)


def relationship_basis(conn: Connection, person_key: str, institution_code: str, on: date) -> Basis | None:
    """'encounter' or 'signing' when the institution has a relationship with the resident, else None."""
    params = {"pk": person_key, "inst": institution_code, "d": on}
    if conn.execute(_ENCOUNTER, params).first() is not None:
        return "encounter"
    if conn.execute(_SIGNING, params).first() is not None:
        return "signing"
    return None
