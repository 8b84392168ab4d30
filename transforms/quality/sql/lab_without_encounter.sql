-- Cross-source consistency: lab results (LIS) whose person has no encounter (HIS) at the
-- ordering institution on the specimen day or the 3 days before.
SELECT l.ordering_institution AS institution_code, COUNT(*) AS labs,
       SUM(CASE WHEN NOT EXISTS (
             SELECT 1 FROM fact_encounter e
             WHERE e.person_key = l.person_key AND e.institution_code = l.ordering_institution
               AND CAST(e.start_time AS DATE) <= CAST(l.specimen_time AS DATE)
               AND CAST(e.start_time AS DATE) >= CAST(l.specimen_time AS DATE) - 3
           ) THEN 1 ELSE 0 END) AS without_encounter
FROM fact_lab_result l
WHERE l.specimen_time >= :start AND l.specimen_time < :end AND l.ordering_institution IS NOT NULL
GROUP BY l.ordering_institution
