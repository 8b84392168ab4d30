"""Ingest: read landed files through source profiles into raw Parquet, log and quarantine.

Entry points: ``readers.iter_records`` (one file → canonical rows and rejects) and
``run.ingest_partition`` (one landing partition → raw lake + submission log + quarantine).
"""
