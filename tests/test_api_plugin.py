"""The Airflow plugin registers every FastAPI app (importing it connects to nothing)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

pytestmark = pytest.mark.unit


def test_plugin_registers_fastapi_apps():
    from plugins.rhp_plugin import RhpPlugin

    apps = {a["url_prefix"]: a for a in RhpPlugin.fastapi_apps}
    assert set(apps) == {"/rhp-recognition", "/fhir", "/rhp-indicators"}
    assert all(isinstance(a["app"], FastAPI) and a["name"] for a in apps.values())
    paths = {r.path for r in apps["/rhp-recognition"]["app"].routes}
    assert {"/lookup", "/outcomes", "/rates", "/audit", "/health"} <= paths
    assert "/Patient/{person_key}/$everything" in {r.path for r in apps["/fhir"]["app"].routes}


def test_airflow_is_imported_only_by_the_plugin_module():
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent
    offenders = [p for p in [*root.glob("plugins/rhp_api/*.py"), *root.glob("transforms/recognition/*.py"),
                             *root.glob("transforms/api_security/*.py")]
                 if "import airflow" in p.read_text() or "from airflow" in p.read_text()]
    assert offenders == []


def test_async_commit_is_opt_in(monkeypatch):
    from plugins.rhp_api.context import ServiceContext

    monkeypatch.delenv("RHP_AUDIT_SYNC_COMMIT", raising=False)
    assert ServiceContext().sync_commit is True
    monkeypatch.setenv("RHP_AUDIT_SYNC_COMMIT", "off")
    assert ServiceContext().sync_commit is False
