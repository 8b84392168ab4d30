-- modality and study_uid come from the ImagingStudy the report cites (DICOM UID without its urn:oid: prefix).
-- Only reports this load touched: the report itself, its link rows, or an ImagingStudy it cites (_changed_<mart>).
UPDATE fact_exam_report
SET modality = (SELECT MIN(s.modality) FROM link_exam_study l JOIN imaging_study s ON s.study_id = l.study_id
                WHERE l.report_id = fact_exam_report.report_id),
    study_uid = (SELECT MIN(REPLACE(s.study_uid, 'urn:oid:', '')) FROM link_exam_study l
                 JOIN imaging_study s ON s.study_id = l.study_id WHERE l.report_id = fact_exam_report.report_id)
WHERE modality IS NULL AND study_uid IS NULL
  AND report_id IN (SELECT report_id FROM _changed_fact_exam_report
                    UNION SELECT report_id FROM _changed_link_exam_study
                    UNION SELECT l.report_id FROM link_exam_study l JOIN _changed_imaging_study c ON c.study_id = l.study_id)
  AND EXISTS (SELECT 1 FROM link_exam_study l JOIN imaging_study s ON s.study_id = l.study_id
              WHERE l.report_id = fact_exam_report.report_id);
