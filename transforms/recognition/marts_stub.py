"""Stand-in mart tables with the contract's exact columns, for tests, the bench and the demo.

Why: the marts are built by the warehouse stage from FHIR; until that exists (and in unit
tests that should not depend on it) the 互认 code needs the same names and columns. Every
statement is ``CREATE TABLE IF NOT EXISTS``, so a real mart always wins.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

_LINEAGE = "batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP"

MART_DDL: dict[str, str] = {
    "dim_institution": "institution_code VARCHAR PRIMARY KEY, name VARCHAR, inst_type VARCHAR, level VARCHAR, "
    "grade VARCHAR, parent_code VARCHAR, division_code VARCHAR, beds INTEGER, is_primary_care BOOLEAN",
    "dim_group_membership": "institution_code VARCHAR, group_code VARCHAR, role VARCHAR, valid_from DATE, valid_to DATE",
    "fact_encounter": "encounter_id VARCHAR PRIMARY KEY, person_key VARCHAR, institution_code VARCHAR, "
    "encounter_class VARCHAR, start_time TIMESTAMP, end_time TIMESTAMP, los_days INTEGER, department VARCHAR, "
    "practitioner_id VARCHAR, diagnosis_code VARCHAR, total_cost DECIMAL(12,2), drug_cost DECIMAL(12,2), "
    "service_cost DECIMAL(12,2), consumable_cost DECIMAL(12,2), exam_lab_cost DECIMAL(12,2), payment_method VARCHAR, "
    "insured_place_code VARCHAR, is_appointment BOOLEAN, channel VARCHAR, referral_no VARCHAR, " + _LINEAGE,
    "fact_signing": "contract_id VARCHAR PRIMARY KEY, person_key VARCHAR, institution_code VARCHAR, team_id VARCHAR, "
    "doctor_id VARCHAR, signatory_type VARCHAR, start_date DATE, end_date DATE, status VARCHAR, is_paid BOOLEAN, "
    "key_populations VARCHAR, package_code VARCHAR, chosen_district_hospital VARCHAR, "
    "chosen_municipal_hospital VARCHAR, " + _LINEAGE,
    "fact_lab_result": "observation_id VARCHAR PRIMARY KEY, report_id VARCHAR, person_key VARCHAR, "
    "performing_institution VARCHAR, ordering_institution VARCHAR, reporting_institution VARCHAR, "
    "author_type VARCHAR, loinc_code VARCHAR, hr_item_code VARCHAR, local_code VARCHAR, local_system VARCHAR, "
    "map_status VARCHAR, value_num DOUBLE PRECISION, value_text VARCHAR, unit VARCHAR, ref_low DOUBLE PRECISION, "
    "ref_high DOUBLE PRECISION, abnormal_flag VARCHAR, status VARCHAR, specimen_time TIMESTAMP, "
    "report_time TIMESTAMP, is_critical BOOLEAN, " + _LINEAGE,
    "fact_exam_report": "report_id VARCHAR PRIMARY KEY, person_key VARCHAR, performing_institution VARCHAR, "
    "reading_institution VARCHAR, ordering_institution VARCHAR, author_type VARCHAR, exam_item_code VARCHAR, "
    "local_code VARCHAR, map_status VARCHAR, modality VARCHAR, study_uid VARCHAR, cloud_film_url VARCHAR, "
    "status VARCHAR, exam_time TIMESTAMP, report_time TIMESTAMP, " + _LINEAGE,
}


def ensure_mart_stubs(conn: Connection) -> list[str]:
    """Create any missing contract mart the 互认 services read; returns the tables named."""
    for table, cols in MART_DDL.items():
        conn.exec_driver_sql(f"CREATE TABLE IF NOT EXISTS {table} ({cols})")
    return list(MART_DDL)
