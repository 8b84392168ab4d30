"""Patient/$everything for one person: a searchset Bundle read from the warehouse FHIR store.

The store table ``fhir_resource(id, resource_type, person_key, resource)`` is created by the
warehouse's FHIR-store migration (0200); ``resource`` is the JSON text written by this layer.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SQL_DIR = Path(__file__).resolve().parent / "sql"


@lru_cache(maxsize=4)
def _sql(name: str) -> sa.TextClause:
    return sa.text((SQL_DIR / name).read_text(encoding="utf-8"))


def everything_bundle(conn: Connection, person_key: str) -> dict[str, Any]:
    """A searchset Bundle of every resource keyed to ``person_key`` (Patient first); empty when unknown."""
    entries = []
    for rid, rtype, text in conn.execute(_sql("everything.sql"), {"person_key": person_key}):
        resource = json.loads(text) if isinstance(text, str) else text
        entries.append({"fullUrl": f"{rtype}/{rid}", "resource": resource, "search": {"mode": "match"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
