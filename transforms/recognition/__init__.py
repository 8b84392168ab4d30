"""互认 (mutual recognition of lab and exam results): rules as data, the lookup, the index, outcomes.

See docs/recognition.md. Nothing here imports Airflow or FastAPI.
"""
