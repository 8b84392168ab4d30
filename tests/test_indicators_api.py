"""The indicator service over HTTP (TestClient): auth, roles, bad input, injection, audit.

The warehouse is the hand-built one of ``tests/test_indicators_more.py`` after one stored
run, so every value the API returns is one worked out by hand there. The committed access policy
(``mappings/recognition/access.yaml``) is used as is.
"""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from plugins.rhp_api.indicators_app import create_app
from tests.marts_ddl import insert
from tests.test_indicators import NOV, T0, T1, _lin
from tests.test_indicators_more import build_more
from transforms.api_security.roles import Role, load_policy
from transforms.api_security.tokens import create_token
from transforms.indicators.model import load_indicators
from transforms.indicators.store import run_indicators
from transforms.warehouse.db import get_engine

pytestmark = pytest.mark.local
# who may read indicators and drill into their rows (mappings/recognition/access.yaml)
GRANTS = {Role.manager: ["indicators", "indicators_drilldown", "quality_report"],
          Role.quality_officer: ["indicators", "quality_report"],  # values, not the rows behind them
          Role.admin: ["indicators", "indicators_drilldown", "quality_report"]}
LONG_KEY = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"  # a real-looking person key
INJECTIONS = ["' OR '1'='1", "1; DROP TABLE indicator_value; --", "\" OR 1=1 --",
              "%' UNION SELECT * FROM api_audit --", "x" * 5000, "\x00", "${jndi:ldap://x}", "2026-11' --"]
TABLES = ["indicator_value", "indicator_run", "fact_encounter", "fact_referral", "dim_person", "api_audit"]


def test_committed_policy_grants_the_indicator_actions():
    """access.yaml gives managers and admins drill-down, quality officers values only, clinicians nothing."""
    policy = load_policy()
    for role, actions in GRANTS.items():
        assert set(actions) <= set(policy.roles[role].actions), role
    assert not policy.can(Role.quality_officer, "indicators_drilldown")
    assert not any(policy.can(Role.clinician, a) for a in ("indicators", "indicators_drilldown", "quality_report"))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    """The hand-built warehouse after one stored run, built once; each test gets a copy."""
    path = tmp_path_factory.mktemp("ind_api") / "base.duckdb"
    eng = build_more(f"duckdb:///{path}")
    with eng.begin() as c:
        insert(c, "dim_person", [dict(person_key=LONG_KEY, sex="1", key_populations="", ehr_institution="C1")])
        insert(c, "fact_encounter", [dict(
            encounter_id="E99", person_key=LONG_KEY, institution_code="C1", encounter_class="O",
            start_time=datetime(2026, 11, 29, 9), practitioner_id="D1", total_cost=10, drug_cost=0, service_cost=5,
            is_appointment=False, **_lin(99))])
        run_indicators(c, load_indicators().values(), [NOV], as_of=T0, trigger="test")
    with eng.connect() as c:
        c.exec_driver_sql("CHECKPOINT")
    eng.dispose()
    return path


@pytest.fixture()
def svc(rhp_home, tmp_path, warehouse):
    shutil.copy(warehouse, tmp_path / "api.duckdb")
    url = f"duckdb:///{tmp_path}/api.duckdb"
    tokens = tmp_path / "tokens.json"
    tok = {"mgr": create_token("mgr", "manager", None, tokens),
           "qo": create_token("qo", "quality_officer", None, tokens),
           "dr": create_token("dr", "clinician", "C1", tokens)}
    return TestClient(create_app(url, tokens)), tok, get_engine(url)


def h(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def audit_rows(eng) -> list:
    with eng.connect() as c:
        return c.execute(sa.text("SELECT * FROM api_audit ORDER BY event_time")).fetchall()


def counts(eng) -> dict[str, int]:
    with eng.connect() as c:
        return {t: c.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one() for t in TABLES}


def test_list_definition_values_drilldown_as_manager(svc):
    client, tok, eng = svc
    inds = load_indicators()
    r = client.get("/indicators", headers=h(tok["mgr"]))
    assert r.status_code == 200, r.text
    assert sorted(i["code"] for i in r.json()) == sorted(inds)
    r = client.get("/indicators/OP_ALOS", headers=h(tok["mgr"]))
    assert r.status_code == 200 and r.json()["fingerprint"] == inds["OP_ALOS"].fingerprint
    assert r.json()["base_sql"] == inds["OP_ALOS"].base_sql
    # H1 discharges in November: E5 (4 days) and E7 (6 days) -> 5.0 (tests/test_indicators_more.py)
    r = client.get("/indicators/OP_ALOS/values", params={"period_type": "month", "period": "2026-11",
                                                        "dimension": "institution"}, headers=h(tok["mgr"]))
    assert r.status_code == 200, r.text
    vals = {v["dimension_value"]: v for v in r.json()["values"]}
    assert vals["H1"]["value"] == 5.0 and vals["H1"]["is_partial"] is False
    assert vals["C1"]["value"] == 5.5  # E9 3 days + E10 8 days over 2
    # a 0 % is a value; an empty denominator is null
    r = client.get("/indicators/OP_OUTPATIENT_INPATIENT_RATIO/values", params={"period": "2026-11"},
                   headers=h(tok["mgr"]))
    assert {v["dimension_value"]: v["value"] for v in r.json()["values"]}["C2"] is None
    # drill into D1's visits: E1, E2 and E99; the long person key is shortened
    r = client.get("/indicators/FD_DESIGNATED_VISIT_RATE/drilldown",
                   params={"period_type": "month", "period": "2026-11", "dimension": "doctor", "member": "D1"},
                   headers=h(tok["mgr"]))
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [x["row_id"] for x in rows] == ["E1", "E2", "E99"]
    assert all("person_key" not in x for x in rows)
    assert LONG_KEY not in r.text and LONG_KEY[:12] not in r.text
    assert rows[-1]["person_ref"] == LONG_KEY[:8] + "…"
    r = client.get("/indicators/FD_DESIGNATED_VISIT_RATE/drilldown",
                   params={"period": "2026-11", "dimension": "doctor", "member": "D1", "limit": "2"},
                   headers=h(tok["mgr"]))
    assert [x["row_id"] for x in r.json()["rows"]] == ["E1", "E2"]
    audit = audit_rows(eng)
    assert len(audit) == 6 and {a.outcome for a in audit} == {"allowed"}
    assert {a.principal for a in audit} == {"mgr"} and audit[-1].action == "indicators_drilldown"
    assert "FD_DESIGNATED_VISIT_RATE" in audit[-1].detail and "D1" in audit[-1].detail


@pytest.mark.parametrize("headers, why", [
    ({}, "missing credentials"),
    ({"Authorization": "Bearer rhp_nope_nope"}, "invalid"),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, "unsupported"),
    ({"Authorization": "Bearer "}, "empty"),
    ({"X-API-Key": "not-a-token"}, "invalid"),
])
def test_without_or_with_bad_token_is_401_and_audited(svc, headers, why):
    client, _, eng = svc
    for path in ["/indicators", "/indicators/OP_ALOS", "/indicators/OP_ALOS/values",
                 "/indicators/OP_ALOS/drilldown?period=2026-11&member=H1"]:
        r = client.get(path, headers=headers)
        assert r.status_code == 401 and why in r.json()["detail"], (path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
    audit = audit_rows(eng)
    assert len(audit) == 4 and {(a.outcome, a.http_status) for a in audit} == {("unauthenticated", 401)}


def test_role_without_the_action_is_403(svc):
    client, tok, eng = svc
    r = client.get("/indicators", headers=h(tok["dr"]))  # clinicians have no indicator action
    assert r.status_code == 403 and "may not indicators" in r.json()["detail"]
    r = client.get("/indicators/OP_ALOS/drilldown", params={"period": "2026-11", "member": "H1"},
                   headers=h(tok["qo"]))  # the quality officer sees values but not rows
    assert r.status_code == 403 and "indicators_drilldown" in r.json()["detail"]
    assert client.get("/indicators/OP_ALOS/values", headers=h(tok["qo"])).status_code == 200
    audit = audit_rows(eng)
    assert [(a.principal, a.outcome) for a in audit] == [("dr", "denied"), ("qo", "denied"), ("qo", "allowed")]


@pytest.mark.parametrize("path, params, word", [
    ("/indicators/OP_ALOS/values", {"period_type": "week"}, "period_type"),
    ("/indicators/OP_ALOS/values", {"period_type": "month", "period": "2026-13"}, "does not match"),
    ("/indicators/OP_ALOS/values", {"period_type": "month", "period": "2026Q4"}, "does not match"),
    ("/indicators/OP_ALOS/values", {"period_type": "quarter", "period": "2026Q5"}, "does not match"),
    ("/indicators/OP_ALOS/values", {"dimension": "ward"}, "no dimension"),
    ("/indicators/OP_ALOS/values", {"published": "yes"}, "published must be"),
    ("/indicators/TC_PRIMARY_CARE_SHARE/values", {"dimension": "institution"}, "no dimension"),
    ("/indicators/OP_ALOS/drilldown", {"member": "H1"}, "period is required"),
    ("/indicators/OP_ALOS/drilldown", {"period": "2026-11"}, "member is required"),
    ("/indicators/OP_ALOS/drilldown", {"period": "2026-11", "member": "H1", "limit": "ten"}, "limit"),
    ("/indicators/OP_ALOS/drilldown", {"period": "2026-11", "member": "H1", "limit": "1e3"}, "limit"),
    ("/indicators/OP_ALOS/drilldown", {"period": "2026-11", "member": "H1", "dimension": "doctor"}, "no dimension"),
    ("/quality/2026-13", {}, "YYYY-MM"),
    ("/quality/2026-11", {"lang": "fr"}, "lang"),
])
def test_bad_parameters_are_400_with_a_clear_message(svc, path, params, word):
    client, tok, eng = svc
    r = client.get(path, params=params, headers=h(tok["mgr"]))
    assert r.status_code == 400 and word in r.json()["detail"], r.text
    (row,) = audit_rows(eng)
    assert (row.outcome, row.http_status) == ("bad_request", 400)


def test_unknown_indicator_is_404(svc):
    client, tok, eng = svc
    for path in ["/indicators/NOPE", "/indicators/NOPE/values", "/indicators/NOPE/drilldown?period=2026-11&member=x"]:
        r = client.get(path, headers=h(tok["mgr"]))
        assert r.status_code == 404 and "unknown indicator 'NOPE'" in r.json()["detail"], r.text
    assert [(a.outcome, a.http_status) for a in audit_rows(eng)] == [("not_found", 404)] * 3


@pytest.mark.parametrize("param", ["code", "period_type", "period", "dimension", "member", "limit", "lang",
                                   "published"])
@pytest.mark.parametrize("evil", INJECTIONS)
def test_sql_injection_in_every_parameter(svc, param, evil):
    client, tok, eng = svc
    before = counts(eng)
    good = {"period_type": "month", "period": "2026-11", "dimension": "institution", "member": "H1", "limit": "5"}
    if param == "code":
        evil_code = quote(evil, safe="")  # percent-encoded, as a client must send it
        calls = [(f"/indicators/{evil_code}", {}), (f"/indicators/{evil_code}/values", {}),
                 (f"/indicators/{evil_code}/drilldown", good)]
    elif param == "lang":
        calls = [("/quality/2026-11", {"lang": evil}), (f"/quality/{quote(evil, safe='')}", {})]
    else:
        bad = {**good, param: evil}
        calls = [] if param == "published" else [("/indicators/OP_ALOS/drilldown", bad)]
        if param in ("period_type", "period", "dimension", "published"):
            calls.append(("/indicators/OP_ALOS/values",
                          {k: bad[k] for k in ("period_type", "period", "dimension", "published") if k in bad}))
    for path, params in calls:
        r = client.get(path, params=params, headers=h(tok["mgr"]))
        assert r.status_code in (400, 404) or (param == "member" and r.status_code == 200), (path, r.status_code, r.text)
        if r.status_code == 200:  # a member is a bound value: it matches nobody
            assert r.json()["rows"] == []
        assert not any(w in r.text for w in ("fact_", "Traceback", "duckdb", "psycopg"))  # no SQL or stack
    after = counts(eng)
    assert {t: after[t] for t in TABLES if t != "api_audit"} == {t: before[t] for t in TABLES if t != "api_audit"}
    # tables intact; every call audited, except a path whose decoded '/' matches no route at all (a plain 404)
    routed = [p for p, _ in calls if not ("/" in evil and quote(evil, safe="") in p)]
    assert after["api_audit"] == before["api_audit"] + len(routed)


def test_every_call_writes_one_audit_row(svc):
    client, tok, eng = svc
    calls = [("/indicators", "mgr"), ("/indicators/OP_ALOS", "qo"), ("/indicators/NOPE", "mgr"),
             ("/indicators/OP_ALOS/values?period_type=week", "mgr"), ("/indicators/OP_ALOS/values", "dr"),
             ("/indicators/OP_ALOS/drilldown?period=2026-11&member=H1", "mgr"), ("/indicators", None)]
    statuses = []
    for path, who in calls:
        statuses.append(client.get(path, headers=h(tok[who]) if who else {}).status_code)
    assert statuses == [200, 200, 404, 400, 403, 200, 401]
    audit = audit_rows(eng)
    assert [a.http_status for a in audit] == statuses
    assert [a.principal for a in audit] == ["mgr", "qo", "mgr", "mgr", "dr", "mgr", None]
    assert all(a.path.startswith("/indicators") for a in audit)
    assert client.get("/health").status_code == 200  # health is not a data call: no audit row
    assert len(audit_rows(eng)) == len(calls)


def test_published_values_are_the_published_run(svc):
    client, tok, eng = svc
    from transforms.indicators.store import publish

    ind = load_indicators()["CD_HTN_CONTROL_RATE"]
    with eng.begin() as c:
        first = c.execute(sa.text("SELECT run_id FROM indicator_run")).scalar_one()
        publish(c, first, ind.code, NOV, by="officer")
        insert(c, "fact_followup", [dict(followup_id="F13", person_key="P1", institution_code="C1", disease="htn",
                                         followup_date=datetime(2026, 11, 29).date(), mode="clinic", sbp=160, dbp=100,
                                         is_standard=True, **_lin(13, T1))])
        run_indicators(c, [ind], [NOV], as_of=T1, trigger="test")
    q = {"period": "2026-11", "dimension": "region"}
    latest = client.get(f"/indicators/{ind.code}/values", params=q, headers=h(tok["mgr"])).json()
    pub = client.get(f"/indicators/{ind.code}/values", params={**q, "published": "true"}, headers=h(tok["mgr"])).json()
    # at T0: P1 F5 130/80 yes, P3 F7 150/85 no = 50 %; at T1: P1 F13 160/100 no, P3 F12 120/70 yes = 50 % again,
    # so the value is the same but the run differs; the published answer names the published run
    assert (latest["values"][0]["value"], pub["values"][0]["value"]) == (50.0, 50.0)
    assert pub["values"][0]["run_id"] == first != latest["values"][0]["run_id"]
    assert pub["published_only"] is True and latest["published_only"] is False
