"""Minimal mart tables with the contract's columns (docs/contracts.md), for consumer tests.

Consumers (indicators, 互认, reports) are tested on hand-built rows whose expected values are
computed by hand; the warehouse's own tests prove that real loads produce these tables.
"""

from __future__ import annotations

import sqlalchemy as sa

LINEAGE = "batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP"
DDL = {
    "dim_institution": "institution_code VARCHAR, name VARCHAR, inst_type VARCHAR, level VARCHAR, grade VARCHAR, "
                       "parent_code VARCHAR, division_code VARCHAR, beds INTEGER, is_primary_care BOOLEAN",
    "dim_group_membership": "institution_code VARCHAR, group_code VARCHAR, role VARCHAR, valid_from DATE, valid_to DATE",
    "dim_practitioner": "practitioner_id VARCHAR, institution_code VARCHAR, team_id VARCHAR, team_role VARCHAR, "
                        "is_gp BOOLEAN, title VARCHAR",
    "dim_person": "person_key VARCHAR, sex VARCHAR, birth_date DATE, division_code VARCHAR, key_populations VARCHAR, "
                  "ehr_record_no_hash VARCHAR, ehr_created_date DATE, ehr_last_active_date DATE, ehr_institution VARCHAR",
    "fact_encounter": "encounter_id VARCHAR, person_key VARCHAR, institution_code VARCHAR, encounter_class VARCHAR, "
                      "start_time TIMESTAMP, end_time TIMESTAMP, los_days INTEGER, department VARCHAR, "
                      "practitioner_id VARCHAR, diagnosis_code VARCHAR, total_cost DECIMAL(12,2), drug_cost DECIMAL(12,2), "
                      "service_cost DECIMAL(12,2), consumable_cost DECIMAL(12,2), exam_lab_cost DECIMAL(12,2), "
                      "payment_method VARCHAR, insured_place_code VARCHAR, is_appointment BOOLEAN, channel VARCHAR, "
                      "referral_no VARCHAR, " + LINEAGE,
    "fact_signing": "contract_id VARCHAR, person_key VARCHAR, institution_code VARCHAR, team_id VARCHAR, doctor_id VARCHAR, "
                    "signatory_type VARCHAR, start_date DATE, end_date DATE, status VARCHAR, is_paid BOOLEAN, "
                    "key_populations VARCHAR, package_code VARCHAR, chosen_district_hospital VARCHAR, "
                    "chosen_municipal_hospital VARCHAR, " + LINEAGE,
    "fact_referral": "referral_id VARCHAR, person_key VARCHAR, from_institution VARCHAR, to_institution VARCHAR, "
                     "direction VARCHAR, scenario VARCHAR, issued_time TIMESTAMP, arrived_time TIMESTAMP, status VARCHAR, "
                     "from_practitioner_id VARCHAR, " + LINEAGE,
    "fact_followup": "followup_id VARCHAR, person_key VARCHAR, institution_code VARCHAR, disease VARCHAR, "
                     "followup_date DATE, mode VARCHAR, sbp INTEGER, dbp INTEGER, fasting_glucose DECIMAL(6,2), "
                     "is_standard BOOLEAN, is_controlled BOOLEAN, " + LINEAGE,
    "fact_immunization": "immunization_id VARCHAR, person_key VARCHAR, institution_code VARCHAR, vaccine_code VARCHAR, "
                         "dose_number INTEGER, vaccination_date DATE, " + LINEAGE,
}


def create_marts(conn: sa.Connection) -> None:
    """Create any contract table the warehouse migrations have not created."""
    existing = set(sa.inspect(conn).get_table_names())
    for name, cols in DDL.items():
        if name not in existing:
            conn.exec_driver_sql(f"CREATE TABLE {name} ({cols})")


def insert(conn: sa.Connection, table: str, rows: list[dict]) -> None:
    for r in rows:
        cols = list(r)
        conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"), r)
