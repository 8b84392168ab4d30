-- Standard-layer check counts of the month, summed per institution x check.
SELECT institution_code, table_name, check_id, check_type, category, severity,
       SUM(numerator) AS numerator, SUM(denominator) AS denominator, MAX(threshold) AS threshold,
       SUM(CASE WHEN status = 'fail' THEN 1 ELSE 0 END) AS failed_batches,
       SUM(CASE WHEN status = 'pass' THEN 1 ELSE 0 END) AS passed_batches
FROM dq_check_result
WHERE layer = 'standard' AND status <> 'not_run' AND partition_date >= :start AND partition_date < :end
GROUP BY institution_code, table_name, check_id, check_type, category, severity
