"""Index, lookup, outcomes and rates on DuckDB with the demo region."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa

from transforms.recognition.demo_data import DEMO_AT, EXPECTED, PK_A, seed_demo
from transforms.recognition.fhir_views import everything_bundle, results_bundle
from transforms.recognition.index import refresh_index
from transforms.recognition.lookup import LookupInputError, lookup
from transforms.recognition.outcomes import OutcomeError, recognition_rates, record_outcome
from transforms.settings import load_settings
from transforms.warehouse.db import get_engine, migrate

pytestmark = pytest.mark.local
ALL_ITEMS = ["HR-L001", "4548-4", "14682-9", "3016-3", "1988-5", "EX-CT-CHEST", "EX-ECG-12"]


@pytest.fixture()
def engine(rhp_home):
    eng = get_engine(load_settings().warehouse_url)
    migrate(eng)
    with eng.begin() as c:
        seed_demo(c)
        refresh_index(c, None)
    return eng


def test_full_refresh_indexes_unified_codes_only(engine):
    with engine.connect() as c:
        ids = {r[0] for r in c.execute(sa.text("SELECT result_id FROM recognition_index"))}
    assert ids == set(EXPECTED) | {"L10"}  # L9 has only a local code


def test_incremental_refresh_rewrites_reloaded_rows_only(engine):
    since = datetime(2026, 11, 1)
    with engine.begin() as c:
        c.execute(sa.text("UPDATE fact_lab_result SET status = 'cancelled', loaded_at = :t WHERE observation_id = 'L2'"),
                  {"t": since + timedelta(hours=1)})
        c.execute(sa.text("UPDATE fact_lab_result SET status = 'cancelled' WHERE observation_id = 'L8'"))  # not reloaded
        n = refresh_index(c, since)
        st = dict(c.execute(sa.text("SELECT result_id, status FROM recognition_index")).fetchall())
    assert n == 1
    assert st["L2"] == "cancelled" and st["L8"] == "corrected"
    with engine.begin() as c:
        assert refresh_index(c, None) == 11


def test_lookup_statuses_and_fields(engine):
    with engine.begin() as c:
        res = lookup(c, PK_A, ALL_ITEMS, "HOSP-A", at=DEMO_AT, principal="dr_a")
    got = {r.result_id: r.recognition_status for r in res.results}
    assert got == EXPECTED
    assert res.items[0] == "14749-6"  # HR code resolved to LOINC
    l2 = next(r for r in res.results if r.result_id == "L2")
    assert (l2.value_num, l2.unit, l2.ref_low, l2.ref_high) == (5.4, "mmol/L", 3.9, 6.1)
    assert (l2.performing_institution, l2.reporting_institution, l2.hr_scope) == ("LAB-C", "LAB-C", "city:420100")
    e1 = next(r for r in res.results if r.result_id == "E1")
    assert e1.link == "https://film.region.example.cn/s/E1" and e1.study_uid.startswith("1.2.156")
    e2 = next(r for r in res.results if r.result_id == "E2")
    assert e2.link == "urn:oid:1.2.156.112605.1.20261001.2"


def test_lookup_records_one_row_per_item(engine):
    with engine.begin() as c:
        res = lookup(c, PK_A, ["14749-6", "EX-ECG-12"], "HOSP-A", at=DEMO_AT)
        rows = {r.item_code: r for r in c.execute(sa.text(
            "SELECT * FROM recognition_lookup WHERE lookup_id = :l"), {"l": res.lookup_id})}
    assert rows["14749-6"].n_candidates == 3 and rows["14749-6"].n_recognisable == 1
    assert rows["14749-6"].best_result_id == "L2"
    assert rows["EX-ECG-12"].n_recognisable_external == 1


@pytest.mark.parametrize("kw,word", [
    ({"person_key": "' OR 1=1 --"}, "person_key"),
    ({"items": ["14749-6'; DROP TABLE recognition_index; --"]}, "items"),
    ({"items": []}, "items"),
    ({"requesting_institution": "HOSP-A' OR '1'='1"}, "requesting_institution"),
])
def test_bad_parameters_are_named(engine, kw, word):
    args = {"person_key": PK_A, "items": ["14749-6"], "requesting_institution": "HOSP-A"} | kw
    with engine.begin() as c, pytest.raises(LookupInputError) as exc:
        lookup(c, args["person_key"], args["items"], args["requesting_institution"], at=DEMO_AT)
    assert word in str(exc.value)


def test_outcomes_rates_and_cost(engine):
    with engine.begin() as c:
        lk = [lookup(c, PK_A, ["14749-6", "EX-CT-CHEST", "4548-4"], "HOSP-A", at=DEMO_AT) for _ in range(3)]
        at = DEMO_AT + timedelta(minutes=5)
        record_outcome(c, lk[0].lookup_id, "HR-L001", "accepted", at=at)  # eligible, accepted, 6.00
        record_outcome(c, lk[0].lookup_id, "EX-CT-CHEST", "accepted", at=at)  # eligible, accepted, 200.00 (H2 price)
        record_outcome(c, lk[1].lookup_id, "14749-6", "retested", "emergency", at=at)  # justified repeat
        record_outcome(c, lk[2].lookup_id, "14749-6", "retested", "unexplained", at=at)  # unjustified repeat
        record_outcome(c, lk[0].lookup_id, "4548-4", "retested", "condition_changed", at=at)  # not eligible
        with pytest.raises(OutcomeError) as dup:
            record_outcome(c, lk[0].lookup_id, "14749-6", "accepted", at=at)
        with pytest.raises(OutcomeError) as bad:
            record_outcome(c, lk[1].lookup_id, "EX-CT-CHEST", "retested", "because", at=at)
        with pytest.raises(OutcomeError) as other:
            record_outcome(c, lk[1].lookup_id, "EX-CT-CHEST", "accepted", at=at, institution="HOSP-B")
        rates = recognition_rates(c, date(2026, 10, 1), date(2026, 11, 1))
        by_item = {r["group"]: r for r in recognition_rates(c, date(2026, 10, 1), date(2026, 11, 1), by="item_code")}
        by_month = recognition_rates(c, date(2026, 10, 1), date(2026, 11, 1), by="month")
        empty = recognition_rates(c, date(2026, 11, 1), date(2026, 12, 1))
    assert (dup.value.status, bad.value.status, other.value.status) == (409, 400, 403)
    (r,) = rates
    assert (r["outcomes"], r["eligible_cases"], r["accepted"]) == (5, 4, 2)
    assert (r["repeat_tests"], r["repeats_justified"], r["repeats_unjustified"]) == (2, 1, 1)
    assert r["recognition_rate"] == 0.5 and r["repeat_test_rate"] == 0.25
    assert r["cost_avoided_yuan"] == "206.00"
    assert by_item["14749-6"]["eligible_cases"] == 3 and by_item["4548-4"]["eligible_cases"] == 0
    assert by_month[0]["group"] == "2026-10-01"
    assert empty == []
    with pytest.raises(ValueError):
        recognition_rates(None, date(2026, 10, 1), date(2026, 11, 1), by="1; DROP TABLE x")  # type: ignore[arg-type]


def test_fhir_bundles_validate_with_r4b(engine):
    from fhir.resources.R4B.bundle import Bundle

    with engine.begin() as c:
        res = lookup(c, PK_A, ALL_ITEMS, "HOSP-A", at=DEMO_AT, record=False)
        c.execute(sa.text(
            "INSERT INTO fhir_resource (id, resource_type, person_key, resource, content_hash, batch_id, source, "
            "institution_code, partition_date, loaded_at) VALUES (:id, 'Patient', :pk, :r, 'h', 'b', 'fhir', "
            "'HOSP-A', DATE '2026-10-01', TIMESTAMP '2026-10-01 00:00:00')"),
            {"id": "p-a", "pk": PK_A, "r": '{"resourceType": "Patient", "id": "p-a", "gender": "female"}'})
        everything = everything_bundle(c, PK_A)
    bundle = Bundle.model_validate(results_bundle(res))
    kinds = sorted(e.resource.get_resource_type() for e in bundle.entry)
    assert kinds.count("DiagnosticReport") == 2 and kinds.count("Observation") == 8
    obs = next(e.resource for e in bundle.entry if e.resource.id == "L2")
    assert float(obs.valueQuantity.value) == 5.4
    assert obs.extension[0].extension[0].valueCode == "recognisable"
    ev = Bundle.model_validate(everything)
    assert [e.resource.id for e in ev.entry] == ["p-a"]
