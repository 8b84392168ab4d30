-- FHIR store: the latest version of every resource, keyed on (resource_type, id).
-- Loads merge one lake partition (source, institution, date) into it; see load.py.
CREATE TABLE IF NOT EXISTS fhir_resource (
    id VARCHAR NOT NULL,                   -- deterministic resource id
    resource_type VARCHAR NOT NULL,
    person_key VARCHAR,                    -- HMAC pseudonym, NULL for non-person resources
-- duckdb:    resource JSON NOT NULL,
-- postgresql:    resource JSONB NOT NULL,
    content_hash VARCHAR NOT NULL,         -- md5 of the resource JSON text as written (change detection only)
    batch_id VARCHAR NOT NULL,
    source_file VARCHAR,
    source_line INTEGER,
    message_id VARCHAR,
    source VARCHAR NOT NULL,
    institution_code VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    loaded_at TIMESTAMP NOT NULL,
    PRIMARY KEY (resource_type, id)
);
CREATE INDEX IF NOT EXISTS fhir_resource_partition ON fhir_resource (source, institution_code, partition_date);
-- One row per resource version change: inserted, updated (corrected re-submission) or deleted.
CREATE TABLE IF NOT EXISTS load_audit (
    resource_type VARCHAR NOT NULL,
    id VARCHAR NOT NULL,
    action VARCHAR NOT NULL,               -- insert | update | delete
    old_batch_id VARCHAR,
    new_batch_id VARCHAR,
    old_hash VARCHAR,
    new_hash VARCHAR,
    changed_elements VARCHAR,              -- ;-joined top-level elements that differ (update only)
    source VARCHAR NOT NULL,
    institution_code VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    changed_at TIMESTAMP NOT NULL
);
-- One row per load_partition call: what it read and what it changed.
CREATE TABLE IF NOT EXISTS load_log (
    source VARCHAR NOT NULL,
    institution_code VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    rows_read INTEGER NOT NULL,
    inserted INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    deleted INTEGER NOT NULL,
    unchanged INTEGER NOT NULL,
    marts_refreshed VARCHAR,               -- ;-joined mart tables touched
    loaded_at TIMESTAMP NOT NULL
);
