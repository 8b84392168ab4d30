-- Derived after each refresh of fact_encounter (FHIRPath in SQL-on-FHIR has no date arithmetic).
-- Length of stay in whole days, the same spelling on DuckDB and PostgreSQL (DATE - DATE = days).
-- Only the rows this load wrote (_changed_<mart>, kept by marts.refresh_marts): the table grows with every day.
UPDATE fact_encounter
SET los_days = CAST(CAST(end_time AS DATE) - CAST(start_time AS DATE) AS INTEGER)
WHERE los_days IS NULL AND end_time IS NOT NULL AND start_time IS NOT NULL
  AND encounter_id IN (SELECT encounter_id FROM _changed_fact_encounter);
