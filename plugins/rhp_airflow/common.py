"""Shared DAG settings: retries with back-off, timeouts, tags, Assets, the partition day."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from airflow.sdk import CronDataIntervalTimetable

SOURCES: tuple[str, ...] = ("registry", "public_health", "signing", "his", "lis", "pacs", "fhir")
ALLOWED_TAGS: frozenset[str] = frozenset(
    {"rhp", "source", "warehouse", "serve", "quality", "indicators", "recognition", "feed", "maintenance"}
)
START_DATE = datetime(2026, 1, 1)
LOCAL_TZ = "Asia/Shanghai"  # submissions, deadlines and "a day" are local wall-clock notions
# Each run covers [yesterday 07:00, today 07:00) local and starts at 07:00, after the 06:00
# submission deadline: its data interval starts on the day it processes (a data-interval
# timetable, not Airflow 3's default cron *trigger* timetable, whose interval is a point).
SOURCE_TIMETABLE = CronDataIntervalTimetable("0 7 * * *", timezone=LOCAL_TZ)

DEFAULT_ARGS: dict[str, Any] = {
    "owner": "data-engineering",
    "retries": 3,
    "retry_delay": timedelta(seconds=30),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=10),
    "execution_timeout": timedelta(minutes=45),
}


def source_asset_uri(source: str) -> str:
    """The Asset a source DAG updates when its partitions are loaded (named for the data)."""
    return f"rhp://warehouse/source/{source}"


MARTS_ASSET_URI = "rhp://warehouse/marts"
RECOGNITION_INDEX_ASSET_URI = "rhp://warehouse/recognition_index"
INDICATORS_ASSET_URI = "rhp://warehouse/indicators"
QUALITY_ASSET_URI = "rhp://reports/quality"
FEED_ASSET_URI = "rhp://exports/ops_feed"


def partition_day(context: dict[str, Any]) -> date:
    """The day a run processes: ``params.day`` if given (reruns/backfills), else the data interval start.

    Never ``now()``: a rerun of last Tuesday processes last Tuesday.
    """
    params = context.get("params") or {}
    if params.get("day"):
        return date.fromisoformat(str(params["day"]))
    for events in (context.get("triggering_asset_events") or {}).values():
        for event in events:  # asset-triggered runs carry the day in the event's extra
            if (getattr(event, "extra", None) or {}).get("day"):
                return date.fromisoformat(event.extra["day"])
    start = context.get("data_interval_start") or context.get("logical_date")
    if start is None:
        raise ValueError("run has no data interval and no params.day: cannot choose a partition")
    return start.astimezone(ZoneInfo(LOCAL_TZ)).date() if start.tzinfo else start.date()
