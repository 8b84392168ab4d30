"""Alert callbacks: task failure and missed submission deadlines.

Alerts go to ``transforms.alerts`` (a warehouse table plus an optional webhook), so an
operator sees the same alert in the quality report and in the on-call channel.
"""

from __future__ import annotations

from typing import Any


def on_task_failure(context: dict[str, Any]) -> None:
    """Airflow on_failure_callback: record which task, which partition, and the error."""
    from transforms.alerts import send_alert

    ti = context.get("task_instance") or context.get("ti")
    send_alert(
        kind="task_failed",
        message=f"{getattr(ti, 'dag_id', '?')}.{getattr(ti, 'task_id', '?')} failed "
        f"(map_index={getattr(ti, 'map_index', -1)}, try={getattr(ti, 'try_number', '?')})",
        details={"exception": str(context.get("exception", ""))[:2000]},
    )
