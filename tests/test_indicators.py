"""Indicators against values computed by hand on a small hand-built warehouse.

Covers the edge cases the issue names: an empty denominator, a membership change inside
the period (SCD-2 attribution by event date), and late data (history and revision).
"""

from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from tests.marts_ddl import create_marts, insert
from transforms.indicators.engine import compute, drill_down
from transforms.indicators.model import Indicator, load_indicators
from transforms.indicators.periods import parse_period
from transforms.indicators.store import latest_values, run_indicators, value_in_run
from transforms.warehouse.db import get_engine, migrate

NOV = parse_period("month", "2026-11")
T0 = datetime(2026, 12, 1, 6, 0)  # first load
T1 = datetime(2026, 12, 3, 6, 0)  # late data loaded


def _lin(i: int, loaded: datetime = T0) -> dict:
    return {"batch_id": "b1", "source_file": "f.csv", "source_line": i, "message_id": None, "loaded_at": loaded}


def build(url: str) -> sa.Engine:
    eng = get_engine(url)
    migrate(eng)
    with eng.begin() as c:
        create_marts(c)
        insert(c, "dim_institution", [
            dict(institution_code="H1", name="区中心医院", inst_type="hospital", level="2", division_code="310114",
                 beds=10, is_primary_care=False),
            dict(institution_code="C1", name="南翔社区", inst_type="chc", level="1", division_code="310114",
                 beds=0, is_primary_care=True),
            dict(institution_code="C2", name="江桥社区", inst_type="chc", level="1", division_code="310114",
                 beds=0, is_primary_care=True),
        ])
        insert(c, "dim_group_membership", [  # C1 moves from G1 to G2 on 2026-11-15
            dict(institution_code="C1", group_code="G1", role="member", valid_from=date(2025, 1, 1), valid_to=date(2026, 11, 15)),
            dict(institution_code="C1", group_code="G2", role="member", valid_from=date(2026, 11, 15), valid_to=None),
            dict(institution_code="H1", group_code="G1", role="lead", valid_from=date(2025, 1, 1), valid_to=None),
            dict(institution_code="C2", group_code="G2", role="member", valid_from=date(2025, 1, 1), valid_to=None),
        ])
        insert(c, "ref_key_population", [dict(code="elderly", display="65岁及以上老年人"),
                                          dict(code="htn", display="高血压患者")])
        insert(c, "dim_practitioner", [
            dict(practitioner_id="D1", institution_code="C1", team_id="T1", team_role="doctor", is_gp=True),
            dict(practitioner_id="D2", institution_code="C2", team_id="T2", team_role="doctor", is_gp=True),
            dict(practitioner_id="D3", institution_code="H1", team_id=None, team_role=None, is_gp=False),
        ])
        insert(c, "dim_person", [
            dict(person_key=f"P{i}", sex="1", key_populations=kp, ehr_created_date=date(2020, 1, 1),
                 ehr_institution=inst)
            for i, kp, inst in [(1, "elderly|htn", "C1"), (2, "", "C2"), (3, "htn", "C2"), (4, "", "C1"), (5, "", "C1")]
        ])
        insert(c, "fact_signing", [
            dict(contract_id="K1", person_key="P1", institution_code="C1", team_id="T1", doctor_id="D1",
                 start_date=date(2026, 1, 1), end_date=date(2026, 12, 31), status="active", **_lin(1)),
            dict(contract_id="K2", person_key="P2", institution_code="C2", team_id="T2", doctor_id="D2",
                 start_date=date(2026, 1, 1), end_date=date(2027, 12, 31), status="active", **_lin(2)),
            dict(contract_id="K3", person_key="P3", institution_code="C2", team_id="T2", doctor_id="D2",
                 start_date=date(2024, 1, 1), end_date=date(2025, 12, 31), status="expired", **_lin(3)),
        ])
        enc = [
            ("E1", "P1", "C1", "O", datetime(2026, 11, 5, 9), None, None, "D1", 100, 30, 40, True, T0),
            ("E2", "P4", "C1", "O", datetime(2026, 11, 20, 9), None, None, "D1", 80, 20, 30, False, T0),
            ("E3", "P2", "C2", "O", datetime(2026, 11, 10, 9), None, None, "D2", 60, 30, 10, True, T0),
            ("E4", "P1", "H1", "O", datetime(2026, 11, 6, 9), None, None, "D3", 300, 120, 90, False, T0),
            ("E5", "P5", "H1", "I", datetime(2026, 11, 1, 9), datetime(2026, 11, 5, 10), 4, "D3", 5000, 1500, 1200, False, T0),
            ("E6", "P3", "C2", "O", datetime(2026, 11, 25, 9), None, None, "D2", 50, 10, 20, False, T1),  # late
        ]
        insert(c, "fact_encounter", [
            dict(encounter_id=e, person_key=p, institution_code=i, encounter_class=k, start_time=s, end_time=en,
                 los_days=los, practitioner_id=d, total_cost=tc, drug_cost=dc, service_cost=sc, is_appointment=ap,
                 **_lin(n, loaded))
            for n, (e, p, i, k, s, en, los, d, tc, dc, sc, ap, loaded) in enumerate(enc, 1)
        ])
    return eng


@pytest.fixture()
def inds() -> dict[str, Indicator]:
    return load_indicators()


def _by(values) -> dict:
    return {v.dimension_value: v for v in values}


def check_hand_computed(eng, inds):
    with eng.connect() as c:
        d = _by(compute(c, inds["FD_DESIGNATED_VISIT_RATE"], NOV, "doctor", as_of=T0))
        assert (d["D1"].numerator, d["D1"].denominator, d["D1"].value) == (1, 2, 50.0)
        assert d["D2"].value == 100.0
        # SCD-2: E1 (11-05) counts for G1, E2 (11-20) for G2 although both are at C1
        g = _by(compute(c, inds["FD_DESIGNATED_VISIT_RATE"], NOV, "group", as_of=T0))
        assert (g["G1"].numerator, g["G1"].denominator) == (1, 1)
        assert (g["G2"].numerator, g["G2"].denominator) == (1, 2)
        r = _by(compute(c, inds["TC_PRIMARY_CARE_SHARE"], NOV, "region", as_of=T0))
        assert r["ALL"].value == 75.0  # 3 of 4 visits at CHCs
        h = _by(compute(c, inds["OP_ALOS"], NOV, "institution", as_of=T0))
        assert h["H1"].value == 4.0
        drug = _by(compute(c, inds["OP_DRUG_SHARE"], NOV, "institution", as_of=T0))
        assert drug["H1"].value == pytest.approx(1620 / 5300 * 100, abs=1e-3)
        # empty denominator: C1 has visits but no discharges -> no value, not 0 and not an error
        oi = _by(compute(c, inds["OP_OUTPATIENT_INPATIENT_RATIO"], NOV, "institution", as_of=T0))
        assert oi["C1"].value is None and oi["C1"].numerator == 2
        assert oi["H1"].value == 1.0
        occ = _by(compute(c, inds["OP_BED_OCCUPANCY"], NOV, "institution", as_of=T0))
        assert occ["H1"].value == pytest.approx(4 / (10 * 30) * 100, abs=1e-3)
        s = _by(compute(c, inds["FD_SIGNING_RATE"], NOV, "region", as_of=T0))
        assert (s["ALL"].numerator, s["ALL"].denominator) == (2, 5)
        kp = _by(compute(c, inds["FD_SIGNING_RATE"], NOV, "key_population", as_of=T0))
        assert (kp["htn"].numerator, kp["htn"].denominator) == (1, 2)
        # a dimension that was not declared is refused with a clear message
        with pytest.raises(ValueError, match="not declared"):
            compute(c, inds["TC_PRIMARY_CARE_SHARE"], NOV, "doctor")
        rows = drill_down(c, inds["FD_DESIGNATED_VISIT_RATE"], NOV, "doctor", "D1", as_of=T0)
        assert [r["row_id"] for r in rows] == ["E1", "E2"] and all(len(r["person_ref"]) <= 9 for r in rows)


@pytest.mark.local
def test_hand_computed_values_duckdb(tmp_path, inds):
    check_hand_computed(build(f"duckdb:///{tmp_path}/w.duckdb"), inds)


@pytest.mark.postgres
def test_hand_computed_values_postgres(pg_url, inds):
    check_hand_computed(build(pg_url), inds)


@pytest.mark.local
def test_late_data_is_a_visible_revision_and_old_run_reproducible(tmp_path, inds):
    eng = build(f"duckdb:///{tmp_path}/w.duckdb")
    ind = inds["FD_DESIGNATED_VISIT_RATE"]
    with eng.begin() as c:
        run0 = run_indicators(c, [ind], [NOV], as_of=T0, trigger="test")
    with eng.begin() as c:
        run1 = run_indicators(c, [ind], [NOV], as_of=T1, trigger="test")
    with eng.connect() as c:
        assert value_in_run(c, run0, ind.code, NOV, "doctor", "D2") == 100.0  # as published
        assert value_in_run(c, run1, ind.code, NOV, "doctor", "D2") == 50.0  # P3's late visit, not signed
        latest = {r["dimension_value"]: r for r in latest_values(c, ind.code, "month", "doctor")}
        assert latest["D2"]["value"] == 50.0 and latest["D2"]["previous_value"] == 100.0
        assert latest["D2"]["is_revised"] and not latest["D1"]["is_revised"]
        assert latest["D2"]["is_partial"] is False


@pytest.mark.unit
def test_declarations_are_complete_and_bad_ones_name_the_field(tmp_path):
    inds = load_indicators()
    for code in ["FD_SIGNING_RATE", "FD_KEYPOP_SIGNING_RATE", "FD_EFFECTIVE_SIGNING_RATE", "FD_DESIGNATED_VISIT_RATE",
                 "FD_APPOINTMENT_RATE", "FD_REFERRAL_ARRIVAL_RATE", "FD_SIGNED_PRIMARY_VISIT_SHARE",
                 "TC_PRIMARY_CARE_SHARE", "TC_REFERRALS_UP", "TC_REFERRALS_DOWN", "TC_DOWN_REFERRAL_RATE",
                 "TC_REFERRAL_SUCCESS_RATE", "CD_HTN_STANDARD_MGMT_RATE", "CD_HTN_CONTROL_RATE",
                 "CD_DM_STANDARD_MGMT_RATE", "CD_DM_CONTROL_RATE", "OP_ALOS", "OP_COST_PER_OUTPATIENT",
                 "OP_COST_PER_INPATIENT", "OP_DRUG_SHARE", "OP_SERVICE_REVENUE_SHARE", "OP_OUTPATIENT_INPATIENT_RATIO",
                 "OP_BED_OCCUPANCY", "OP_BED_TURNOVER", "EHR_COVERAGE", "EHR_ACTIVE_USE_RATE",
                 "MR_RECOGNITION_RATE", "MR_REPEAT_TEST_RATE"]:
        assert code in inds, code
    bad = tmp_path / "bad.yaml"
    bad.write_text("code: X_Y\nname_zh: a\nname_en: b\nfamily: nonsense\n", encoding="utf-8")
    from transforms.indicators.model import load_indicator

    with pytest.raises(ValueError, match="family"):
        load_indicator(bad)
    with pytest.raises(ValueError, match="read-only"):
        Indicator.model_validate({**inds["OP_ALOS"].model_dump(), "base_sql": "SELECT 1; DROP TABLE x"})
