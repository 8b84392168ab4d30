-- Derived after each refresh of fact_encounter (FHIRPath in SQL-on-FHIR has no date arithmetic).
-- Length of stay in whole days, the same spelling on DuckDB and PostgreSQL (DATE - DATE = days).
UPDATE fact_encounter
SET los_days = CAST(CAST(end_time AS DATE) - CAST(start_time AS DATE) AS INTEGER)
WHERE los_days IS NULL AND end_time IS NOT NULL AND start_time IS NOT NULL;
