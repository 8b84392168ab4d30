"""Alerts: written to the warehouse ``alert_log`` and, if configured, a webhook or a file.

Why a table first: alerts about missing submissions are part of the quality record an
officer publishes, so they must be queryable, not only sent. Delivery to people is a
pluggable second step (``RHP_ALERT_WEBHOOK`` for an HTTP endpoint, ``RHP_ALERT_FILE`` for a
JSON-lines file an agent tails); a delivery failure never fails the pipeline.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from transforms.settings import Settings, load_settings
from transforms.warehouse.db import transaction

log = logging.getLogger(__name__)


def send_alert(
    kind: str,
    message: str,
    details: dict[str, Any] | None = None,
    source: str | None = None,
    institution: str | None = None,
    day: date | None = None,
    settings: Settings | None = None,
) -> str:
    """Record one alert (idempotent per kind/source/institution/day/message) and deliver it."""
    s = settings or load_settings()
    key = "|".join(str(x) for x in (kind, source, institution, day, message))
    alert_id = hashlib.sha256(key.encode()).hexdigest()[:24]
    row = {"alert_id": alert_id, "kind": kind, "message": message, "source": source,
           "institution_code": institution, "partition_date": day,
           "details": json.dumps(details or {}, ensure_ascii=False, default=str), "raised_at": datetime.now()}
    with transaction(s.warehouse_url) as conn:
        conn.execute(sa.text("DELETE FROM alert_log WHERE alert_id = :a"), {"a": alert_id})
        conn.execute(sa.text(
            "INSERT INTO alert_log VALUES (:alert_id, :kind, :message, :source, :institution_code, "
            ":partition_date, :details, :raised_at)"), row)
    log.warning("ALERT %s: %s", kind, message)
    _deliver(row)
    return alert_id


def _deliver(row: dict[str, Any]) -> None:
    payload = json.dumps(row, ensure_ascii=False, default=str)
    path = os.environ.get("RHP_ALERT_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(payload + "\n")
    url = os.environ.get("RHP_ALERT_WEBHOOK")
    if url:
        try:
            import urllib.request

            req = urllib.request.Request(url, data=payload.encode(), headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=5).close()  # noqa: S310 - operator-configured URL
        except Exception as exc:  # delivery is best effort; the table row is the record
            log.error("alert delivery to webhook failed: %s", exc)


def check_submission_deadlines(settings: Settings, source: str, day: date) -> dict[str, Any]:
    """Alert for each expected submission of ``source`` on ``day`` that has not arrived by now.

    The calendar says who must submit what; the submission log says what came. A missing
    file and an explicit zero-record report are different: only the first alerts.
    """
    from transforms.deadlines import missing_submissions

    missing = missing_submissions(settings, day, source=source)
    for m in missing:
        send_alert("submission_missing",
                   f"{m['institution_code']} has not submitted {m['dataset']} for {day} (deadline {m['deadline']})",
                   details=m, source=source, institution=m["institution_code"], day=day, settings=settings)
    return {"source": source, "day": day.isoformat(), "missing": len(missing)}
