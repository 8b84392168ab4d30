"""A deferrable sensor that waits for a source's submission deadline, then alerts on what is missing.

Why deferrable: a day's deadline can be hours away; waiting in the triggerer costs no
worker slot. The deadline is read from the submission calendar at run time (never at DAG
parse time), per dataset of the source; at or after the latest one, the check runs and an
alert is raised for each expected file that has not arrived (an explicit zero report counts
as arrived).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from airflow.providers.standard.triggers.temporal import DateTimeTrigger
from airflow.sdk import BaseSensorOperator

from plugins.rhp_airflow.common import partition_day

SHANGHAI = timezone(timedelta(hours=8))  # the calendar's deadlines are local times


class SubmissionDeadlineSensor(BaseSensorOperator):
    """Defer until the latest deadline of ``source``'s datasets for the run's day; then check."""

    def __init__(self, *, source: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source

    def _deadline(self, context: Any) -> datetime:
        from transforms.deadlines import CALENDAR_FILE
        from transforms.sources.calendar import load_calendar

        day = partition_day(context)
        dues = [d.deadline.due(day) for d in load_calendar(CALENDAR_FILE).datasets if d.source == self.source]
        latest = max(dues) if dues else datetime.combine(day + timedelta(days=1), datetime.min.time())
        return latest.replace(tzinfo=SHANGHAI)

    def execute(self, context: Any) -> Any:
        deadline = self._deadline(context)
        if datetime.now(UTC) < deadline:
            self.defer(trigger=DateTimeTrigger(moment=deadline), method_name="execute_complete")
        return self.execute_complete(context)

    def execute_complete(self, context: Any, event: Any = None) -> dict[str, Any]:
        from transforms.alerts import check_submission_deadlines
        from transforms.settings import load_settings

        return check_submission_deadlines(load_settings(), self.source, partition_day(context))
