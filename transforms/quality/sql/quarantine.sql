-- Quarantined rows of the month per institution, stage and check, with one example reason.
SELECT institution_code, stage, check_id, COUNT(*) AS rows_quarantined, MIN(reason) AS example_reason,
       MIN(quarantine_id) AS example_id
FROM quarantine
WHERE partition_date >= :start AND partition_date < :end AND NOT COALESCE(released, FALSE)
GROUP BY institution_code, stage, check_id
