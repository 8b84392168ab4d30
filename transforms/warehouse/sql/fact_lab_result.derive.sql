-- report_id: the lab DiagnosticReport citing the Observation (link_lab_report), once both are loaded.
UPDATE fact_lab_result
SET report_id = (SELECT MIN(l.report_id) FROM link_lab_report l WHERE l.observation_id = fact_lab_result.observation_id)
WHERE report_id IS NULL
  AND EXISTS (SELECT 1 FROM link_lab_report l WHERE l.observation_id = fact_lab_result.observation_id);
