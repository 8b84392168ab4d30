"""Shared request plumbing: authenticate, authorise, audit every call, map errors to 4xx.

Why one wrapper: every route must write exactly one audit row whatever happens (allowed,
denied, bad input, crash), and no internal error text (SQL, stack) may reach the caller.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response

from transforms.api_security.audit import AuditEvent
from transforms.api_security.roles import Action
from transforms.api_security.tokens import AuthError, Principal
from transforms.recognition.lookup import LookupInputError
from transforms.recognition.outcomes import OutcomeError

from .context import ServiceContext

log = logging.getLogger(__name__)
PURPOSE_HEADER = "x-purpose-of-use"


class ApiError(Exception):
    """An expected refusal: HTTP status, audit outcome and a message safe to show."""

    def __init__(self, status: int, outcome: str, message: str) -> None:
        super().__init__(message)
        self.status, self.outcome, self.message = status, outcome, message


def authorise(ctx: ServiceContext, request: Request, action: Action, event: AuditEvent) -> Principal:
    try:
        p = ctx.authenticate(request.headers.get("authorization"), request.headers.get("x-api-key"))
    except AuthError as exc:
        raise ApiError(401, "unauthenticated", str(exc)) from None
    event.principal, event.role, event.institution_code = p.principal, p.role.value, p.institution_code
    if not ctx.policy.can(p.role, action):
        raise ApiError(403, "denied", f"role {p.role.value} may not {action}")
    return p


def require_purpose(ctx: ServiceContext, request: Request, p: Principal, event: AuditEvent,
                    purpose: str | None) -> str:
    value = (request.headers.get(PURPOSE_HEADER) or purpose or "").strip()
    event.purpose = value[:60] or None
    if not value:
        raise ApiError(400, "bad_request", "purpose of use is required (header X-Purpose-Of-Use or ?purpose=)")
    if not ctx.policy.purpose_ok(p.role, value):
        raise ApiError(403, "denied", f"purpose {value[:40]!r} is not allowed for role {p.role.value}")
    return value


def error_body(status: int, message: str, audit_id: str | None, fhir: bool) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if fhir:
        code = {401: "login", 403: "forbidden", 404: "not-found"}.get(status, "invalid" if status < 500 else "exception")
        body: dict[str, Any] = {"resourceType": "OperationOutcome", "issue": [
            {"severity": "error", "code": code, "diagnostics": message}]}
        return JSONResponse(body, status_code=status, headers=headers, media_type="application/fhir+json")
    return JSONResponse({"detail": message, "audit_id": audit_id}, status_code=status, headers=headers)


def audited(ctx: ServiceContext, request: Request, action: str, work: Callable[[AuditEvent], Any],
            fhir: bool = False) -> Response:
    """Run ``work(event)``; whatever happens, write the audit event, then answer.

    ``work`` may store the event itself inside its own transaction (``write_audit(conn, ev)``
    after setting the final outcome); if that transaction fails, the error is audited here.
    """
    event = AuditEvent(action=action, outcome="error", http_status=500, path=request.url.path)
    try:
        result = work(event)
        event.outcome, event.http_status = "allowed", 200
        if isinstance(result, Response):
            return result
        return JSONResponse(jsonable_encoder(result),
                            media_type="application/fhir+json" if fhir else "application/json")
    except ApiError as exc:
        event.outcome, event.http_status, event.detail = exc.outcome, exc.status, exc.message
    except LookupInputError as exc:
        event.outcome, event.http_status, event.detail = "bad_request", 400, str(exc)
    except OutcomeError as exc:
        outcome = {403: "denied", 404: "not_found"}.get(exc.status, "bad_request")
        event.outcome, event.http_status, event.detail = outcome, exc.status, str(exc)
    except Exception as exc:  # never leak SQL or stack text to the caller
        log.exception("%s failed", action)
        event.outcome, event.http_status = "error", 500
        event.detail = f"internal error: {type(exc).__name__}"
    finally:
        if event.written and event.outcome != "allowed":
            event.written = False  # the work's transaction (and its audit row) rolled back
            event.audit_id = uuid.uuid4().hex
        audit_id = event.audit_id if event.written else ctx.audit(event)
    message = event.detail if event.http_status < 500 else f"internal error (audit id {audit_id})"
    return error_body(event.http_status, message or "error", audit_id, fhir)


def install_validation_handler(app: FastAPI, ctx: ServiceContext, fhir: bool = False) -> None:
    """Malformed request bodies become an audited 400 naming the field, not FastAPI's bare 422."""

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        loc = ".".join(str(x) for x in first.get("loc", ()) if x != "body") or "request"
        message = f"{loc}: {first.get('msg', 'invalid')}"
        audit_id = ctx.audit(AuditEvent(action="request", outcome="bad_request", http_status=400,
                                        path=request.url.path, detail=message))
        return error_body(400, message, audit_id, fhir)
