"""Regional health data platform library: importable and testable without Airflow."""
