-- Validation results: one row per (batch, check). Status is recomputable from the counts
-- and the catalogue threshold without re-validating (transforms.validation.run.recompute_status).
CREATE TABLE IF NOT EXISTS dq_check_result (
    batch_id VARCHAR NOT NULL,             -- submission batch, or 'marts:<YYYY-MM-DD>' for warehouse checks
    table_name VARCHAR NOT NULL,           -- canonical table or mart
    check_id VARCHAR NOT NULL,
    check_type VARCHAR NOT NULL,
    layer VARCHAR NOT NULL,                -- standard | mart
    source VARCHAR,
    institution_code VARCHAR,
    partition_date DATE,
    category VARCHAR NOT NULL,             -- Conformance | Completeness | Plausibility
    severity VARCHAR NOT NULL,             -- error | warning
    numerator BIGINT NOT NULL,             -- failing rows
    denominator BIGINT NOT NULL,           -- rows in scope
    pct DOUBLE PRECISION NOT NULL,         -- 100 * numerator / denominator (0 when no rows)
    threshold DOUBLE PRECISION NOT NULL,   -- max failing % allowed
    status VARCHAR NOT NULL,               -- pass | fail | not_run
    note VARCHAR,                          -- why not_run (missing column, reference unavailable)
    run_at TIMESTAMP NOT NULL,
    PRIMARY KEY (batch_id, table_name, check_id)
);
