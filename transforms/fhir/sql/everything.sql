-- All FHIR resources of one person from the warehouse FHIR store (migration 0200).
SELECT id, resource_type, resource
FROM fhir_resource
WHERE person_key = :person_key
ORDER BY CASE WHEN resource_type = 'Patient' THEN 0 ELSE 1 END, resource_type, id
