-- Monthly submission quality report (transforms/quality): the figures of the HTML/CSV/XLSX as tables.
-- month is 'YYYY-MM'; each build replaces its month.
CREATE TABLE IF NOT EXISTS quality_submission (
    month VARCHAR NOT NULL,
    institution_code VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,              -- calendar dataset id (mappings/submission_calendar.yaml)
    partition_date DATE NOT NULL,
    state VARCHAR NOT NULL,                -- ok | zero | late | missing
    batches INTEGER NOT NULL,
    is_zero_report BOOLEAN NOT NULL,
    first_arrival TIMESTAMP,
    deadline TIMESTAMP NOT NULL,
    delay_hours DOUBLE PRECISION           -- first arrival minus the start of the event day
);
CREATE TABLE IF NOT EXISTS quality_institution_month (
    month VARCHAR NOT NULL,
    institution_code VARCHAR NOT NULL,
    name VARCHAR,
    inst_type VARCHAR,
    expected INTEGER, received INTEGER, on_time INTEGER, zero_reports INTEGER, late INTEGER, missing INTEGER,
    completeness DOUBLE PRECISION,         -- % of expected submissions received (zero reports count)
    timeliness DOUBLE PRECISION,           -- % of received submissions in by the deadline
    median_delay_hours DOUBLE PRECISION,
    field_completeness DOUBLE PRECISION,   -- % of required elements filled
    validity DOUBLE PRECISION,             -- % of rows passing Conformance/Plausibility checks
    mapping_rate DOUBLE PRECISION,         -- % of coded values mapped to the standard code set
    consistency DOUBLE PRECISION,          -- % of lab results with an encounter at the ordering institution
    labs_without_encounter INTEGER,
    checks_failed INTEGER, checks_passed INTEGER,
    duplicates INTEGER, corrected INTEGER, rejected INTEGER, quarantined INTEGER,
    score DOUBLE PRECISION, rank INTEGER, prev_score DOUBLE PRECISION, prev_rank INTEGER,
    score_delta DOUBLE PRECISION,
    PRIMARY KEY (month, institution_code)
);
CREATE TABLE IF NOT EXISTS quality_check_month (
    month VARCHAR NOT NULL,
    institution_code VARCHAR,
    table_name VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    category VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    numerator BIGINT NOT NULL,
    denominator BIGINT NOT NULL,
    pct DOUBLE PRECISION,
    rows_quarantined INTEGER
);
