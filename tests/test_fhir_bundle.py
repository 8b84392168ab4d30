"""everything_bundle over a FHIR store table holding two people."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from test_fhir_builders import PK, sample

from transforms.fhir.builders import build_row
from transforms.fhir.bundle import everything_bundle
from transforms.fhir.validate import model_class


def _load(url: str) -> sa.Engine:
    eng = sa.create_engine(url)
    rows = []
    for table in ("health_record", "encounter", "lab_result"):
        for pk in (PK, "b" * 64):
            for res in build_row(table, sample(table, person_key=pk)):
                rows.append({"id": res["id"], "resource_type": res["resourceType"], "person_key": pk,
                             "resource": json.dumps(res, ensure_ascii=False)})
    with eng.begin() as c:
        c.execute(sa.text("CREATE TABLE fhir_resource (id VARCHAR, resource_type VARCHAR, person_key VARCHAR, "
                          "resource TEXT)"))
        c.execute(sa.text("INSERT INTO fhir_resource VALUES (:id, :resource_type, :person_key, :resource)"), rows)
    return eng


def _check(eng):
    with eng.connect() as c:
        b = everything_bundle(c, PK)
        empty = everything_bundle(c, "nobody")
    types = [e["resource"]["resourceType"] for e in b["entry"]]
    assert types[0] == "Patient" and b["total"] == len(types) == 5
    assert sorted(types[1:]) == ["DiagnosticReport", "Encounter", "Observation", "ServiceRequest"]
    assert all(e["fullUrl"] == f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in b["entry"])
    model_class("Bundle").model_validate(b)
    assert empty["total"] == 0


@pytest.mark.local
def test_everything_bundle_duckdb(tmp_path):
    _check(_load(f"duckdb:///{tmp_path / 'w.duckdb'}"))


@pytest.mark.postgres
def test_everything_bundle_postgres(pg_url):
    _check(_load(pg_url))
