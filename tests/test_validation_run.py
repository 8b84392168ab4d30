"""The validate stage on a tiny lake: split, quarantine reasons, batch results, reconcile, recompute."""

from __future__ import annotations

import json
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa

from transforms.settings import load_settings
from transforms.validation.catalogue import load_catalogue
from transforms.validation.run import WARNINGS_COL, recompute_status, validate_marts, validate_partition
from transforms.warehouse.db import get_engine, migrate

pytestmark = pytest.mark.local
DAY = date(2026, 11, 3)
KEY = "a" * 64


def _lineage(n: int, batch: str, inst: str, source: str = "his") -> dict:
    return {"_batch_id": [batch] * n, "_source": [source] * n, "_profile": ["p"] * n, "_institution": [inst] * n,
            "_partition_date": [DAY] * n, "_file": [f"{source}/{inst}/2026-11-03/enc.csv"] * n,
            "_line": list(range(2, n + 2)), "_message_id": [None] * n, "_record_hash": [f"h{i}" for i in range(n)]}


def encounter_frame(inst: str = "H001", batch: str = "b1") -> pd.DataFrame:
    ts = pd.to_datetime
    df = pd.DataFrame({
        "encounter_no": ["E1", "E2", "E3", "E4", "E5", "E5"],
        "institution_code": [inst] * 6,
        "patient_local_id": ["p1", "p2", "p3", "p4", "p5", "p6"],
        "sex_code": ["1", "2", "1", "2", "1", "2"],
        "birth_date": [date(1960, 1, 1)] * 6,
        "encounter_class": ["O", "I", "O", "O", "O", "O"],
        "start_time": ts(["2026-11-03 08:00:00", "2026-11-01 08:00:00", "2026-11-03 09:00:00",
                          "2026-11-03 10:00:00", "2026-11-03 11:00:00", "2026-11-03 11:30:00"]),
        "end_time": ts(["2026-11-03 08:30:00", "2026-10-30 08:00:00", None, "2026-11-03 10:10:00",
                        "2026-11-03 12:00:00", "2026-11-03 12:00:00"]),
        "total_cost": [100.0, 5000.0, 80.123, -3.0, 50.0, 60.0],
        "drug_cost": [40.0, 2000.0, 10.0, 0.0, 20.0, 30.0],
        "person_key": [KEY] * 6, "link_method": ["id_number"] * 6,
        "id_valid": pd.array([True, True, False, True, True, True], dtype="boolean"),
        "id_issues": ["", "", "checksum;sex_mismatch", "", "", ""],
        "sex_std": ["1", "2", "1", "2", "1", "2"], "birth_date_std": [date(1960, 1, 1)] * 6,
        "name_masked": ["张*明"] * 6, "age_at_event": [66, 66, 66, 66, 66, 66],
        "encounter_class_std": ["O", "I", "O", "O", "O", "O"],
        "encounter_class_map_status": ["mapped"] * 6,
    })
    for k, v in _lineage(6, batch, inst).items():
        df[k] = v
    return df


def write_partition(settings, table: str, df: pd.DataFrame, source: str, inst: str, batch: str) -> None:
    part = settings.standard / table / f"source={source}" / f"institution={inst}" / f"date={DAY.isoformat()}"
    part.mkdir(parents=True, exist_ok=True)
    df.to_parquet(part / f"{batch}.parquet", index=False)


def registry(settings, codes=("H001", "C001")) -> None:
    df = pd.DataFrame({"institution_code": list(codes), "name": ["医院", "中心"], "inst_type": ["hospital", "chc"],
                       "division_code": ["310105", "310105"]})
    for k, v in _lineage(len(codes), "reg", "REGION", "registry").items():
        df[k] = v
    write_partition(settings, "institution", df, "registry", "REGION", "reg")


def test_validate_partition_splits_quarantines_and_reconciles(rhp_home):
    s = load_settings()
    registry(s)
    write_partition(s, "encounter", encounter_frame(), "his", "H001", "b1")
    rep = validate_partition(s, "his", "H001", DAY)
    # E2 discharge before admission, E4 negative cost, E5 x2 duplicate key -> 4 quarantined
    assert (rep.rows_in, rep.rows_out, rep.rows_quarantined) == (6, 2, 4)
    assert rep.reconciled and rep.tables["encounter"]["rows_in"] == 6
    out = pd.read_parquet(s.lake / "validated/encounter/source=his/institution=H001/date=2026-11-03/b1.parquet")
    assert sorted(out["encounter_no"]) == ["E1", "E3"]
    warn = dict(zip(out["encounter_no"], out[WARNINGS_COL], strict=True))
    assert warn["E1"] == ""
    assert set(warn["E3"].split(";")) == {"encounter.id_valid.true", "encounter.id_issues.agrees",
                                          "encounter.total_cost.cents"}
    eng = get_engine(s.warehouse_url)
    with eng.connect() as c:
        q = {r.line_no: r for r in c.execute(sa.text("SELECT * FROM quarantine ORDER BY line_no")).all()}
        res = {r.check_id: r for r in c.execute(sa.text("SELECT * FROM dq_check_result")).all()}
    assert sorted(q) == [3, 5, 6, 7]
    assert q[3].check_id == "validate.encounter.end_time.after_start"
    assert "his/H001/2026-11-03/enc.csv line 3" in q[3].reason and "2026-10-30" in q[3].reason
    assert "total_cost=-3.0" in q[5].reason
    assert json.loads(q[5].raw_record)["encounter_no"] == "E4" and "id_number" not in json.loads(q[5].raw_record)
    r = res["encounter.key.unique"]
    assert (r.numerator, r.denominator, r.status) == (2, 6, "fail")
    assert res["encounter.institution_code.registered"].status == "pass"
    assert res["encounter.id_valid.true"].numerator == 1 and res["encounter.id_valid.true"].status == "fail"
    assert res["encounter.bed_type.required"].status == "not_run" if "encounter.bed_type.required" in res else True


def test_rerun_replaces_and_unknown_institution_is_quarantined(rhp_home):
    s = load_settings()
    registry(s, codes=("C001", "X9"))  # H001 is not registered
    write_partition(s, "encounter", encounter_frame(), "his", "H001", "b1")
    validate_partition(s, "his", "H001", DAY)
    rep = validate_partition(s, "his", "H001", DAY)
    assert rep.rows_quarantined == 6 and rep.reconciled
    with get_engine(s.warehouse_url).connect() as c:
        n = c.execute(sa.text("SELECT COUNT(*) FROM quarantine")).scalar()
        reg = c.execute(sa.text("SELECT numerator FROM dq_check_result WHERE check_id = "
                                "'encounter.institution_code.registered'")).scalar()
    assert n == 6 and reg == 6


def test_missing_reference_is_not_run_not_pass(rhp_home):
    s = load_settings()
    write_partition(s, "encounter", encounter_frame(), "his", "H001", "b1")
    validate_partition(s, "his", "H001", DAY)
    with get_engine(s.warehouse_url).connect() as c:
        row = c.execute(sa.text("SELECT status, note FROM dq_check_result WHERE check_id = "
                                "'encounter.institution_code.registered'")).one()
    assert row.status == "not_run" and "dim_institution" in row.note


def test_recompute_status_applies_new_threshold_without_revalidating(rhp_home):
    s = load_settings()
    registry(s)
    write_partition(s, "encounter", encounter_frame(), "his", "H001", "b1")
    validate_partition(s, "his", "H001", DAY)
    cat = load_catalogue()
    looser = [c.model_copy(update={"threshold": 20.0}) if c.check_id == "encounter.id_valid.true" else c for c in cat]
    eng = get_engine(s.warehouse_url)
    with eng.begin() as c:
        assert recompute_status(c, looser) == 1
        row = c.execute(sa.text("SELECT status, threshold, pct FROM dq_check_result WHERE check_id = "
                                "'encounter.id_valid.true'")).one()
    assert row.status == "pass" and row.threshold == 20.0 and row.pct == pytest.approx(100 / 6, rel=1e-3)


def _build_marts(conn) -> None:
    conn.exec_driver_sql("INSERT INTO dim_institution (institution_code, name, inst_type) "
                         "VALUES ('H001', '市一医院', 'hospital'), "
                         "('C001', '江桥社区', 'chc'), ('C001', '重复', 'clinic')")
    conn.exec_driver_sql(
        "INSERT INTO fact_encounter (encounter_id, person_key, institution_code, encounter_class, start_time, "
        "end_time, los_days, total_cost, drug_cost, service_cost, consumable_cost, exam_lab_cost) VALUES "
        f"('e1', '{KEY}', 'H001', 'O', '2026-11-01 08:00', '2026-11-01 09:00', 0, 10.00, 5, 5, 0, 0), "
        f"('e2', '{KEY}', 'ZZZZ', 'I', '2026-11-02 08:00', '2026-11-01 09:00', 400, 10.00, 8, 8, 0, 0), "
        f"('e2', '110105194912310021', 'H001', 'Q', '2026-11-01 08:00', NULL, NULL, -1.00, 0, 0, 0, 0)")


def expected_mart_numerators() -> dict[str, int]:
    return {"dim_institution.institution_code.unique": 2, "dim_institution.inst_type.domain": 1,
            "fact_encounter.encounter_id.unique": 2, "fact_encounter.institution_code.registered": 1,
            "fact_encounter.end_time.after_start": 1, "fact_encounter.encounter_class.domain": 1,
            "fact_encounter.los_days.range": 1, "fact_encounter.total_cost.nonneg": 1,
            "fact_encounter.cost_parts.le_total": 2, "fact_encounter.person_key.pseudonym": 1}


def check_marts(url: str) -> None:
    eng = get_engine(url)
    migrate(eng)
    with eng.begin() as c:
        _build_marts(c)
        outcomes = validate_marts(c, run_day=DAY)
        stored = {r.check_id: r for r in c.execute(sa.text(
            "SELECT * FROM dq_check_result WHERE batch_id = 'marts:2026-11-03'")).all()}
    got = {o.check.check_id: o.numerator for o in outcomes if o.numerator}
    assert got == expected_mart_numerators()
    assert stored["fact_encounter.total_cost.cents"].numerator == 0
    lab = stored["fact_lab_result.status.domain"]
    assert (lab.denominator, lab.status) == (0, "pass")  # empty mart: nothing to fail
    assert stored["fact_encounter.total_cost.nonneg"].status == "fail"
    assert stored["fact_encounter.total_cost.nonneg"].denominator == 3


def test_validate_marts_pushdown_duckdb(rhp_home):
    check_marts(load_settings().warehouse_url)


def test_exact_duplicate_keeps_first_copy_and_quarantines_repeat(rhp_home):
    s = load_settings()
    registry(s)
    df = encounter_frame()
    df.loc[5, [c for c in df.columns if c != "_line"]] = df.loc[4, [c for c in df.columns if c != "_line"]].to_numpy()
    write_partition(s, "encounter", df, "his", "H001", "b1")
    rep = validate_partition(s, "his", "H001", DAY)
    assert rep.tables["encounter"]["rows_exact_duplicates"] == 1
    assert (rep.rows_in, rep.rows_out, rep.rows_quarantined, rep.reconciled) == (6, 3, 3, True)
    with get_engine(s.warehouse_url).connect() as c:
        r = c.execute(sa.text("SELECT check_id, reason FROM quarantine WHERE line_no = 7")).one()
    assert r.check_id == "validate.encounter.exact_duplicate" and "exact duplicate of line 6" in r.reason
