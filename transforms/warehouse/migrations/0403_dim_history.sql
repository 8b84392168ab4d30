-- One row per institution x version (SCD-2 kept by the warehouse, mappings/views/history.yaml):
-- valid_from = partition date of the load that saw the version, valid_to exclusive, NULL = current.
CREATE TABLE IF NOT EXISTS dim_institution_history (
    institution_code VARCHAR NOT NULL, name VARCHAR, inst_type VARCHAR, level VARCHAR, grade VARCHAR,
    parent_code VARCHAR, division_code VARCHAR, beds INTEGER, is_primary_care BOOLEAN,
    valid_from DATE NOT NULL, valid_to DATE, batch_id VARCHAR
);
-- One row per medical group x version (SCD-2, as dim_institution_history).
CREATE TABLE IF NOT EXISTS dim_group_history (
    group_code VARCHAR NOT NULL, name VARCHAR, group_types VARCHAR, tightness VARCHAR, direction VARCHAR,
    valid_from DATE NOT NULL, valid_to DATE, batch_id VARCHAR
);
-- One row per practitioner x version (site, team and role changes; SCD-2, as dim_institution_history).
CREATE TABLE IF NOT EXISTS dim_practitioner_history (
    practitioner_id VARCHAR NOT NULL, institution_code VARCHAR, team_id VARCHAR, team_role VARCHAR,
    is_gp BOOLEAN, title VARCHAR, valid_from DATE NOT NULL, valid_to DATE, batch_id VARCHAR
);
