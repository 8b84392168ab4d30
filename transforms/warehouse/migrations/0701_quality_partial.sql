-- Quality report: a received dataset whose _manifest.json declares a file that never arrived.
-- quality_submission.state gains the value 'partial' (ok | zero | late | partial | missing).
ALTER TABLE quality_institution_month ADD COLUMN partial INTEGER;
