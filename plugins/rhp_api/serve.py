"""Run one app without Airflow: ``python -m plugins.rhp_api.serve --app recognition --port 8088``.

The app is mounted under the same prefix as inside Airflow, so URLs are identical
(``/rhp-recognition/lookup``, ``/fhir/Patient/<key>/$everything``). Binds to 127.0.0.1
unless told otherwise.
"""

from __future__ import annotations

import argparse

from fastapi import FastAPI

from .registry import APP_PREFIXES, factory


def build(name: str, warehouse_url: str | None = None) -> FastAPI:
    """One app (or ``all`` of them, as docker-compose's rhp-api service runs) under its prefix."""
    root = FastAPI(title=f"RHP {name}")
    for app_name in (sorted(APP_PREFIXES) if name == "all" else [name]):
        root.mount(APP_PREFIXES[app_name], factory(app_name)(warehouse_url=warehouse_url))

    @root.get("/healthz")
    def healthz() -> dict:
        return {"status": "ok", "apps": sorted(APP_PREFIXES) if name == "all" else [name]}

    return root


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m plugins.rhp_api.serve")
    ap.add_argument("--app", choices=[*sorted(APP_PREFIXES), "all"], required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8088)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--warehouse-url", default=None, help="default: RHP_WAREHOUSE_URL / settings")
    args = ap.parse_args(argv)
    import uvicorn

    uvicorn.run(build(args.app, args.warehouse_url), host=args.host, port=args.port, log_level="warning",
                access_log=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
