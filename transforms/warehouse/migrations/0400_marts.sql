-- Marts (docs/contracts.md, binding). Filled from fhir_resource by mappings/views/<table>.json;
-- dim_date is generated (dates.py). Every view-fed table ends with the lineage columns.
CREATE TABLE IF NOT EXISTS dim_institution (
    institution_code VARCHAR NOT NULL, name VARCHAR, inst_type VARCHAR, level VARCHAR, grade VARCHAR,
    parent_code VARCHAR, division_code VARCHAR, beds INTEGER, is_primary_care BOOLEAN,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS dim_group (
    group_code VARCHAR NOT NULL, name VARCHAR, group_types VARCHAR, tightness VARCHAR, direction VARCHAR,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS dim_group_membership (
    institution_code VARCHAR NOT NULL, group_code VARCHAR NOT NULL, role VARCHAR,
    valid_from DATE NOT NULL, valid_to DATE,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS dim_practitioner (
    practitioner_id VARCHAR NOT NULL, institution_code VARCHAR, team_id VARCHAR, team_role VARCHAR,
    is_gp BOOLEAN, title VARCHAR,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS dim_team (
    team_id VARCHAR NOT NULL, institution_code VARCHAR, name VARCHAR, lead_practitioner_id VARCHAR,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS dim_person (
    person_key VARCHAR NOT NULL, sex VARCHAR, birth_date DATE, division_code VARCHAR, key_populations VARCHAR,
    ehr_record_no_hash VARCHAR, ehr_created_date DATE, ehr_last_active_date DATE, ehr_institution VARCHAR,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
-- One row per calendar day (generated, not loaded).
CREATE TABLE IF NOT EXISTS dim_date (
    date_day DATE NOT NULL PRIMARY KEY, year INTEGER NOT NULL, quarter INTEGER NOT NULL, month INTEGER NOT NULL,
    iso_week INTEGER NOT NULL, is_weekend BOOLEAN NOT NULL
);
CREATE TABLE IF NOT EXISTS fact_encounter (
    encounter_id VARCHAR NOT NULL, person_key VARCHAR, institution_code VARCHAR, encounter_class VARCHAR,
    start_time TIMESTAMP, end_time TIMESTAMP, los_days INTEGER, department VARCHAR, practitioner_id VARCHAR,
    diagnosis_code VARCHAR, total_cost DECIMAL(12,2), drug_cost DECIMAL(12,2), service_cost DECIMAL(12,2),
    consumable_cost DECIMAL(12,2), exam_lab_cost DECIMAL(12,2), payment_method VARCHAR,
    insured_place_code VARCHAR, is_appointment BOOLEAN, channel VARCHAR, referral_no VARCHAR,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fact_diagnosis (
    diagnosis_id VARCHAR NOT NULL, encounter_id VARCHAR, person_key VARCHAR, institution_code VARCHAR,
    seq INTEGER, icd_code VARCHAR, local_code VARCHAR, local_system VARCHAR, map_status VARCHAR,
    diagnosed_time TIMESTAMP,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fact_lab_result (
    observation_id VARCHAR NOT NULL, report_id VARCHAR, person_key VARCHAR, performing_institution VARCHAR,
    ordering_institution VARCHAR, reporting_institution VARCHAR, author_type VARCHAR, loinc_code VARCHAR,
    hr_item_code VARCHAR, local_code VARCHAR, local_system VARCHAR, map_status VARCHAR, value_num DOUBLE PRECISION,
    value_text VARCHAR, unit VARCHAR, ref_low DOUBLE PRECISION, ref_high DOUBLE PRECISION, abnormal_flag VARCHAR,
    status VARCHAR, specimen_time TIMESTAMP, report_time TIMESTAMP, is_critical BOOLEAN,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fact_exam_report (
    report_id VARCHAR NOT NULL, person_key VARCHAR, performing_institution VARCHAR, reading_institution VARCHAR,
    ordering_institution VARCHAR, author_type VARCHAR, exam_item_code VARCHAR, local_code VARCHAR,
    map_status VARCHAR, modality VARCHAR, study_uid VARCHAR, cloud_film_url VARCHAR, status VARCHAR,
    exam_time TIMESTAMP, report_time TIMESTAMP,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fact_prescription (
    rx_line_id VARCHAR NOT NULL, encounter_id VARCHAR, person_key VARCHAR, institution_code VARCHAR,
    practitioner_id VARCHAR, nhsa_code VARCHAR, local_code VARCHAR, map_status VARCHAR,
    quantity DOUBLE PRECISION, days_supply INTEGER, is_long_rx BOOLEAN, amount DECIMAL(12,2), prescribed_time TIMESTAMP,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fact_immunization (
    immunization_id VARCHAR NOT NULL, person_key VARCHAR, institution_code VARCHAR, vaccine_code VARCHAR,
    dose_number INTEGER, vaccination_date DATE,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fact_followup (
    followup_id VARCHAR NOT NULL, person_key VARCHAR, institution_code VARCHAR, disease VARCHAR,
    followup_date DATE, mode VARCHAR, sbp INTEGER, dbp INTEGER, fasting_glucose DOUBLE PRECISION,
    is_standard BOOLEAN, is_controlled BOOLEAN,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fact_signing (
    contract_id VARCHAR NOT NULL, person_key VARCHAR, institution_code VARCHAR, team_id VARCHAR,
    doctor_id VARCHAR, signatory_type VARCHAR, start_date DATE, end_date DATE, status VARCHAR,
    is_paid BOOLEAN, key_populations VARCHAR, package_code VARCHAR, chosen_district_hospital VARCHAR,
    chosen_municipal_hospital VARCHAR,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS fact_referral (
    referral_id VARCHAR NOT NULL, person_key VARCHAR, from_institution VARCHAR, to_institution VARCHAR,
    direction VARCHAR, scenario VARCHAR, issued_time TIMESTAMP, arrived_time TIMESTAMP, status VARCHAR,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
