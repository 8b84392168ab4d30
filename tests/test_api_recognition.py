"""The HTTP services through TestClient: auth, roles, relationship scope, audit, bad input, FHIR."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from plugins.rhp_api.fhir_app import create_app as create_fhir_app
from plugins.rhp_api.recognition_app import create_app
from transforms.api_security.tokens import create_token
from transforms.recognition.demo_data import DEMO_AT, EXPECTED, PK_A, PK_B, seed_demo
from transforms.recognition.index import refresh_index
from transforms.settings import load_settings
from transforms.warehouse.db import get_engine, migrate

pytestmark = pytest.mark.local
ITEMS = "HR-L001,4548-4,14682-9,3016-3,1988-5,EX-CT-CHEST,EX-ECG-12"
TREAT = {"X-Purpose-Of-Use": "treatment"}
INJECTIONS = ["' OR '1'='1", "1; DROP TABLE api_audit; --", "%' UNION SELECT * FROM api_audit --", "x" * 5000,
              "\x00"]


@pytest.fixture()
def svc(rhp_home, tmp_path):
    url = load_settings().warehouse_url
    eng = get_engine(url)
    migrate(eng)
    with eng.begin() as c:
        seed_demo(c)
        refresh_index(c, None)
    tokens = tmp_path / "tokens.json"
    tok = {
        "dr_a": create_token("dr_a", "clinician", "HOSP-A", tokens),
        "dr_b": create_token("dr_b", "clinician", "HOSP-B", tokens),
        "qo": create_token("qo", "quality_officer", None, tokens),
        "mgr": create_token("mgr", "manager", None, tokens),
        "admin": create_token("admin", "admin", None, tokens),
    }
    client = TestClient(create_app(url, tokens, clock=lambda: DEMO_AT))
    return client, tok, eng, tokens


def auth(token: str, **extra) -> dict:
    return {"Authorization": f"Bearer {token}", **TREAT, **extra}


def audit_rows(eng) -> list:
    with eng.connect() as c:
        return c.execute(sa.text("SELECT * FROM api_audit ORDER BY event_time")).fetchall()


def test_tokens_are_stored_hashed_only(svc):
    _, tok, _, tokens = svc
    text = tokens.read_text()
    assert all(t not in text for t in tok.values())
    assert '"sha256"' in text


def test_lookup_as_treating_clinician(svc):
    client, tok, eng, _ = svc
    r = client.get("/lookup", params={"person_key": PK_A, "items": ITEMS}, headers=auth(tok["dr_a"]))
    assert r.status_code == 200, r.text
    body = r.json()
    assert {x["result_id"]: x["recognition_status"] for x in body["results"]} == EXPECTED
    l3 = next(x for x in body["results"] if x["result_id"] == "L3")
    assert l3["reason"].startswith("expired 3 days ago")
    (row,) = audit_rows(eng)
    assert (row.outcome, row.http_status, row.principal, row.role, row.access_basis) == (
        "allowed", 200, "dr_a", "clinician", "encounter")
    assert row.returned_count == 10 and "L2" in row.returned_ids.split(";")
    assert "recognisable=4" in row.statuses and row.purpose == "treatment" and row.person_key == PK_A


def test_api_key_header_works_too(svc):
    client, tok, _, _ = svc
    r = client.get("/lookup", params={"person_key": PK_A, "items": "14749-6"},
                   headers={"X-API-Key": tok["dr_a"], **TREAT})
    assert r.status_code == 200 and r.json()["count"] == 3


def test_fhir_format_bundle_validates(svc):
    from fhir.resources.R4B.bundle import Bundle

    client, tok, _, _ = svc
    r = client.get("/lookup", params={"person_key": PK_A, "items": ITEMS, "format": "fhir"}, headers=auth(tok["dr_a"]))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/fhir+json")
    b = Bundle.model_validate(r.json())
    assert len(b.entry) == len(EXPECTED)


@pytest.mark.parametrize("headers,why", [
    ({}, "missing credentials"),
    ({"Authorization": "Bearer"}, "empty bearer token"),
    ({"Authorization": "Bearer "}, "empty bearer token"),
    ({"Authorization": "Bearer rhp_deadbeef_not-a-real-token"}, "invalid or disabled token"),
    ({"Authorization": "Basic ZHJfYTpwYXNzd29yZA=="}, "unsupported authorization scheme"),
    ({"Authorization": "Token abc"}, "unsupported authorization scheme"),
    ({"X-API-Key": "guess"}, "invalid or disabled token"),
])
def test_auth_bypass_attempts_get_401_and_are_audited(svc, headers, why):
    client, _, eng, _ = svc
    r = client.get("/lookup", params={"person_key": PK_A, "items": "14749-6"}, headers={**headers, **TREAT})
    assert r.status_code == 401 and why in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"
    (row,) = audit_rows(eng)
    assert (row.outcome, row.http_status, row.principal) == ("unauthenticated", 401, None)


def test_token_hash_itself_is_not_a_credential(svc):
    client, tok, _, tokens = svc
    import json

    stored_hash = json.loads(tokens.read_text())[0]["sha256"]
    r = client.get("/lookup", params={"person_key": PK_A, "items": "14749-6"}, headers=auth(stored_hash))
    assert r.status_code == 401


def test_another_clinicians_resident_is_403_and_audited(svc):
    client, tok, eng, _ = svc
    r = client.get("/lookup", params={"person_key": PK_B, "items": "14749-6"}, headers=auth(tok["dr_a"]))
    assert r.status_code == 403 and "no encounter or signing relationship" in r.json()["detail"]
    r2 = client.get("/lookup", params={"person_key": PK_B, "items": "14749-6"}, headers=auth(tok["dr_b"]))
    assert r2.status_code == 200 and r2.json()["results"][0]["result_id"] == "L10"
    rows = audit_rows(eng)
    assert [(x.principal, x.outcome, x.access_basis) for x in rows] == [
        ("dr_a", "denied", None), ("dr_b", "allowed", "signing")]
    with eng.connect() as c:  # a denied lookup is not counted as a lookup
        assert c.execute(sa.text("SELECT COUNT(*) FROM recognition_lookup")).scalar() == 1


def test_clinician_cannot_act_for_another_institution(svc):
    client, tok, _, _ = svc
    r = client.get("/lookup", params={"person_key": PK_A, "items": "14749-6", "requesting_institution": "HOSP-B"},
                   headers=auth(tok["dr_a"]))
    assert r.status_code == 403 and "may not look up for HOSP-B" in r.json()["detail"]


@pytest.mark.parametrize("role", ["qo", "mgr", "admin"])
def test_non_clinical_roles_get_no_resident_data(svc, role):
    client, tok, _, _ = svc
    r = client.get("/lookup", params={"person_key": PK_A, "items": "14749-6"}, headers=auth(tok[role]))
    assert r.status_code == 403


@pytest.mark.parametrize("params,headers,status,word", [
    ({"person_key": PK_A, "items": "14749-6"}, {}, 400, "purpose"),
    ({"person_key": PK_A, "items": "14749-6"}, {"X-Purpose-Of-Use": "marketing"}, 403, "purpose"),
    ({"items": "14749-6"}, TREAT, 400, "person_key"),
    ({"person_key": PK_A}, TREAT, 400, "items"),
    ({"person_key": PK_A, "items": "14749-6", "format": "xml"}, TREAT, 400, "format"),
    ({"person_key": PK_A, "items": ",".join(["14749-6"] * 51)}, TREAT, 400, "at most"),
])
def test_bad_parameters_are_4xx_with_a_clear_message(svc, params, headers, status, word):
    client, tok, eng, _ = svc
    h = {"Authorization": f"Bearer {tok['dr_a']}", **headers}
    r = client.get("/lookup", params=params, headers=h)
    assert r.status_code == status and word in r.json()["detail"]
    assert audit_rows(eng)[-1].http_status == status


@pytest.mark.parametrize("param", ["person_key", "items", "requesting_institution", "purpose", "format"])
@pytest.mark.parametrize("evil", INJECTIONS)
def test_sql_injection_in_every_parameter(svc, param, evil):
    client, tok, eng, _ = svc
    params = {"person_key": PK_A, "items": "14749-6", "requesting_institution": "HOSP-A", "format": "json"}
    headers = {"Authorization": f"Bearer {tok['dr_a']}"}
    if param == "purpose":
        params["purpose"] = evil
    else:
        params[param] = evil
        headers.update(TREAT)
    r = client.get("/lookup", params=params, headers=headers)
    assert 400 <= r.status_code < 500, r.text
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM recognition_index")).scalar() == 11
        assert c.execute(sa.text("SELECT COUNT(*) FROM api_audit")).scalar() == 1


@pytest.mark.parametrize("evil", INJECTIONS[:4])
def test_sql_injection_in_rates_outcomes_and_fhir(svc, evil):
    client, tok, eng, tokens = svc
    r1 = client.get("/rates", params={"period_start": evil, "period_end": "2026-11-01", "by": "none"},
                    headers=auth(tok["mgr"]))
    r2 = client.get("/rates", params={"period_start": "2026-10-01", "period_end": "2026-11-01", "by": evil},
                    headers=auth(tok["mgr"]))
    r3 = client.post("/outcomes", json={"lookup_id": evil, "item_code": "14749-6", "outcome": "accepted"},
                     headers=auth(tok["dr_a"]))
    r4 = client.post("/outcomes", json={"lookup_id": "x", "item_code": "14749-6", "outcome": evil},
                     headers=auth(tok["dr_a"]))
    fhir = TestClient(create_fhir_app(load_settings().warehouse_url, tokens, clock=lambda: DEMO_AT))
    r5 = fhir.get(f"/Patient/{evil}/$everything", headers=auth(tok["dr_a"]))
    assert [r.status_code for r in (r1, r2, r3, r4)] == [400, 400, 404, 400]
    assert r5.status_code in (400, 404)
    with eng.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM api_audit")).scalar() >= 4


def test_outcome_endpoint_and_rates(svc):
    client, tok, eng, _ = svc
    lk = client.get("/lookup", params={"person_key": PK_A, "items": "14749-6,EX-CT-CHEST"},
                    headers=auth(tok["dr_a"])).json()["lookup_id"]
    ok = client.post("/outcomes", json={"lookup_id": lk, "item_code": "HR-L001", "outcome": "accepted"},
                     headers=auth(tok["dr_a"]))
    assert ok.status_code == 200 and ok.json()["eligible"] is True and ok.json()["price_yuan"] == "6.00"
    assert "person_key" not in ok.json()
    re = client.post("/outcomes", json={"lookup_id": lk, "item_code": "EX-CT-CHEST", "outcome": "retested",
                                        "reason_code": "patient_request"}, headers=auth(tok["dr_a"]))
    assert re.status_code == 200 and re.json()["justified"] is True
    dup = client.post("/outcomes", json={"lookup_id": lk, "item_code": "EX-CT-CHEST", "outcome": "accepted"},
                      headers=auth(tok["dr_a"]))
    other = client.post("/outcomes", json={"lookup_id": lk, "item_code": "14749-6", "outcome": "accepted"},
                        headers=auth(tok["dr_b"]))
    missing = client.post("/outcomes", json={"lookup_id": lk}, headers=auth(tok["dr_a"]))
    assert (dup.status_code, other.status_code, missing.status_code) == (409, 403, 400)
    assert "item_code" in missing.json()["detail"]
    rates = client.get("/rates", params={"period_start": "2026-10-01", "period_end": "2026-11-01"},
                       headers=auth(tok["qo"]))
    assert rates.status_code == 200
    (r,) = rates.json()["rates"]
    assert (r["eligible_cases"], r["accepted"], r["recognition_rate"], r["cost_avoided_yuan"]) == (2, 1, 0.5, "6.00")
    assert client.get("/rates", params={"period_start": "2026-10-01", "period_end": "2026-11-01"},
                      headers=auth(tok["dr_a"])).status_code == 403
    outcomes = [x.outcome for x in audit_rows(eng)]
    assert outcomes.count("allowed") == 4 and len(outcomes) == 8


def test_audit_read_is_for_admin_and_quality(svc):
    client, tok, _, _ = svc
    client.get("/lookup", params={"person_key": PK_A, "items": "14749-6"}, headers=auth(tok["dr_a"]))
    a = client.get("/audit", headers=auth(tok["admin"]))
    assert a.status_code == 200 and a.json()["audit"][0]["action"] == "lookup"
    assert client.get("/audit", headers=auth(tok["dr_a"])).status_code == 403
    assert client.get("/audit", params={"limit": "x"}, headers=auth(tok["admin"])).status_code == 400


def test_fhir_everything(svc):
    from fhir.resources.R4B.bundle import Bundle

    client, tok, eng, tokens = svc
    with eng.begin() as c:
        c.execute(sa.text(
            "INSERT INTO fhir_resource (id, resource_type, person_key, resource, content_hash, batch_id, source, "
            "institution_code, partition_date, loaded_at) VALUES ('p-a', 'Patient', :pk, :r, 'h', 'b', 'fhir', "
            "'HOSP-A', DATE '2026-10-01', TIMESTAMP '2026-10-01 00:00:00')"),
            {"pk": PK_A, "r": '{"resourceType": "Patient", "id": "p-a"}'})
    fhir = TestClient(create_fhir_app(load_settings().warehouse_url, tokens, clock=lambda: DEMO_AT))
    r = fhir.get(f"/Patient/{PK_A}/$everything", headers=auth(tok["dr_a"]))
    assert r.status_code == 200, r.text
    assert [e.resource.id for e in Bundle.model_validate(r.json()).entry] == ["p-a"]
    denied = fhir.get(f"/Patient/{PK_A}/$everything", headers=auth(tok["dr_b"]))
    assert denied.status_code == 403 and denied.json()["resourceType"] == "OperationOutcome"
    assert fhir.get(f"/Patient/{PK_A}/$everything", headers={**TREAT}).status_code == 401
    assert [x.outcome for x in audit_rows(eng)] == ["allowed", "denied", "unauthenticated"]


def test_standalone_app_serves_under_the_plugin_prefix(svc):
    from plugins.rhp_api.serve import build

    client = TestClient(build("recognition", load_settings().warehouse_url))
    assert client.get("/rhp-recognition/health").json() == {"status": "ok"}
    assert TestClient(build("fhir")).get("/fhir/metadata").json()["fhirVersion"] == "4.3.0"


def test_token_command_prints_a_token_once(tmp_path, capsys):
    from transforms.api_security.tokens import load_tokens, main

    f = tmp_path / "t.json"
    assert main(["create", "--principal", "p", "--role", "manager", "--file", str(f)]) == 0
    token = capsys.readouterr().out.strip()
    assert token.startswith("rhp_") and token not in f.read_text()
    assert len(load_tokens(f)) == 1
    with pytest.raises(ValueError):
        main(["create", "--principal", "p", "--role", "clinician", "--file", str(f)])


def test_internal_error_is_500_without_sql_text_and_audited(svc, monkeypatch):
    import plugins.rhp_api.recognition_app as mod

    def broken(*a, **k):
        raise sa.exc.ProgrammingError("SELECT secret FROM recognition_index", {}, Exception("boom"))

    monkeypatch.setattr(mod, "lookup", broken)
    client, tok, eng, _ = svc
    r = client.get("/lookup", params={"person_key": PK_A, "items": "14749-6"}, headers=auth(tok["dr_a"]))
    assert r.status_code == 500 and "SELECT" not in r.text and "internal error (audit id" in r.json()["detail"]
    (row,) = audit_rows(eng)
    assert (row.outcome, row.http_status, row.detail) == ("error", 500, "internal error: ProgrammingError")
