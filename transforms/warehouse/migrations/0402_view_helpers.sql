-- Helper tables filled by views (not consumer marts): links a mart row needs from another resource.
CREATE TABLE IF NOT EXISTS link_lab_report (
    report_id VARCHAR NOT NULL, observation_id VARCHAR NOT NULL,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS link_exam_study (
    report_id VARCHAR NOT NULL, study_id VARCHAR NOT NULL,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
CREATE TABLE IF NOT EXISTS imaging_study (
    study_id VARCHAR NOT NULL, modality VARCHAR, study_uid VARCHAR,
    batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, loaded_at TIMESTAMP
);
