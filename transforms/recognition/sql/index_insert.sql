-- Lab analyte results and exam reports with a unified item code, a resident and a time.
-- Rows with only a local code are not indexed: equivalence across hospitals goes through the
-- unified code set only. Rows are written in (person_key, item_code) order so DuckDB's
-- per-row-group min/max pruning serves the lookup after a full refresh.
INSERT INTO recognition_index (
    result_id, item_kind, item_code, hr_item_code, person_key, result_time, report_time,
    performing_institution, reporting_institution, ordering_institution, status,
    value_num, value_text, unit, ref_low, ref_high, abnormal_flag, report_id,
    modality, study_uid, cloud_film_url, loaded_at, indexed_at)
SELECT observation_id, 'lab', loinc_code, hr_item_code, person_key,
       COALESCE(specimen_time, report_time), report_time,
       performing_institution, reporting_institution, ordering_institution, status,
       CAST(value_num AS DOUBLE PRECISION), value_text, unit,
       CAST(ref_low AS DOUBLE PRECISION), CAST(ref_high AS DOUBLE PRECISION), abnormal_flag, report_id,
       NULL, NULL, NULL, loaded_at, CAST(:now AS TIMESTAMP)
FROM fact_lab_result
WHERE loinc_code IS NOT NULL AND person_key IS NOT NULL
  AND COALESCE(specimen_time, report_time) IS NOT NULL
  AND (CAST(:since AS TIMESTAMP) IS NULL OR loaded_at >= CAST(:since AS TIMESTAMP))
UNION ALL
SELECT report_id, 'exam', exam_item_code, NULL, person_key,
       COALESCE(exam_time, report_time), report_time,
       performing_institution, reading_institution, ordering_institution, status,
       NULL, NULL, NULL, NULL, NULL, NULL, report_id,
       modality, study_uid, cloud_film_url, loaded_at, CAST(:now AS TIMESTAMP)
FROM fact_exam_report
WHERE exam_item_code IS NOT NULL AND person_key IS NOT NULL
  AND COALESCE(exam_time, report_time) IS NOT NULL
  AND (CAST(:since AS TIMESTAMP) IS NULL OR loaded_at >= CAST(:since AS TIMESTAMP))
ORDER BY 5, 3
