"""FHIR R4B read API: ``GET /Patient/{person_key}/$everything`` (mounted at ``/fhir``).

Same authentication, relationship scope and audit as the lookup service. The Bundle comes
from ``transforms.fhir.bundle.everything_bundle`` when present, else from the fallback in
``transforms.recognition.fhir_views``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from transforms.api_security.access import relationship_basis
from transforms.api_security.audit import AuditEvent
from transforms.recognition.fhir_views import everything
from transforms.recognition.lookup import validate_person_key

from .common import ApiError, audited, authorise, install_validation_handler, require_purpose
from .context import ServiceContext, _utcnow


def create_app(warehouse_url: str | None = None, tokens_path: Path | None = None,
               clock: Callable[[], datetime] = _utcnow) -> FastAPI:
    ctx = ServiceContext(warehouse_url=warehouse_url, tokens_path=tokens_path, clock=clock)
    app = FastAPI(title="RHP FHIR read API (R4B)", version="1.0")
    app.state.ctx = ctx
    install_validation_handler(app, ctx, fhir=True)

    @app.get("/metadata")
    def metadata() -> JSONResponse:
        return JSONResponse({"resourceType": "CapabilityStatement", "status": "active", "kind": "instance",
                             "fhirVersion": "4.3.0", "format": ["json"], "date": "2026-11-23",
                             "rest": [{"mode": "server", "resource": [{"type": "Patient", "operation": [
                                 {"name": "everything",
                                  "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}]}]}]},
                            media_type="application/fhir+json")

    @app.get("/Patient/{person_key}/$everything")
    def patient_everything(request: Request, person_key: str, purpose: str | None = None):
        def work(ev: AuditEvent):
            p = authorise(ctx, request, "fhir_read", ev)
            require_purpose(ctx, request, p, ev, purpose)
            ev.person_key = person_key[:80]
            try:
                validate_person_key(person_key)
            except ValueError as exc:
                raise ApiError(400, "bad_request", str(exc)) from None
            if ctx.policy.roles[p.role].resident_scope != "relationship" or not p.institution_code:
                raise ApiError(403, "denied", f"role {p.role.value} has no resident-level access")
            with ctx.engine.connect() as conn:
                basis = relationship_basis(conn, person_key, p.institution_code, ctx.clock().date())
                if basis is None:
                    raise ApiError(403, "denied", f"institution {p.institution_code} has no encounter or "
                                   "signing relationship with this resident")
                ev.access_basis = basis
                bundle = everything(conn, person_key)
            entries = bundle.get("entry", [])
            ev.returned_count = len(entries)
            ev.returned_ids = ";".join(f"{e['resource'].get('resourceType')}/{e['resource'].get('id')}"
                                       for e in entries)
            return bundle

        return audited(ctx, request, "fhir_read", work, fhir=True)

    return app
