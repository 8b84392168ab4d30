-- Every logged file of the month (one row per batch); the report classifies them against the calendar.
SELECT batch_id, file_path, source, institution_code, dataset, partition_date, status, is_zero_report, arrival_time,
       rows_read, rows_landed, rows_quarantined
FROM submission_log
WHERE partition_date >= :start AND partition_date < :end
