-- Alerts raised by the pipeline: task failures, missed submission deadlines, late runs.
CREATE TABLE IF NOT EXISTS alert_log (
    alert_id VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    source VARCHAR,
    institution_code VARCHAR,
    partition_date DATE,
    details VARCHAR,
    raised_at TIMESTAMP NOT NULL
);
