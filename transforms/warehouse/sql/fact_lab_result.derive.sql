-- report_id: the lab DiagnosticReport citing the Observation (link_lab_report), once both are loaded.
-- Only observations this load touched, itself or through a link row (_changed_<mart>).
-- UPDATE ... FROM one aggregate over the changed keys, not a correlated MIN per row: PostgreSQL ran
-- MIN(report_id) as a LIMIT 1 walk of the (report_id, observation_id) index, ~1.6 ms per row.
UPDATE fact_lab_result
SET report_id = x.report_id
FROM (SELECT l.observation_id, MIN(l.report_id) AS report_id FROM link_lab_report l
      WHERE l.observation_id IN (SELECT observation_id FROM _changed_fact_lab_result
                                 UNION SELECT observation_id FROM _changed_link_lab_report)
      GROUP BY l.observation_id) x
WHERE fact_lab_result.report_id IS NULL AND fact_lab_result.observation_id = x.observation_id;
