"""Every operation of every HTTP service, driven by its own OpenAPI schema: bad credentials and
hostile values never get through and never cause a 5xx.

tests/test_api_recognition.py covers /lookup in depth (each bypass header, each parameter,
another clinician's resident). This file widens the same properties to EVERY operation the
registry serves (plugins/rhp_api/registry.py APP_PREFIXES), so a new endpoint is covered the day
it appears: no operation but the public ones answers without valid credentials, and no query,
path or body value — SQL injection, NUL byte, huge string — yields a 5xx or changes the data.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

pytestmark = pytest.mark.local

PUBLIC_SUFFIXES = ("/health", "/metadata")  # liveness and the FHIR CapabilityStatement: open by design
BYPASS = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer rhp_deadbeef_not-a-real-token"},
    {"Authorization": "Basic ZHJfYTpwYXNzd29yZA=="},
    {"Authorization": "bearer  " + "A" * 4096},
    {"X-API-Key": "' OR '1'='1"},
    {"Authorization": "Bearer ' OR '1'='1 --"},
]
INJECTIONS = ["' OR '1'='1", "1; DROP TABLE api_audit; --", "%' UNION SELECT * FROM recognition_index --",
              "\x00", "x" * 5000, "../../etc/passwd", "2026-11-01'; DELETE FROM fhir_resource; --"]


def seed_services(url: str, tokens) -> dict[str, str]:
    """Seed the demo 互认 data and one Patient into the warehouse at ``url``; create a token per role."""
    from transforms.api_security.tokens import create_token
    from transforms.recognition.demo_data import PK_A, seed_demo
    from transforms.recognition.index import refresh_index
    from transforms.warehouse.db import get_engine, migrate

    eng = get_engine(url)
    migrate(eng)
    with eng.begin() as c:
        seed_demo(c)
        refresh_index(c, None)
        c.execute(sa.text(
            "INSERT INTO fhir_resource (id, resource_type, person_key, resource, content_hash, batch_id, source, "
            "institution_code, partition_date, loaded_at) VALUES ('p-a', 'Patient', :pk, :r, 'h', 'b', 'fhir', "
            "'HOSP-A', DATE '2026-10-01', TIMESTAMP '2026-10-01 00:00:00')"),
            {"pk": PK_A, "r": '{"resourceType": "Patient", "id": "p-a"}'})
    return {"clinician": create_token("dr_a", "clinician", "HOSP-A", tokens),
            "manager": create_token("mgr", "manager", None, tokens),
            "admin": create_token("admin", "admin", None, tokens)}


def root_app(url: str, tokens):
    """Every registered app under its real prefix, as ``serve`` and the Airflow plugin mount them."""
    from fastapi import FastAPI

    from plugins.rhp_api.registry import APP_PREFIXES, factory
    from transforms.recognition.demo_data import DEMO_AT

    root = FastAPI()
    for name, prefix in APP_PREFIXES.items():
        root.mount(prefix, factory(name)(url, tokens, clock=lambda: DEMO_AT))
    return root


@pytest.fixture()
def services(rhp_home, tmp_path):
    """Both apps under their real prefixes, on a seeded DuckDB warehouse, with tokens per role."""
    from transforms.recognition.demo_data import PK_A
    from transforms.settings import load_settings
    from transforms.warehouse.db import get_engine

    url = load_settings().warehouse_url
    tokens = tmp_path / "tokens.json"
    tok = seed_services(url, tokens)
    return TestClient(root_app(url, tokens), raise_server_exceptions=False), tok, get_engine(url), PK_A


def operations(client: TestClient) -> list[tuple[str, str, dict]]:
    """(method, full path, operation) for every operation of every registered app."""
    from plugins.rhp_api.registry import APP_PREFIXES

    out = []
    for prefix in APP_PREFIXES.values():
        schema = client.get(f"{prefix}/openapi.json").json()
        for path, ops in schema["paths"].items():
            for method, op in ops.items():
                out.append((method.upper(), prefix + path, op))
    assert len(out) >= 6, out
    return out


def _valid_request(path: str, op: dict, pk: str) -> tuple[str, dict, dict | None]:
    """A plausible request for the operation (path filled, required query params set)."""
    defaults = {"person_key": pk, "items": "14749-6", "requesting_institution": "HOSP-A", "format": "json",
                "purpose": "treatment", "period_start": "2026-10-01", "period_end": "2026-11-01", "by": "none",
                "limit": "10", "month": "2026-11", "code": "x"}
    params = {}
    for p in op.get("parameters", []):
        if p["in"] == "path":
            path = path.replace("{" + p["name"] + "}", defaults.get(p["name"], "x"))
        elif p["in"] == "query":
            params[p["name"]] = defaults.get(p["name"], "x")
    body = {"lookup_id": "x", "item_code": "14749-6", "outcome": "accepted"} if "requestBody" in op else None
    return path, params, body


def _counts(eng) -> tuple[int, int, int]:
    with eng.connect() as c:
        return tuple(int(c.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
                     for t in ("recognition_index", "fhir_resource", "recognition_outcome"))


def test_no_operation_answers_without_valid_credentials(services):
    client, _, eng, pk = services
    checked = 0
    for method, path, op in operations(client):
        if path.endswith(PUBLIC_SUFFIXES):
            continue
        url, params, body = _valid_request(path, op, pk)
        for headers in BYPASS:
            r = client.request(method, url, params=params, json=body,
                               headers={**headers, "X-Purpose-Of-Use": "treatment"})
            assert r.status_code == 401, f"{method} {url} with {list(headers)!r}: {r.status_code} {r.text[:200]}"
            checked += 1
    assert checked >= 4 * len(BYPASS)
    with eng.connect() as c:  # every refusal is audited
        assert int(c.execute(sa.text("SELECT COUNT(*) FROM api_audit WHERE http_status = 401")).scalar_one()) \
            == checked


@pytest.mark.parametrize("role", ["clinician", "manager", "admin"])
def test_hostile_values_in_every_parameter_never_5xx(services, role):
    client, tok, eng, pk = services
    before = _counts(eng)
    headers = {"Authorization": f"Bearer {tok[role]}", "X-Purpose-Of-Use": "treatment"}
    sent = 0
    for method, path, op in operations(client):
        _, params, body = _valid_request(path, op, pk)
        names = [p["name"] for p in op.get("parameters", [])] + (list(body) if body else [])
        for name in names:
            for evil in INJECTIONS:
                url, p, b = _valid_request(path, op, pk)
                if "{" + name + "}" in path:
                    url = path.replace("{" + name + "}", quote(evil, safe=""))
                    for other in op.get("parameters", []):
                        if other["in"] == "path" and other["name"] != name:
                            url = url.replace("{" + other["name"] + "}", pk)
                elif b is not None and name in b:
                    b = {**b, name: evil}
                else:
                    p = {**p, name: evil}
                r = client.request(method, url, params=p, json=b, headers=headers)
                assert r.status_code < 500, f"{method} {url} {name}={evil[:30]!r} as {role}: {r.status_code} {r.text[:300]}"
                sent += 1
    assert sent >= 40
    assert _counts(eng) == before, "a hostile request changed resident data"
    with eng.connect() as c:
        assert int(c.execute(sa.text("SELECT COUNT(*) FROM api_audit")).scalar_one()) > 0  # not dropped


def test_fhir_bypass_and_other_clinicians_resident(services):
    """The FHIR app: relationship scope, non-clinical roles, and every bypass header (the API tests try one)."""
    from transforms.recognition.demo_data import PK_B

    client, tok, _, pk = services
    url = f"/fhir/Patient/{pk}/$everything"
    ok = client.get(url, headers={"Authorization": f"Bearer {tok['clinician']}", "X-Purpose-Of-Use": "treatment"})
    assert ok.status_code == 200, ok.text
    other = client.get(f"/fhir/Patient/{PK_B}/$everything",
                       headers={"Authorization": f"Bearer {tok['clinician']}", "X-Purpose-Of-Use": "treatment"})
    assert other.status_code == 403 and other.json()["resourceType"] == "OperationOutcome"
    for role in ("manager", "admin"):
        r = client.get(url, headers={"Authorization": f"Bearer {tok[role]}", "X-Purpose-Of-Use": "treatment"})
        assert r.status_code == 403, (role, r.status_code)
    for headers in BYPASS:
        r = client.get(url, headers={**headers, "X-Purpose-Of-Use": "treatment"})
        assert r.status_code == 401 and r.json()["resourceType"] == "OperationOutcome", (headers, r.text[:200])
