"""The append-only audit log of every API call that touches resident data or indicators.

Append-only by construction: this module offers ``write_audit`` and ``read_audit`` and
nothing that updates or deletes; on PostgreSQL a trigger (migration 0600) rejects UPDATE,
DELETE and TRUNCATE on ``api_audit`` from any client. Each event is written in its own
transaction so a denied or failed request is still recorded.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

AuditOutcome = Literal["allowed", "denied", "unauthenticated", "bad_request", "not_found", "error"]

_INSERT = sa.text(
    "INSERT INTO api_audit (audit_id, event_time, principal, role, institution_code, purpose, action, path, person_key, "
    "items, returned_count, returned_ids, statuses, access_basis, outcome, http_status, detail) VALUES "
    "(:audit_id, :event_time, :principal, :role, :institution_code, :purpose, :action, :path, :person_key, :items, "
    ":returned_count, :returned_ids, :statuses, :access_basis, :outcome, :http_status, :detail)"
)


@dataclass
class AuditEvent:
    action: str
    outcome: AuditOutcome
    http_status: int
    principal: str | None = None
    role: str | None = None
    institution_code: str | None = None
    purpose: str | None = None
    path: str | None = None
    person_key: str | None = None
    items: str | None = None
    returned_count: int | None = None
    returned_ids: str | None = None
    statuses: str | None = None
    access_basis: str | None = None
    detail: str | None = None
    audit_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    event_time: datetime = field(default_factory=lambda: datetime.now(UTC).replace(tzinfo=None))
    written: bool = field(default=False, compare=False)  # set once stored; not a column


def _clip(v: object, n: int = 2000) -> object:
    return v[:n] if isinstance(v, str) else v


def write_audit(target: Engine | Connection, event: AuditEvent) -> str:
    """Insert one audit row (own transaction when given an Engine); returns the audit id.

    Given a Connection, the row commits or rolls back with the caller's work: the lookup uses
    this so a successful lookup costs one commit (one WAL flush), not two.
    """
    row = {k: _clip(v) for k, v in asdict(event).items() if k != "written"}
    if isinstance(target, Engine):
        with target.begin() as conn:
            conn.execute(_INSERT, row)
    else:
        target.execute(_INSERT, row)
    event.written = True
    return event.audit_id


def read_audit(conn: Connection, since: datetime | None = None, limit: int = 100) -> list[dict]:
    """Recent audit rows, newest first (for admin and quality officers)."""
    limit = max(1, min(int(limit), 1000))
    rows = conn.execute(sa.text(
        "SELECT * FROM api_audit WHERE event_time >= :since ORDER BY event_time DESC LIMIT :lim"),
        {"since": since or datetime(1970, 1, 1), "lim": limit})
    return [dict(r._mapping) for r in rows]
