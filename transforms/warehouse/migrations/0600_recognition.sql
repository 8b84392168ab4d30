-- 互认 (result mutual recognition): lookup index, lookups, outcomes, and the append-only API audit log.
-- recognition_index: one row per lab analyte result or exam report, keyed for the lookup
-- (person_key, unified item code, result time); rebuilt incrementally by transforms.recognition.index.
CREATE TABLE IF NOT EXISTS recognition_index (
    result_id VARCHAR PRIMARY KEY,         -- observation_id (lab) or report_id (exam)
    item_kind VARCHAR NOT NULL,            -- lab | exam
    item_code VARCHAR NOT NULL,            -- unified code: LOINC (lab) or exam item code
    hr_item_code VARCHAR,                  -- regional HR item code (lab)
    person_key VARCHAR NOT NULL,
    result_time TIMESTAMP NOT NULL,        -- specimen time (lab) or exam time (exam); the window starts here
    report_time TIMESTAMP,
    performing_institution VARCHAR,
    reporting_institution VARCHAR,
    ordering_institution VARCHAR,
    status VARCHAR,                        -- final | preliminary | corrected | cancelled
    value_num DOUBLE PRECISION,
    value_text VARCHAR,
    unit VARCHAR,
    ref_low DOUBLE PRECISION,
    ref_high DOUBLE PRECISION,
    abnormal_flag VARCHAR,
    report_id VARCHAR,
    modality VARCHAR,
    study_uid VARCHAR,
    cloud_film_url VARCHAR,
    loaded_at TIMESTAMP,
    indexed_at TIMESTAMP NOT NULL
);
CREATE INDEX IF NOT EXISTS recognition_index_lookup ON recognition_index (person_key, item_code, result_time);
-- One row per (lookup, item): the basis of the recognition rate.
CREATE TABLE IF NOT EXISTS recognition_lookup (
    lookup_id VARCHAR NOT NULL,
    item_code VARCHAR NOT NULL,
    requested_at TIMESTAMP NOT NULL,
    requesting_institution VARCHAR NOT NULL,
    person_key VARCHAR NOT NULL,
    principal VARCHAR,
    n_candidates INTEGER NOT NULL,
    n_recognisable INTEGER NOT NULL,
    n_recognisable_external INTEGER NOT NULL, -- recognisable results from another institution (eligible case)
    best_result_id VARCHAR,
    PRIMARY KEY (lookup_id, item_code)
);
-- One row per (lookup, item) outcome: accepted, or re-tested with a reason code.
CREATE TABLE IF NOT EXISTS recognition_outcome (
    outcome_id VARCHAR PRIMARY KEY,
    lookup_id VARCHAR NOT NULL,
    item_code VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,              -- accepted | retested
    reason_code VARCHAR,                   -- mappings/recognition/retest_reasons.csv (retested only)
    justified BOOLEAN,
    eligible BOOLEAN NOT NULL,             -- a recognisable external result existed at lookup time
    price_yuan DECIMAL(12,2),              -- price of the item as of the outcome date
    requesting_institution VARCHAR NOT NULL,
    person_key VARCHAR NOT NULL,
    recorded_by VARCHAR,
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (lookup_id, item_code)
);
-- Append-only audit of every API call that touches resident data (allowed or not).
CREATE TABLE IF NOT EXISTS api_audit (
    audit_id VARCHAR PRIMARY KEY,
    event_time TIMESTAMP NOT NULL,
    principal VARCHAR,                     -- token owner; NULL when unauthenticated
    role VARCHAR,
    institution_code VARCHAR,
    purpose VARCHAR,
    action VARCHAR NOT NULL,               -- lookup | fhir_read | record_outcome | rates | audit_read
    path VARCHAR,
    person_key VARCHAR,
    items VARCHAR,                         -- ;-joined item codes asked for
    returned_count INTEGER,
    returned_ids VARCHAR,                  -- ;-joined result ids
    statuses VARCHAR,                      -- ;-joined status=count
    access_basis VARCHAR,                  -- encounter | signing | none
    outcome VARCHAR NOT NULL,              -- allowed | denied | unauthenticated | bad_request | error
    http_status INTEGER NOT NULL,
    detail VARCHAR
);
CREATE INDEX IF NOT EXISTS api_audit_time ON api_audit (event_time);
-- PostgreSQL rejects UPDATE, DELETE and TRUNCATE on api_audit. The function body uses \073 for the
-- semicolon because migration files are split on literal semicolons.
-- postgresql: CREATE OR REPLACE FUNCTION rhp_reject_audit_change() RETURNS trigger LANGUAGE plpgsql AS E'BEGIN RAISE EXCEPTION ''api_audit is append-only: UPDATE, DELETE and TRUNCATE are rejected'' USING ERRCODE = ''42501''\073 END';
-- postgresql: DROP TRIGGER IF EXISTS api_audit_append_only ON api_audit;
-- postgresql: CREATE TRIGGER api_audit_append_only BEFORE UPDATE OR DELETE ON api_audit FOR EACH ROW EXECUTE FUNCTION rhp_reject_audit_change();
-- postgresql: DROP TRIGGER IF EXISTS api_audit_no_truncate ON api_audit;
-- postgresql: CREATE TRIGGER api_audit_no_truncate BEFORE TRUNCATE ON api_audit FOR EACH STATEMENT EXECUTE FUNCTION rhp_reject_audit_change();
-- Access checks read these marts per request; on PostgreSQL give them a matching index
-- (DuckDB scans them fast enough and its ART indexes slow the marts' partition rewrites).
-- postgresql: CREATE INDEX IF NOT EXISTS recognition_access_encounter ON fact_encounter (person_key, institution_code);
-- postgresql: CREATE INDEX IF NOT EXISTS recognition_access_signing ON fact_signing (person_key, institution_code);
