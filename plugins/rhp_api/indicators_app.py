"""The indicator service and the submission-quality report over HTTP.

Routes (relative to the mount prefix, ``/rhp-indicators`` under Airflow):
``GET /health``, ``GET /indicators``, ``GET /indicators/{code}``,
``GET /indicators/{code}/values?period_type=&dimension=&period=&published=true|false``,
``GET /indicators/{code}/drilldown?period_type=&period=&dimension=&member=&limit=``,
``GET /quality/{month}?lang=zh|en``.
Every call is authenticated and audited like the lookup service; drill-down rows carry a
shortened person key only.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request

from transforms.api_security.audit import AuditEvent
from transforms.indicators.model import load_indicators
from transforms.indicators.service import drill, values

from .common import ApiError, audited, authorise, install_validation_handler
from .context import ServiceContext, _utcnow

PERIOD_TYPES = ("month", "quarter", "year")
MEMBER_MAX = 100  # longer than any code a dimension has; PostgreSQL refuses NUL in text
PERIOD_RE = {"month": r"^\d{4}-(0[1-9]|1[0-2])$", "quarter": r"^\d{4}Q[1-4]$", "year": r"^\d{4}$"}


def _period(period_type: str | None, period: str | None, required: bool) -> tuple[str, str | None]:
    pt = period_type or "month"
    if pt not in PERIOD_TYPES:
        raise ApiError(400, "bad_request", f"period_type must be one of {PERIOD_TYPES} (got {pt[:20]!r})")
    if period is None:
        if required:
            raise ApiError(400, "bad_request", "period is required (2026-11, 2026Q4 or 2026)")
        return pt, None
    if not re.match(PERIOD_RE[pt], period):
        raise ApiError(400, "bad_request", f"period {period[:20]!r} does not match period_type {pt}")
    return pt, period


def create_app(warehouse_url: str | None = None, tokens_path: Path | None = None,
               clock: Callable[[], datetime] = _utcnow) -> FastAPI:
    ctx = ServiceContext(warehouse_url=warehouse_url, tokens_path=tokens_path, clock=clock)
    app = FastAPI(title="RHP indicator and quality service", version="1.0")
    app.state.ctx = ctx
    install_validation_handler(app, ctx)
    inds = load_indicators()

    def indicator(code: str):
        if code not in inds:
            raise ApiError(404, "not_found", f"unknown indicator {code[:40]!r}")
        return inds[code]

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/indicators")
    def list_route(request: Request):
        def work(ev: AuditEvent):
            authorise(ctx, request, "indicators", ev)
            return [{"code": i.code, "name_zh": i.name_zh, "name_en": i.name_en, "family": i.family, "unit": i.unit,
                     "direction": i.direction, "periods": i.periods, "dimensions": i.dimensions, "source": i.source}
                    for i in inds.values()]

        return audited(ctx, request, "indicators", work)

    @app.get("/indicators/{code}")
    def definition_route(request: Request, code: str):
        def work(ev: AuditEvent):
            authorise(ctx, request, "indicators", ev)
            ind = indicator(code)
            return {**ind.model_dump(), "fingerprint": ind.fingerprint}

        return audited(ctx, request, "indicators", work)

    @app.get("/indicators/{code}/values")
    def values_route(request: Request, code: str, period_type: str | None = None, dimension: str | None = None,
                     period: str | None = None, published: str | None = None):
        def work(ev: AuditEvent):
            authorise(ctx, request, "indicators", ev)
            ind = indicator(code)
            pt, label = _period(period_type, period, required=False)
            dim = dimension or "institution"
            if dim not in ind.dimensions:
                raise ApiError(400, "bad_request", f"{code} has no dimension {dim[:30]!r}; declared: {ind.dimensions}")
            if published not in (None, "true", "false"):
                raise ApiError(400, "bad_request", "published must be true or false")
            only_published = published == "true"
            ev.detail = f"{code} {pt} {label} by {dim}{' published' if only_published else ''}"
            with ctx.engine.connect() as conn:
                return {"indicator": code, "period_type": pt, "dimension": dim, "published_only": only_published,
                        "values": values(conn, ind, pt, dim, label, published_only=only_published)}  # type: ignore[arg-type]

        return audited(ctx, request, "indicators", work)

    @app.get("/indicators/{code}/drilldown")
    def drill_route(request: Request, code: str, period_type: str | None = None, period: str | None = None,
                    dimension: str | None = None, member: str | None = None, limit: str | None = None):
        def work(ev: AuditEvent):
            authorise(ctx, request, "indicators_drilldown", ev)
            ind = indicator(code)
            pt, label = _period(period_type, period, required=True)
            dim = dimension or "institution"
            if dim not in ind.dimensions:
                raise ApiError(400, "bad_request", f"{code} has no dimension {dim[:30]!r}")
            if not member:
                raise ApiError(400, "bad_request", "member is required (the dimension value to drill into)")
            if len(member) > MEMBER_MAX or any(ord(ch) < 32 for ch in member):
                raise ApiError(400, "bad_request", f"member must be at most {MEMBER_MAX} printable characters")
            try:
                n = max(1, min(int(limit or 200), 1000))
            except ValueError:
                raise ApiError(400, "bad_request", f"limit must be an integer (got {str(limit)[:20]!r})") from None
            ev.detail = f"{code} {pt} {label} {dim}={member[:40]}"
            with ctx.engine.connect() as conn:
                return {"indicator": code, "rows": drill(conn, ind, pt, label, dim, member, n)}  # type: ignore[arg-type]

        return audited(ctx, request, "indicators_drilldown", work)

    @app.get("/quality/{month}")
    def quality_route(request: Request, month: str, lang: str | None = None):
        def work(ev: AuditEvent):
            authorise(ctx, request, "quality_report", ev)
            if not re.match(PERIOD_RE["month"], month):
                raise ApiError(400, "bad_request", f"month must be YYYY-MM (got {month[:20]!r})")
            language = lang or "zh"
            if language not in ("zh", "en"):
                raise ApiError(400, "bad_request", "lang must be zh or en")
            from transforms.quality.compute import jsonable, quality_report_data

            with ctx.engine.connect() as conn:
                return jsonable(quality_report_data(conn, month, lang=language))  # type: ignore[arg-type]

        return audited(ctx, request, "quality_report", work)

    return app
