"""Airflow wiring for the platform: DAG factories, task callables, alert callbacks.

Everything here is thin: task bodies call one function in ``transforms`` and return its
report, so the logic stays testable without Airflow.
"""
