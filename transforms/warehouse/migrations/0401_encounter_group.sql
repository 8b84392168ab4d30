-- encounter_group: the medical group an encounter belongs to, as of the encounter's date
-- (DOMAIN 1.3: resolve group membership as of the event date, never from a source label).
-- valid_to is exclusive; NULL means the membership is still open.
CREATE VIEW encounter_group AS
SELECT e.encounter_id, e.institution_code, CAST(e.start_time AS DATE) AS encounter_date,
       m.group_code, m.role
FROM fact_encounter e
JOIN dim_group_membership m
  ON m.institution_code = e.institution_code
 AND CAST(e.start_time AS DATE) >= m.valid_from
 AND (m.valid_to IS NULL OR CAST(e.start_time AS DATE) < m.valid_to);
