"""FHIR-native submissions read back into canonical rows (Bulk NDJSON, Bundle, XML)."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from transforms.fhir.native import iter_fhir_records
from transforms.settings import MAPPINGS_DIR
from transforms.sources.profile import load_profile
from transforms.sources.records import Reject, Row

BULK = "smart-on-fhir-sample-bulk-10patients"


@pytest.fixture(scope="module")
def bulk_profile():
    return load_profile(MAPPINGS_DIR / "sources" / "fhir_bulk_ndjson.yaml")


@pytest.fixture(scope="module")
def bundle_profile():
    return load_profile(MAPPINGS_DIR / "sources" / "fhir_bundle.yaml")


@pytest.mark.unit
def test_bulk_fixture_reads_every_line(fixtures_dir, bulk_profile):
    counts: Counter = Counter()
    for path in sorted((fixtures_dir / BULK).glob("*.ndjson")):
        spec = bulk_profile.spec_for(path.name)
        if spec is None:  # AllergyIntolerance, Device, Location, PractitionerRole: not this profile's files
            continue
        lines = sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        out = list(iter_fhir_records(path, bulk_profile, spec))
        assert len(out) == lines, path.name  # nothing dropped
        assert all(isinstance(o, Row) and o.table == spec.table for o in out), path.name
        counts[spec.table] += len(out)
    assert counts == {"diagnosis": 555, "immunization": 161, "institution": 43, "health_record": 13,
                      "practitioner": 43}


@pytest.mark.unit
def test_bulk_patient_and_condition_values(fixtures_dir, bulk_profile):
    path = fixtures_dir / BULK / "Patient.000.ndjson"
    first = json.loads(path.read_text(encoding="utf-8").splitlines()[0])
    (row, *_) = iter_fhir_records(path, bulk_profile, bulk_profile.spec_for(path.name))
    assert row.message_id == first["id"] and row.line == 1
    assert row.values["birth_date"] == first["birthDate"]
    assert row.values["sex_code"] == {"male": "1", "female": "2"}[first["gender"]]
    assert row.values["id_number"] is None  # a US SSN is not a resident-ID attempt
    cpath = fixtures_dir / BULK / "Condition.000.ndjson"
    c = json.loads(cpath.read_text(encoding="utf-8").splitlines()[0])
    (crow, *_) = iter_fhir_records(cpath, bulk_profile, bulk_profile.spec_for(cpath.name))
    assert crow.values["diagnosis_code"] == c["code"]["coding"][0]["code"]
    assert crow.values["encounter_no"] == c["encounter"]["reference"].split("/")[-1]


@pytest.mark.unit
def test_chinese_xml_patient_id_flagged_invalid_by_identity(fixtures_dir, bundle_profile):
    from transforms.identity.resident_id import check

    path = fixtures_dir / "hl7-fhir-core-examples" / "patient-example-chinese.xml"
    (row,) = iter_fhir_records(path, bundle_profile, bundle_profile.spec_for(path.name))
    assert isinstance(row, Row) and row.table == "health_record" and row.message_id == "ch-example"
    assert row.values["patient_name"] == "张无忌" and row.values["sex_code"] == "1"
    assert row.values["id_number"] == "3112219680806371X" and len(row.values["id_number"]) == 17
    result = check(row.values["id_number"])
    assert result.valid is False and "length" in result.issues


@pytest.mark.unit
def test_bundle_with_bad_and_unsupported_entries(tmp_path, bundle_profile):
    landing = tmp_path / "fhir" / "H9" / "2026-11-01"
    landing.mkdir(parents=True)
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [
        {"resource": {"resourceType": "Encounter", "id": "e1", "status": "finished",
                      "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                      "subject": {"reference": "Patient/p1"}, "period": {"start": "2026-11-01T08:00:00+08:00"}}},
        {"resource": {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"},
                      "valueQuantity": {"value": "not-a-number"}}},
        {"resource": {"resourceType": "Location", "id": "l1"}},
    ]}
    path = landing / "b.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    enc, bad, unsupported = iter_fhir_records(path, bundle_profile, bundle_profile.spec_for(path.name))
    assert isinstance(enc, Row) and enc.values["encounter_class"] == "I"
    assert enc.values["institution_code"] == "H9"  # from the landing folder
    assert isinstance(bad, Reject) and bad.check_id == "ingest.fhir.invalid" and "o1" in bad.reason and bad.line == 2
    assert isinstance(unsupported, Reject) and unsupported.check_id == "ingest.fhir.unsupported_resource"


@pytest.mark.unit
def test_ingest_dispatch_uses_native_reader(fixtures_dir, bulk_profile):
    from transforms.ingest.readers import iter_records

    path = fixtures_dir / BULK / "Immunization.000.ndjson"
    out = list(iter_records(path, bulk_profile, bulk_profile.spec_for(path.name)))
    assert len(out) == 161 and {o.table for o in out} == {"immunization"}
    assert all(o.values["vaccine_code"] for o in out)


@pytest.mark.unit
def test_bad_ndjson_line_is_rejected_with_line(tmp_path, bulk_profile):
    path = tmp_path / "Patient.000.ndjson"
    path.write_text('{"resourceType":"Patient","id":"p1","gender":"female"}\n{oops\n', encoding="utf-8")
    ok, bad = iter_fhir_records(path, bulk_profile, bulk_profile.spec_for(path.name))
    assert isinstance(ok, Row) and isinstance(bad, Reject)
    assert bad.check_id == "ingest.fhir.parse" and bad.line == 2 and "Patient.000.ndjson record 2" in bad.reason
