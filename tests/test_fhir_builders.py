"""Every builder on small standard rows: R4B validation, deterministic ids, lineage, bindings."""

from __future__ import annotations

import copy
from datetime import date, datetime
from decimal import Decimal

import pytest

from transforms.fhir.builders import BUILDERS, build_row
from transforms.fhir.errors import BuildError, InvalidResource
from transforms.fhir.ids import patient_id, resource_id
from transforms.fhir.provenance import build_provenance
from transforms.fhir.validate import selected, validate_resource
from transforms.terminology import systems

PK = "a" * 64
LINEAGE = {"_batch_id": "b1", "_file": "his/H1/2026-11-01/x.csv", "_line": 2, "_source": "his",
           "_institution": "H1", "_partition_date": date(2026, 11, 1), "_message_id": None}
ICD = systems.ICD10_CN_CLINICAL
SAMPLE_ROWS: dict[str, dict] = {
    "institution": dict(institution_code="H1", name="市一医院", uscc="12310000425000000X", inst_type="hospital",
                        level="3", grade="甲", division_code="310114", beds=500, is_primary_care=False),
    "medical_group": dict(group_code="G1", name="嘉定医联体", aliases="江桥|嘉定", group_types="urban_group|tele",
                          tightness="tight", direction="vertical"),
    "group_membership": dict(institution_code="C1", group_code="G1", role="member", valid_from=date(2024, 1, 1),
                             valid_to=date(2026, 1, 1)),
    "practitioner": dict(practitioner_id="D1", sex_code="1", institution_code="C1", title="主治医师", is_gp=True,
                         team_id="T1", team_role="doctor"),
    "team": dict(team_id="T1", institution_code="C1", name="团队1", lead_practitioner_id="D1"),
    "health_record": dict(record_no="R1", institution_code="C1", person_key=PK, name_masked="张*明", sex_std="1",
                          birth_date_std=date(1960, 1, 2), division_code="310114001", key_populations="elderly|htn",
                          created_date=date(2020, 1, 1), ethnicity_code="01", link_method="id_number"),
    "encounter": dict(encounter_no="E1", institution_code="H1", person_key=PK, encounter_class="I",
                      start_time=datetime(2026, 10, 28, 9, 0), end_time=datetime(2026, 11, 1, 9, 30),
                      diagnosis_code="I10.x01", diagnosis_code_std="I10.x00x002", diagnosis_code_std_system=ICD,
                      total_cost=Decimal("1200.50"), drug_cost=Decimal("800.00"), service_cost=Decimal("100"),
                      payment_method="01", insured_place_code="310114", is_appointment=True, department="心内科"),
    "diagnosis": dict(encounter_no="E1", institution_code="H1", seq=1, diagnosis_code="I10.x01",
                      diagnosis_code_std="I10.x00x002", diagnosis_code_std_system=ICD, diagnosis_code_map_status="mapped",
                      person_key=PK, diagnosed_time=datetime(2026, 11, 1, 9, 10)),
    "lab_result": dict(report_no="L1", institution_code="H1", order_no="O1", ordering_institution="C1",
                       reporting_institution="H2", author_type="ai", person_key=PK, item_code="GLU",
                       item_code_std="14749-6", item_code_std_system=systems.LOINC, value="110", value_num=Decimal("110"),
                       value_std=Decimal("6.1"), unit="mg/dL", unit_std="mmol/L", ref_range="70-110",
                       ref_low_std=Decimal("3.9"), ref_high_std=Decimal("6.1"), abnormal_flag="H", result_status="F",
                       specimen_time=datetime(2026, 11, 1, 8), report_time=datetime(2026, 11, 1, 11), is_critical=False),
    "exam_report": dict(exam_no="X1", institution_code="C1", person_key=PK, reading_institution="H1", author_type="ai",
                        item_code="CT01", modality="CT", study_uid="1.2.3.4", cloud_film_url="https://film.example/1",
                        conclusion="未见异常", result_status="F", exam_time=datetime(2026, 11, 1, 10)),
    "prescription": dict(rx_no="RX1", line_no=1, institution_code="C1", person_key=PK, drug_code="D001",
                         drug_code_std="XC09AAA001A001010100001", drug_code_std_system=systems.NHSA_DRUG,
                         quantity=Decimal("2"), days_supply=28, is_long_rx=True, amount=Decimal("30.5"),
                         prescribed_time=datetime(2026, 11, 1, 9)),
    "immunization": dict(vaccination_no="V1", institution_code="C1", person_key=PK, vaccine_code="0201", dose_number=2,
                         vaccination_date=date(2026, 11, 1)),
    "signing_contract": dict(contract_no="S1", institution_code="C1", team_id="T1", doctor_id="D1", person_key=PK,
                             signatory_type="team", start_date=date(2026, 1, 1), end_date=date(2026, 12, 31),
                             is_paid=True, status="terminated", key_populations="elderly"),
    "followup": dict(followup_no="F1", institution_code="C1", person_key=PK, disease="htn",
                     followup_date=date(2026, 11, 1), mode="clinic", sbp=135, dbp=85, is_standard=True),
    "referral": dict(referral_no="RF1", institution_code="C1", person_key=PK, direction="up", to_institution="H1",
                     issued_time=datetime(2026, 11, 1, 9), status="arrived"),
    "surveillance_report": dict(institution_code="C1", report_date=date(2026, 11, 1), report_kind="explicit_zero"),
}


def sample(table: str, **overrides) -> dict:
    return {**copy.deepcopy(SAMPLE_ROWS[table]), **LINEAGE, **overrides}


def ext_value(res: dict, url: str):
    for e in res.get("extension", []):
        if e["url"] == url:
            return e
    return None


@pytest.mark.unit
def test_every_canonical_table_has_a_sample():
    assert set(SAMPLE_ROWS) == set(BUILDERS)


@pytest.mark.unit
@pytest.mark.parametrize("table", sorted(SAMPLE_ROWS))
def test_builder_output_validates_as_r4b_with_lineage_and_stable_ids(table):
    resources = build_row(table, sample(table))
    assert resources
    for res in [*resources, build_provenance(table, sample(table), [f"{r['resourceType']}/{r['id']}" for r in resources])]:
        assert validate_resource(res) is True
    for res in resources:
        lineage = ext_value(res, systems.EXT_LINEAGE)
        subs = {e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in lineage["extension"]}
        assert subs["batch"] == "b1" and subs["line"] == 2 and subs["file"].endswith("x.csv")
    again = build_row(table, sample(table, _batch_id="b2", _line=9))
    assert [r["id"] for r in again] == [r["id"] for r in resources]  # reload replaces, never duplicates


@pytest.mark.unit
def test_patient_is_pseudonymous_and_masked():
    (pat,) = build_row("health_record", sample("health_record"))
    assert pat["id"] == patient_id(PK)
    assert pat["identifier"] == [{"system": systems.PERSON_KEY, "value": PK}]
    assert pat["name"] == [{"text": "张*明"}]
    assert pat["gender"] == "male" and pat["birthDate"] == "1960-01-02"
    assert pat["address"][0]["district"] == "310114"
    assert "line" not in pat["address"][0]
    assert ext_value(pat["address"][0], systems.EXT_DIVISION)["valueCoding"]["code"] == "310114001"
    assert len([e for e in pat["extension"] if e["url"] == systems.EXT_KEY_POPULATION]) == 2


@pytest.mark.unit
def test_encounter_class_period_costs_and_references():
    (enc,) = build_row("encounter", sample("encounter"))
    assert enc["id"] == resource_id("Encounter", "H1", "E1")
    assert enc["class"]["code"] == "IMP" and enc["status"] == "finished"
    assert enc["period"] == {"start": "2026-10-28T09:00:00+08:00", "end": "2026-11-01T09:30:00+08:00"}
    cost = {e["url"]: e["valueMoney"]["value"] for e in ext_value(enc, systems.EXT_COST)["extension"]}
    assert cost == {"total": 1200.5, "drug": 800.0, "service": 100}
    assert ext_value(enc, systems.EXT_APPOINTMENT)["valueBoolean"] is True
    assert enc["reasonCode"][0]["coding"][0] == {"system": ICD, "code": "I10.x00x002"}
    assert enc["subject"]["reference"] == f"Patient/{patient_id(PK)}"


@pytest.mark.unit
def test_condition_has_icd_and_local_coding():
    (cond,) = build_row("diagnosis", sample("diagnosis"))
    systems_ = [c["system"] for c in cond["code"]["coding"]]
    assert systems_ == [ICD, systems.local_system("H1", "diagnosis")]
    assert cond["encounter"]["reference"] == f"Encounter/{resource_id('Encounter', 'H1', 'E1')}"


@pytest.mark.unit
def test_lab_observation_value_roles_and_report():
    obs, order, report = build_row("lab_result", sample("lab_result"))
    assert obs["valueQuantity"] == {"value": 6.1, "unit": "mmol/L", "system": systems.UCUM, "code": "mmol/L"}
    assert obs["referenceRange"][0]["low"]["value"] == 3.9 and obs["referenceRange"][0]["text"] == "70-110"
    assert obs["interpretation"][0]["coding"][0]["code"] == "H" and obs["status"] == "final"
    assert [c["code"] for c in obs["code"]["coding"]] == ["14749-6", "GLU"]
    roles = {u: ext_value(obs, u) for u in (systems.EXT_ROLE_ORDERING, systems.EXT_ROLE_PERFORMING,
                                            systems.EXT_ROLE_REPORTING, systems.EXT_AUTHOR_TYPE)}
    assert roles[systems.EXT_ROLE_ORDERING]["valueReference"]["reference"].endswith(
        resource_id("Organization", "institution", "C1"))
    assert roles[systems.EXT_ROLE_REPORTING]["valueReference"]["reference"].endswith(
        resource_id("Organization", "institution", "H2"))
    assert roles[systems.EXT_AUTHOR_TYPE]["valueCoding"]["code"] == "ai"
    assert order["resourceType"] == "ServiceRequest" and obs["basedOn"][0]["reference"] == f"ServiceRequest/{order['id']}"
    assert report["result"] == [{"reference": f"Observation/{obs['id']}"}]


@pytest.mark.unit
def test_lab_value_without_number_is_value_string():
    obs = build_row("lab_result", sample("lab_result", value="阴性", value_num=None, value_std=None))[0]
    assert obs["valueString"] == "阴性" and "valueQuantity" not in obs
    validate_resource(obs)


@pytest.mark.unit
def test_exam_study_uid_and_cloud_film():
    study, report = build_row("exam_report", sample("exam_report"))
    assert study["identifier"][0] == {"system": systems.DICOM_UID, "value": "urn:oid:1.2.3.4"}
    assert report["presentedForm"][0]["url"] == "https://film.example/1"
    assert report["imagingStudy"] == [{"reference": f"ImagingStudy/{study['id']}"}]


@pytest.mark.unit
def test_prescription_days_supply_and_long_rx():
    (mr,) = build_row("prescription", sample("prescription"))
    assert mr["dispenseRequest"]["expectedSupplyDuration"]["value"] == 28
    assert ext_value(mr, systems.EXT_LONG_RX)["valueBoolean"] is True
    assert mr["medicationCodeableConcept"]["coding"][0]["system"] == systems.NHSA_DRUG


@pytest.mark.unit
def test_signing_followup_referral_surveillance():
    (ep,) = build_row("signing_contract", sample("signing_contract"))
    assert ep["status"] == "cancelled" and ep["period"]["end"] == "2026-12-31"
    episode, obs = build_row("followup", sample("followup"))
    comps = {c["code"]["coding"][0]["code"]: c["valueQuantity"]["value"] for c in obs["component"]}
    assert comps == {"8480-6": 135, "8462-4": 85}
    assert ext_value(obs, systems.EXT_WORKFLOW_EPISODE)["valueReference"]["reference"] == f"EpisodeOfCare/{episode['id']}"
    (sr,) = build_row("referral", sample("referral"))
    assert sr["status"] == "completed" and ext_value(sr, systems.EXT_REFERRAL_DIRECTION)["valueCode"] == "up"
    (mr,) = build_row("surveillance_report", sample("surveillance_report"))
    assert [g["measureScore"]["value"] for g in mr["group"]] == [0, 0]
    (missing,) = build_row("surveillance_report", sample("surveillance_report", report_kind="count", fever_count=3))
    assert [g.get("measureScore", {}).get("value") for g in missing["group"]] == [3, None]


@pytest.mark.unit
def test_membership_period_and_group_org():
    (aff,) = build_row("group_membership", sample("group_membership"))
    assert aff["period"] == {"start": "2024-01-01", "end": "2026-01-01"}
    (grp,) = build_row("medical_group", sample("medical_group"))
    assert aff["organization"]["reference"] == f"Organization/{grp['id']}"
    assert grp["type"][0]["coding"][0]["code"] == "consortium"


@pytest.mark.unit
def test_missing_person_key_is_a_build_error():
    with pytest.raises(BuildError) as exc:
        build_row("encounter", sample("encounter", person_key=None))
    assert exc.value.check_id == "fhir.encounter.no_person_key"


@pytest.mark.unit
def test_bogus_status_fails_our_binding_check():
    obs = build_row("lab_result", sample("lab_result"))[0]
    obs["status"] = "bogus"
    with pytest.raises(InvalidResource, match="status='bogus'"):
        validate_resource(obs)


@pytest.mark.unit
def test_structural_error_is_reported_with_resource():
    (enc,) = build_row("encounter", sample("encounter"))
    enc["period"]["start"] = "not-a-date"
    with pytest.raises(InvalidResource, match=f"Encounter/{enc['id']}"):
        validate_resource(enc)


@pytest.mark.unit
def test_sampling_is_deterministic_and_partial():
    ids = [resource_id("Observation", i) for i in range(2000)]
    picked = [i for i in ids if selected(i, 0.25)]
    assert 350 < len(picked) < 650
    assert picked == [i for i in ids if selected(i, 0.25)]
    assert all(selected(i, 1.0) for i in ids)


@pytest.mark.unit
def test_importing_the_stage_loads_no_fhir_models():
    import subprocess
    import sys

    code = ("import sys, transforms.fhir.run, transforms.fhir.native, transforms.fhir.bundle; "
            "print(any(m.startswith('fhir.resources') for m in sys.modules), 'airflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
