"""FHIR layer: every standardised canonical record as a validated FHIR R4 (R4B model) resource.

Builders (``builders/``) turn one standard-layer row into plain resource dicts; ``validate``
checks each dict once against the R4B model plus our own required-binding check; ``run``
writes the partition as Bulk Data NDJSON and Parquet. ``native`` reads FHIR-native
submissions back into canonical rows, ``bundle`` serves one person's resources.
Nothing here imports fhir.resources at module level.
"""
