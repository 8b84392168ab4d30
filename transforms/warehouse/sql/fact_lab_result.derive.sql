-- report_id: the lab DiagnosticReport citing the Observation (link_lab_report), once both are loaded.
-- Only observations this load touched, itself or through a link row (_changed_<mart>).
UPDATE fact_lab_result
SET report_id = (SELECT MIN(l.report_id) FROM link_lab_report l WHERE l.observation_id = fact_lab_result.observation_id)
WHERE report_id IS NULL
  AND observation_id IN (SELECT observation_id FROM _changed_fact_lab_result
                         UNION SELECT observation_id FROM _changed_link_lab_report)
  AND EXISTS (SELECT 1 FROM link_lab_report l WHERE l.observation_id = fact_lab_result.observation_id);
