-- Core operational tables: every file seen, every quarantined row, every batch.
CREATE TABLE IF NOT EXISTS submission_log (
    batch_id VARCHAR PRIMARY KEY,          -- sha256(file bytes)[:16]; same bytes = same batch
    source VARCHAR NOT NULL,
    institution_code VARCHAR NOT NULL,
    partition_date DATE NOT NULL,
    file_path VARCHAR NOT NULL,            -- relative to the landing root
    profile_id VARCHAR,
    dataset VARCHAR,                       -- canonical table the file feeds
    checksum VARCHAR NOT NULL,             -- full sha256
    size_bytes BIGINT NOT NULL,
    arrival_time TIMESTAMP NOT NULL,       -- file mtime when first seen
    first_seen_at TIMESTAMP NOT NULL,
    declared_count INTEGER,
    status VARCHAR NOT NULL,               -- new | duplicate | late | corrected | rejected
    status_reason VARCHAR,
    duplicate_of VARCHAR,                  -- batch_id of the original for duplicates
    supersedes VARCHAR,                    -- batch_id a corrected file replaces
    rows_read INTEGER,
    rows_landed INTEGER,
    rows_quarantined INTEGER,
    is_zero_report BOOLEAN,
    reconciled BOOLEAN
);
CREATE TABLE IF NOT EXISTS quarantine (
    quarantine_id VARCHAR PRIMARY KEY,     -- sha256(batch, stage, check, locator)[:24]
    batch_id VARCHAR NOT NULL,
    stage VARCHAR NOT NULL,                -- ingest | standardise | validate | fhir | load
    dataset VARCHAR,
    institution_code VARCHAR,
    partition_date DATE,
    check_id VARCHAR NOT NULL,             -- e.g. ingest.encoding, validate.encounter.discharge_after_admission
    reason VARCHAR NOT NULL,               -- human sentence naming file, row/message and value
    file_path VARCHAR,
    line_no INTEGER,
    message_id VARCHAR,
    raw_record VARCHAR,                    -- the raw record as JSON text (masked PII)
    quarantined_at TIMESTAMP NOT NULL,
    released BOOLEAN DEFAULT FALSE
);
