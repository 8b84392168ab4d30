"""PostgreSQL: migration, append-only audit enforced by the database, lookup and injection through the API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from plugins.rhp_api.recognition_app import create_app
from transforms.api_security.audit import AuditEvent, write_audit
from transforms.api_security.tokens import create_token
from transforms.recognition.demo_data import DEMO_AT, EXPECTED, PK_A, PK_B, seed_demo
from transforms.recognition.index import refresh_index
from transforms.warehouse.db import get_engine, migrate

pytestmark = pytest.mark.postgres


@pytest.fixture()
def pg(pg_url):
    eng = get_engine(pg_url)
    migrate(eng)
    with eng.begin() as c:
        seed_demo(c)
        refresh_index(c, None)
    return eng


@pytest.mark.parametrize("stmt", [
    "UPDATE api_audit SET outcome = 'allowed'",
    "DELETE FROM api_audit",
    "TRUNCATE api_audit",
])
def test_audit_is_append_only_on_postgres(pg, stmt):
    write_audit(pg, AuditEvent(action="lookup", outcome="denied", http_status=403, principal="x"))
    with pytest.raises(sa.exc.DBAPIError) as exc, pg.begin() as c:
        c.execute(sa.text(stmt))
    assert "append-only" in str(exc.value)
    with pg.connect() as c:
        assert c.execute(sa.text("SELECT outcome FROM api_audit")).scalars().all() == ["denied"]


def test_lookup_and_injection_on_postgres(pg, pg_url, tmp_path):
    tokens = tmp_path / "t.json"
    tok = create_token("dr_a", "clinician", "HOSP-A", tokens)
    client = TestClient(create_app(pg_url, tokens, clock=lambda: DEMO_AT))
    h = {"Authorization": f"Bearer {tok}", "X-Purpose-Of-Use": "treatment"}
    items = "HR-L001,4548-4,14682-9,3016-3,1988-5,EX-CT-CHEST,EX-ECG-12"
    r = client.get("/lookup", params={"person_key": PK_A, "items": items}, headers=h)
    assert r.status_code == 200, r.text
    assert {x["result_id"]: x["recognition_status"] for x in r.json()["results"]} == EXPECTED
    assert client.get("/lookup", params={"person_key": PK_B, "items": items}, headers=h).status_code == 403
    for evil in ["' OR '1'='1", "1'); DELETE FROM api_audit; --", "x%'--"]:
        for p in ("person_key", "items", "requesting_institution"):
            params = {"person_key": PK_A, "items": "14749-6", p: evil}
            assert client.get("/lookup", params=params, headers=h).status_code in (400, 403)
    with pg.connect() as c:
        assert c.execute(sa.text("SELECT COUNT(*) FROM recognition_index")).scalar() == 11
        assert c.execute(sa.text("SELECT COUNT(*) FROM api_audit")).scalar() == 11
