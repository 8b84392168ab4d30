-- Ingest: what the submission log needs beyond 0001.
-- superseded_by: batch_id of the corrected file that replaced this one (its rows leave the raw lake).
-- encoding: codec the file was actually read with (utf-8, utf-8-sig, gb18030, xlsx, ...).
-- notes: file-level findings that are not errors (schema drift, GB18030 fallback lines, count mismatch).
ALTER TABLE submission_log ADD COLUMN superseded_by VARCHAR;
ALTER TABLE submission_log ADD COLUMN encoding VARCHAR;
ALTER TABLE submission_log ADD COLUMN notes VARCHAR;
