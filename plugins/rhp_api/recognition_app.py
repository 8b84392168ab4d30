"""The 互认 lookup service: lookup, outcomes, rates and the audit read-out.

Routes (relative to the mount prefix, ``/rhp-recognition`` under Airflow): ``GET /health``,
``GET /lookup``, ``POST /outcomes``, ``GET /rates``, ``GET /audit``. See docs/api.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from transforms.api_security.access import relationship_basis
from transforms.api_security.audit import AuditEvent, read_audit, write_audit
from transforms.api_security.roles import Role
from transforms.recognition.fhir_views import results_bundle
from transforms.recognition.lookup import (
    LookupInputError,
    lookup,
    resolve_items,
    validate_institution,
    validate_person_key,
)
from transforms.recognition.outcomes import recognition_rates, record_outcome

from .common import ApiError, audited, authorise, install_validation_handler, require_purpose
from .context import ServiceContext, _utcnow


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lookup_id: str
    item_code: str
    outcome: Literal["accepted", "retested"]
    reason_code: str | None = None


def _date(name: str, value: str | None) -> date:
    if not value:
        raise ApiError(400, "bad_request", f"{name} is required (YYYY-MM-DD)")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ApiError(400, "bad_request", f"{name} must be a date YYYY-MM-DD (got {value[:40]!r})") from None


def create_app(warehouse_url: str | None = None, tokens_path: Path | None = None,
               clock: Callable[[], datetime] = _utcnow) -> FastAPI:
    """A fresh app; nothing connects until the first request."""
    ctx = ServiceContext(warehouse_url=warehouse_url, tokens_path=tokens_path, clock=clock)
    app = FastAPI(title="RHP 互认 lookup service", version="1.0")
    app.state.ctx = ctx
    install_validation_handler(app, ctx)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/lookup")
    def lookup_route(request: Request, person_key: str | None = None, items: str | None = None,
                     requesting_institution: str | None = None, purpose: str | None = None,
                     format: str | None = None):  # noqa: A002 - the public parameter name
        def work(ev: AuditEvent):
            p = authorise(ctx, request, "lookup", ev)
            require_purpose(ctx, request, p, ev, purpose)
            ev.person_key = (person_key or "")[:80] or None
            ev.items = (items or "")[:400] or None
            fmt = (format or "json").lower()
            if fmt not in ("json", "fhir"):
                raise ApiError(400, "bad_request", f"format must be 'json' or 'fhir' (got {fmt[:20]!r})")
            if not person_key:
                raise ApiError(400, "bad_request", "person_key is required")
            validate_person_key(person_key)
            codes = resolve_items([c for c in (items or "").split(",") if c.strip()], ctx.rules)
            inst = requesting_institution or p.institution_code
            if not inst:
                raise ApiError(400, "bad_request", "requesting_institution is required")
            validate_institution(inst)
            if ctx.policy.roles[p.role].resident_scope != "relationship":
                raise ApiError(403, "denied", f"role {p.role.value} has no resident-level access")
            if inst != p.institution_code:
                raise ApiError(403, "denied", f"token of {p.institution_code} may not look up for {inst}")
            at = ctx.clock()
            with ctx.engine.begin() as conn:
                if not ctx.sync_commit and conn.dialect.name == "postgresql":
                    conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
                basis = relationship_basis(conn, person_key, inst, at.date())
                if basis is None:
                    raise ApiError(403, "denied", f"institution {inst} has no encounter or signing "
                                   "relationship with this resident")
                ev.access_basis = basis
                res = lookup(conn, person_key, codes, inst, at=at, rules=ctx.rules, principal=p.principal)
                ev.returned_count = len(res.results)
                ev.returned_ids = ";".join(r.result_id for r in res.results)
                ev.statuses = ";".join(f"{k}={v}" for k, v in sorted(res.status_counts().items()))
                ev.detail = f"lookup_id={res.lookup_id}"
                ev.outcome, ev.http_status = "allowed", 200
                write_audit(conn, ev)  # same transaction as the lookup rows: one commit
            if fmt == "fhir":
                return JSONResponse(results_bundle(res), media_type="application/fhir+json")
            return res.to_json()

        return audited(ctx, request, "lookup", work)

    @app.post("/outcomes")
    def outcome_route(request: Request, body: OutcomeIn):
        def work(ev: AuditEvent):
            p = authorise(ctx, request, "record_outcome", ev)
            ev.items = body.item_code[:60]
            ev.detail = f"lookup_id={body.lookup_id[:40]} outcome={body.outcome} reason={body.reason_code}"
            with ctx.engine.begin() as conn:
                stored = record_outcome(conn, body.lookup_id, body.item_code, body.outcome, body.reason_code,
                                        recorded_by=p.principal, at=ctx.clock(), rules=ctx.rules,
                                        institution=p.institution_code if p.role is Role.clinician else None)
            ev.person_key = stored["person_key"]
            stored.pop("person_key")
            if stored["price_yuan"] is not None:  # money as an exact decimal string
                stored["price_yuan"] = str(stored["price_yuan"])
            return stored

        return audited(ctx, request, "record_outcome", work)

    @app.get("/rates")
    def rates_route(request: Request, period_start: str | None = None, period_end: str | None = None,
                    by: str | None = None):
        def work(ev: AuditEvent):
            authorise(ctx, request, "rates", ev)
            start, end = _date("period_start", period_start), _date("period_end", period_end)
            if end <= start:
                raise ApiError(400, "bad_request", "period_end must be after period_start")
            group = by or "none"
            if group not in ("none", "requesting_institution", "item_code", "month"):
                raise ApiError(400, "bad_request", "by must be none, requesting_institution, item_code or month")
            ev.detail = f"{start}..{end} by {group}"
            with ctx.engine.connect() as conn:
                return {"rates": recognition_rates(conn, start, end, by=group)}  # type: ignore[arg-type]

        return audited(ctx, request, "rates", work)

    @app.get("/audit")
    def audit_route(request: Request, limit: str | None = None):
        def work(ev: AuditEvent):
            authorise(ctx, request, "audit_read", ev)
            try:
                n = int(limit or 100)
            except ValueError:
                raise ApiError(400, "bad_request", f"limit must be an integer (got {str(limit)[:20]!r})") from None
            with ctx.engine.connect() as conn:
                rows = read_audit(conn, limit=n)
            ev.returned_count = len(rows)
            return {"audit": rows}

        return audited(ctx, request, "audit_read", work)

    return app


__all__ = ["LookupInputError", "create_app"]
