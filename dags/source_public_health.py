"""Airflow DAG: source family 'public_health' (one mapped task group per institution). Wiring only."""

from plugins.rhp_airflow.source_dag import build_source_dag

dag = build_source_dag("public_health")
