-- Remove the index rows a refresh will rewrite: all of them on a full refresh (:since NULL),
-- else those whose lab result or exam report was (re)loaded since :since.
DELETE FROM recognition_index
WHERE CAST(:since AS TIMESTAMP) IS NULL
   OR result_id IN (SELECT observation_id FROM fact_lab_result WHERE loaded_at >= CAST(:since AS TIMESTAMP))
   OR result_id IN (SELECT report_id FROM fact_exam_report WHERE loaded_at >= CAST(:since AS TIMESTAMP))
