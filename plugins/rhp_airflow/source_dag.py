"""The per-source DAG: one DAG per source family, mapped over institutions.

Each run processes the partition of its data interval for every institution that
delivered a folder; the partition stages run as a mapped task group so each institution
moves at its own pace and a bad one fails alone. After load, the source Asset is updated
and the downstream DAGs (marts, indicators, 互认 index, quality report) are scheduled on it.
A deferrable sensor waits for the submission deadline and alerts on missing files.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, Param, dag, task, task_group

from plugins.rhp_airflow.alerts import on_task_failure
from plugins.rhp_airflow.common import (
    DEFAULT_ARGS,
    SOURCE_TIMETABLE,
    START_DATE,
    partition_day,
    source_asset_uri,
)
from plugins.rhp_airflow.sensors import SubmissionDeadlineSensor


def _stage(stage: str, source: str, institution: str, context: dict[str, Any]) -> dict[str, Any]:
    from transforms.pipeline import run_stage
    from transforms.settings import load_settings

    return run_stage(stage, load_settings(), source, institution, partition_day(context))  # type: ignore[arg-type]


def build_source_dag(source: str, schedule: object = SOURCE_TIMETABLE):
    """Build the DAG for one source family (``his``, ``lis``, ...)."""

    @dag(
        dag_id=f"rhp_source_{source}",
        description=f"Ingest → standardise → validate → FHIR → load for source '{source}', per institution",
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=2,
        max_active_tasks=4,
        default_args={**DEFAULT_ARGS, "on_failure_callback": on_task_failure},
        tags=["rhp", "source"],
        params={"day": Param(None, type=["null", "string"], description="partition day YYYY-MM-DD (reruns)")},
        doc_md=__doc__,
    )
    def source_dag() -> None:
        @task
        def institutions(**context: Any) -> list[str]:
            from transforms.pipeline import discover
            from transforms.settings import load_settings

            return [inst for _, inst, _ in discover(load_settings(), partition_day(context), source)]

        @task_group
        def partition(institution: str) -> None:
            @task(max_active_tis_per_dagrun=4)
            def ingest(institution: str, **context: Any) -> dict[str, Any]:
                return _stage("ingest", source, institution, context)

            @task(max_active_tis_per_dagrun=4)
            def standardise(institution: str, **context: Any) -> dict[str, Any]:
                return _stage("standardise", source, institution, context)

            @task(max_active_tis_per_dagrun=4)
            def validate(institution: str, **context: Any) -> dict[str, Any]:
                return _stage("validate", source, institution, context)

            @task(max_active_tis_per_dagrun=4)
            def fhir(institution: str, **context: Any) -> dict[str, Any]:
                return _stage("fhir", source, institution, context)

            @task(max_active_tis_per_dagrun=1)  # one writer into the warehouse per run
            def load(institution: str, **context: Any) -> dict[str, Any]:
                return _stage("load", source, institution, context)

            i, s, v, f, lo = (ingest(institution), standardise(institution), validate(institution),
                              fhir(institution), load(institution))
            i >> s >> v >> f >> lo

        @task(outlets=[Asset(source_asset_uri(source))], trigger_rule="all_done")
        def publish(**context: Any) -> dict[str, Any]:
            day = partition_day(context)
            context["outlet_events"][Asset(source_asset_uri(source))].extra = {"day": day.isoformat()}
            return {"source": source, "day": day.isoformat()}

        mapped = partition.expand(institution=institutions())
        mapped >> publish()
        # In parallel: wait (deferred, no worker slot) for the submission deadline, then alert
        # on every expected file that has not arrived.
        mapped >> SubmissionDeadlineSensor(task_id="submission_deadline", source=source,
                                           trigger_rule="all_done", timeout=60 * 60 * 48)

    return source_dag()
