"""Tiny FHIR lake partitions for the warehouse tests, built with the FHIR stage's own builders.

Why builders and not hand-written JSON: the views must read the resource shapes the FHIR
stage really writes; when a builder changes a shape, these tests show which mart broke.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from transforms.fhir.builders import build_row
from transforms.terminology import systems

PK1, PK2 = "a" * 64, "b" * 64
REG = ("registry", "REGION", date(2024, 1, 1))
HIS = ("his", "C1", date(2024, 6, 15))


def lineage(source: str, inst: str, day: date, line: int, batch: str = "batch0001") -> dict:
    return {"_batch_id": batch, "_file": f"{source}/{inst}/{day}/data.csv", "_line": line, "_message_id": None,
            "_source": source, "_institution": inst, "_partition_date": day}


def registry_rows() -> list[tuple[str, dict]]:
    """Institutions, groups, an SCD-2 membership change for C1 on 2024-07-01, a team."""
    rows = [
        ("institution", {"institution_code": "H1", "name": "Hospital One", "inst_type": "hospital", "level": "3",
                         "grade": "甲", "division_code": "310114", "beds": 800, "is_primary_care": False}),
        ("institution", {"institution_code": "C1", "name": "CHC One", "inst_type": "chc", "level": "1",
                         "parent_code": "H1", "division_code": "310114001", "beds": 40, "is_primary_care": True}),
        ("medical_group", {"group_code": "G1", "name": "East group", "group_types": "urban_group|specialty",
                           "tightness": "tight", "direction": "East"}),
        ("medical_group", {"group_code": "G2", "name": "South group", "group_types": "urban_group",
                           "tightness": "loose", "direction": "South"}),
        ("group_membership", {"institution_code": "C1", "group_code": "G1", "role": "member",
                              "valid_from": date(2021, 1, 1), "valid_to": date(2024, 7, 1)}),
        ("group_membership", {"institution_code": "C1", "group_code": "G2", "role": "member",
                              "valid_from": date(2024, 7, 1), "valid_to": None}),
        ("group_membership", {"institution_code": "H1", "group_code": "G1", "role": "lead",
                              "valid_from": date(2021, 1, 1), "valid_to": None}),
        ("practitioner", {"practitioner_id": "D1", "name_masked": "王*", "institution_code": "C1", "title": "主治医师",
                          "is_gp": True, "team_id": "T1", "team_role": "doctor"}),
        ("team", {"team_id": "T1", "institution_code": "C1", "name": "Team One", "lead_practitioner_id": "D1"}),
    ]
    return rows


def his_rows(total_cost: str = "120.50") -> list[tuple[str, dict]]:
    """One person's care at C1: record, two encounters either side of the group change, and more."""
    icd = {"diagnosis_code_std": "I10", "diagnosis_code_std_system": systems.ICD10_CN_CLINICAL,
           "diagnosis_code_map_status": "mapped"}
    return [
        ("health_record", {"record_no": "R1", "institution_code": "C1", "person_key": PK1, "sex_std": "2",
                           "birth_date_std": date(1950, 3, 4), "division_code": "310114001",
                           "key_populations": "elderly|htn", "created_date": date(2020, 5, 1),
                           "last_active_date": date(2024, 6, 15), "link_method": "id_number"}),
        ("encounter", {"encounter_no": "E1", "institution_code": "C1", "person_key": PK1, "encounter_class": "O",
                       "department": "全科", "practitioner_id": "D1", "start_time": "2024-06-15T09:30:00",
                       "end_time": "2024-06-15T10:00:00", "diagnosis_code": "GXY", **icd, "total_cost": total_cost,
                       "drug_cost": "80.00", "payment_method": "01", "is_appointment": True, "channel": "offline"}),
        ("encounter", {"encounter_no": "E2", "institution_code": "C1", "person_key": PK1, "encounter_class": "I",
                       "start_time": "2024-07-10T08:00:00", "end_time": "2024-07-14T11:00:00",
                       "diagnosis_code": "XX9", "diagnosis_code_map_status": "unmapped", "total_cost": "3000"}),
        ("diagnosis", {"encounter_no": "E1", "institution_code": "C1", "person_key": PK1, "seq": 1,
                       "diagnosis_code": "GXY", **icd, "diagnosed_time": "2024-06-15T09:45:00"}),
        ("diagnosis", {"encounter_no": "E2", "institution_code": "C1", "person_key": PK1, "seq": 1,
                       "diagnosis_code": "XX9", "diagnosis_code_map_status": "unmapped"}),
        ("lab_result", {"report_no": "L1", "institution_code": "C1", "person_key": PK1, "item_code": "GLU",
                        "item_code_std": "1558-6", "item_code_std_system": systems.LOINC,
                        "item_code_map_status": "mapped", "hr_item_code": "HR01", "value_num": 6.2,
                        "unit": "mmol/L", "ref_low_std": 3.9, "ref_high_std": 6.1, "abnormal_flag": "H",
                        "result_status": "F", "specimen_time": "2024-06-15T09:40:00",
                        "report_time": "2024-06-15T11:00:00", "is_critical": False, "author_type": "human",
                        "ordering_institution": "C1"}),
        ("exam_report", {"exam_no": "X1", "institution_code": "C1", "person_key": PK1, "item_code": "CT01",
                         "item_code_map_status": "unmapped", "modality": "CT", "result_status": "F",
                         "exam_time": "2024-06-15T10:10:00", "report_time": "2024-06-15T12:00:00",
                         "cloud_film_url": "https://film.example/x1"}),
        ("prescription", {"rx_no": "RX1", "line_no": 1, "encounter_no": "E1", "institution_code": "C1",
                          "person_key": PK1, "practitioner_id": "D1", "drug_code": "AML",
                          "drug_code_std": "XC08CAA001A001010100001", "drug_code_std_system": systems.NHSA_DRUG,
                          "drug_code_map_status": "mapped", "quantity": 28, "days_supply": 28,
                          "is_long_rx": True, "amount": "35.20", "prescribed_time": "2024-06-15T09:50:00"}),
        ("immunization", {"vaccination_no": "V1", "institution_code": "C1", "person_key": PK1,
                          "vaccine_code": "FLU", "dose_number": 1, "vaccination_date": date(2024, 6, 15)}),
        ("signing_contract", {"contract_no": "S1", "institution_code": "C1", "person_key": PK1, "team_id": "T1",
                              "doctor_id": "D1", "signatory_type": "team", "start_date": date(2024, 1, 1),
                              "end_date": date(2024, 12, 31), "status": "active", "is_paid": True,
                              "key_populations": "elderly|htn", "package_code": "P1",
                              "chosen_district_hospital": "H1"}),
        ("followup", {"followup_no": "F1", "institution_code": "C1", "person_key": PK1, "disease": "htn",
                      "followup_date": date(2024, 6, 15), "mode": "clinic", "sbp": 132, "dbp": 84,
                      "is_standard": True, "practitioner_id": "D1"}),
        ("referral", {"referral_no": "RF1", "institution_code": "C1", "person_key": PK1, "to_institution": "H1",
                      "direction": "up", "scenario": "specialist", "issued_time": "2024-06-15T10:30:00",
                      "arrived_time": "2024-06-16T09:00:00", "status": "arrived"}),
    ]


def write_partition(lake: Path, part: tuple[str, str, date], rows: list[tuple[str, dict]],
                    batch: str = "batch0001", mutate=None) -> dict[str, int]:
    """Write the FHIR parquet of one partition as the FHIR stage lays it out; returns counts per type."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source, inst, day = part
    by_type: dict[str, dict[str, dict]] = {}
    for line, (table, row) in enumerate(rows, start=2):
        full = {**row, **lineage(source, inst, day, line, batch)}
        for res in build_row(table, full):
            if mutate is not None:
                mutate(res)
            by_type.setdefault(res["resourceType"], {}).setdefault(res["id"], {
                "id": res["id"], "resource_type": res["resourceType"], "person_key": row.get("person_key"),
                "resource": json.dumps(res, ensure_ascii=False, separators=(",", ":")),
                **{k: v for k, v in full.items() if k.startswith("_")}})
    for old in (lake / "fhir" / "parquet").glob(f"*/source={source}/institution={inst}/date={day}.parquet"):
        old.unlink()
    for rtype, recs in by_type.items():
        path = lake / "fhir" / "parquet" / rtype / f"source={source}" / f"institution={inst}" / f"date={day}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(list(recs.values())), path)
    return {t: len(r) for t, r in by_type.items()}


@pytest.mark.unit
def test_scenario_builds_every_mart_resource_type():
    types = {res["resourceType"] for table, row in registry_rows() + his_rows()
             for res in build_row(table, {**row, **lineage(*HIS, 1)})}
    from transforms.warehouse.views import load_views

    assert {v["resource"] for v in load_views().values()} <= types
