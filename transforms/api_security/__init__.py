"""Authentication, roles, relationship-scoped access and the append-only audit log for the HTTP services.

Pure Python (no Airflow, no FastAPI): the web layer in ``plugins/rhp_api`` only translates.
"""
