-- Rows that passed validation with warning-severity findings (e.g. an invalid resident ID that
-- was linked on demographics, a sex that disagrees with the ID). Kept and loaded, but each one
-- is named here with its file and line, so a quality officer can send it back for correction.
CREATE TABLE IF NOT EXISTS dq_warning (
    warning_id VARCHAR PRIMARY KEY,
    batch_id VARCHAR NOT NULL,
    dataset VARCHAR NOT NULL,
    institution_code VARCHAR,
    partition_date DATE,
    check_id VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    file_path VARCHAR,
    line_no INTEGER,
    message_id VARCHAR,
    raised_at TIMESTAMP NOT NULL
);
