-- Indicator history: every run is kept; a published figure can be reproduced and revised.
CREATE TABLE IF NOT EXISTS indicator_run (
    run_id VARCHAR PRIMARY KEY,
    started_at TIMESTAMP NOT NULL,
    as_of TIMESTAMP NOT NULL,              -- only rows loaded at or before this time count
    trigger VARCHAR,                       -- dag | cli | api | test
    note VARCHAR
);
CREATE TABLE IF NOT EXISTS indicator_value (
    run_id VARCHAR NOT NULL,
    indicator_code VARCHAR NOT NULL,
    indicator_version INTEGER NOT NULL,
    fingerprint VARCHAR NOT NULL,          -- hash of the declaration that produced the value
    period_type VARCHAR NOT NULL,
    period_label VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    dimension VARCHAR NOT NULL,
    dimension_value VARCHAR NOT NULL,      -- '' when the row has no member (e.g. no team)
    numerator DOUBLE PRECISION,
    denominator DOUBLE PRECISION,
    value DOUBLE PRECISION,                -- NULL when the denominator is empty
    row_count INTEGER NOT NULL,
    is_partial BOOLEAN NOT NULL,
    target_met BOOLEAN,
    PRIMARY KEY (run_id, indicator_code, period_type, period_start, dimension, dimension_value)
);
CREATE TABLE IF NOT EXISTS indicator_publication (
    indicator_code VARCHAR NOT NULL,
    period_type VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    run_id VARCHAR NOT NULL,
    published_at TIMESTAMP NOT NULL,
    published_by VARCHAR,
    PRIMARY KEY (indicator_code, period_type, period_start, run_id)
);
CREATE TABLE IF NOT EXISTS ref_key_population (
    code VARCHAR PRIMARY KEY,
    display VARCHAR
);
CREATE TABLE IF NOT EXISTS ref_population (
    division_code VARCHAR NOT NULL,
    year INTEGER NOT NULL,
    population INTEGER NOT NULL,
    source VARCHAR,
    PRIMARY KEY (division_code, year)
);
