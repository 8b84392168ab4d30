-- modality and study_uid come from the ImagingStudy the report cites (DICOM UID without its urn:oid: prefix).
UPDATE fact_exam_report
SET modality = (SELECT MIN(s.modality) FROM link_exam_study l JOIN imaging_study s ON s.study_id = l.study_id
                WHERE l.report_id = fact_exam_report.report_id),
    study_uid = (SELECT MIN(REPLACE(s.study_uid, 'urn:oid:', '')) FROM link_exam_study l
                 JOIN imaging_study s ON s.study_id = l.study_id WHERE l.report_id = fact_exam_report.report_id)
WHERE modality IS NULL AND study_uid IS NULL
  AND EXISTS (SELECT 1 FROM link_exam_study l JOIN imaging_study s ON s.study_id = l.study_id
              WHERE l.report_id = fact_exam_report.report_id);
