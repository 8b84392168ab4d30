"""Downstream DAGs scheduled on Assets: marts, 互认 index, indicators, quality report, feed.

They never poll and never run on a clock: each runs when the data it reads was updated,
and publishes its own Asset for the next consumer.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, AssetAny, Param, dag, task

from plugins.rhp_airflow.alerts import on_task_failure
from plugins.rhp_airflow.common import DEFAULT_ARGS, START_DATE, partition_day


def build_post_load_dag(dag_id: str, step: str, inputs: list[str], output: str, tag: str, doc: str):
    """A one-step DAG: run post-load ``step`` when any of ``inputs`` is updated, then publish ``output``."""
    schedule = AssetAny(*(Asset(u) for u in inputs)) if len(inputs) > 1 else [Asset(inputs[0])]

    @dag(
        dag_id=dag_id,
        description=doc,
        schedule=schedule,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,  # each step rewrites whole outputs: one at a time
        default_args={**DEFAULT_ARGS, "on_failure_callback": on_task_failure},
        tags=["rhp", tag],
        params={"day": Param(None, type=["null", "string"], description="day YYYY-MM-DD")},
        doc_md=doc,
    )
    def post_load_dag() -> None:
        @task(task_id=step, outlets=[Asset(output)])
        def run(**context: Any) -> dict[str, Any]:
            from transforms.pipeline import run_post_load
            from transforms.settings import load_settings

            day = partition_day(context)
            report = run_post_load(load_settings(), day, step)
            context["outlet_events"][Asset(output)].extra = {"day": day.isoformat()}
            return report

        run()

    return post_load_dag()
