"""Warehouse loads on DuckDB: marts from FHIR, idempotent reruns, corrections with audit, SCD-2."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from test_warehouse_data import HIS, PK1, REG, his_rows, registry_rows, write_partition

from transforms.settings import Settings, load_settings
from transforms.warehouse.db import get_engine
from transforms.warehouse.load import load_partition
from transforms.warehouse.views import load_views

pytestmark = pytest.mark.local
LINEAGE = {"batch_id", "source_file", "source_line", "message_id", "loaded_at"}


def snapshot(url: str, tables: list[str], drop: set[str] = frozenset()) -> dict[str, list[tuple]]:
    """Every row of each table, lineage-free columns only when ``drop`` says so, sorted."""
    out = {}
    with get_engine(url).connect() as c:
        for t in tables:
            rows = c.execute(sa.text(f"SELECT * FROM {t}")).mappings().all()
            out[t] = sorted(tuple((k, str(v)) for k, v in r.items() if k not in drop) for r in rows)
    return out


def one(url: str, sql: str, **params) -> list[dict]:
    with get_engine(url).connect() as c:
        return [dict(r) for r in c.execute(sa.text(sql), params).mappings().all()]


def settings_at(home: Path) -> Settings:
    """Settings for a platform home, independent of the environment."""
    return Settings(home=home, landing=home / "landing", lake=home / "lake",
                    warehouse_url=f"duckdb:///{home / 'warehouse.duckdb'}", key_file=home / "key")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """Registry + one HIS partition loaded once; tests that change data work on a copy."""
    s = settings_at(tmp_path_factory.mktemp("wh") / "rhp")
    write_partition(s.lake, REG, registry_rows())
    write_partition(s.lake, HIS, his_rows())
    reports = [load_partition(s, *REG), load_partition(s, *HIS)]
    with get_engine(s.warehouse_url).begin() as c:
        c.exec_driver_sql("CHECKPOINT")
    return s, reports


@pytest.fixture()
def loaded(base, tmp_path):
    """A private copy of the base warehouse and lake."""
    s, reports = base
    home = tmp_path / "rhp"
    get_engine(s.warehouse_url).dispose()
    shutil.copytree(s.home, home)
    return settings_at(home), reports


def test_marts_hold_the_values_of_the_resources(base):
    s, (reg, his) = base
    assert (reg.inserted, his.inserted, his.updated, his.deleted) == (10, 15, 0, 0)
    url = s.warehouse_url
    inst = one(url, "SELECT institution_code, inst_type, level, parent_code, division_code, beds, is_primary_care "
                    "FROM dim_institution ORDER BY institution_code")
    assert inst == [
        {"institution_code": "C1", "inst_type": "chc", "level": "1", "parent_code": "H1",
         "division_code": "310114001", "beds": 40, "is_primary_care": True},
        {"institution_code": "H1", "inst_type": "hospital", "level": "3", "parent_code": None,
         "division_code": "310114", "beds": 800, "is_primary_care": False}]
    enc = one(url, "SELECT encounter_class, start_time, los_days, total_cost, practitioner_id, diagnosis_code, "
                   "batch_id, source_line FROM fact_encounter ORDER BY start_time")
    assert [e["encounter_class"] for e in enc] == ["O", "I"]
    assert [e["los_days"] for e in enc] == [0, 4]
    assert str(enc[0]["total_cost"]) == "120.50" and enc[0]["practitioner_id"] == "D1"
    assert enc[0]["diagnosis_code"] == "I10" and enc[1]["diagnosis_code"] is None
    assert enc[0]["batch_id"] == "batch0001" and enc[0]["source_line"] == 3
    dx = one(url, "SELECT icd_code, local_code, map_status FROM fact_diagnosis ORDER BY local_code")
    assert dx == [{"icd_code": "I10", "local_code": "GXY", "map_status": "mapped"},
                  {"icd_code": None, "local_code": "XX9", "map_status": "unmapped"}]
    lab = one(url, "SELECT l.loinc_code, l.value_num, l.ref_high, l.abnormal_flag, l.status, l.report_id, "
                   "l.performing_institution FROM fact_lab_result l")
    assert lab[0]["loinc_code"] == "1558-6" and lab[0]["value_num"] == 6.2 and lab[0]["abnormal_flag"] == "H"
    assert lab[0]["status"] == "final" and lab[0]["report_id"] is not None and lab[0]["performing_institution"] == "C1"
    exam = one(url, "SELECT modality, map_status, cloud_film_url FROM fact_exam_report")
    assert exam == [{"modality": "CT", "map_status": "unmapped", "cloud_film_url": "https://film.example/x1"}]
    person = one(url, "SELECT person_key, sex, key_populations, ehr_institution FROM dim_person")
    assert person == [{"person_key": PK1, "sex": "2", "key_populations": "elderly|htn", "ehr_institution": "C1"}]
    fu = one(url, "SELECT disease, sbp, dbp, is_standard FROM fact_followup")
    assert fu == [{"disease": "htn", "sbp": 132, "dbp": 84, "is_standard": True}]
    sign = one(url, "SELECT team_id, doctor_id, status, chosen_district_hospital FROM fact_signing")
    assert sign == [{"team_id": "T1", "doctor_id": "D1", "status": "active", "chosen_district_hospital": "H1"}]
    ref = one(url, "SELECT from_institution, to_institution, direction, status FROM fact_referral")
    assert ref == [{"from_institution": "C1", "to_institution": "H1", "direction": "up", "status": "arrived"}]
    rx = one(url, "SELECT nhsa_code, days_supply, is_long_rx, amount, encounter_id FROM fact_prescription")
    e1 = one(url, "SELECT encounter_id FROM fact_encounter WHERE encounter_class = 'O'")[0]["encounter_id"]
    assert rx[0]["days_supply"] == 28 and rx[0]["is_long_rx"] is True and rx[0]["encounter_id"] == e1


def test_no_direct_identifier_reaches_a_mart(base):
    s, _ = base
    with get_engine(s.warehouse_url).connect() as c:
        for name in load_views():
            cols = {r[0] for r in c.execute(sa.text(
                "SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": name})}
            assert not cols & {"id_number", "patient_name", "name_masked", "phone", "address_detail"}, name
            for row in c.execute(sa.text(f"SELECT * FROM {name}")):
                assert not any(isinstance(v, str) and "王" in v for v in row), (name, row)


def test_rerun_changes_nothing(loaded):
    s, _ = loaded
    tables = [*load_views(), "fhir_resource", "load_audit"]
    before = snapshot(s.warehouse_url, tables)
    again = load_partition(s, *HIS)
    assert (again.inserted, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 15)
    assert again.marts == ()
    assert snapshot(s.warehouse_url, tables) == before


def test_corrected_resubmission_replaces_and_is_audited(loaded):
    s, _ = loaded
    rows = [r for r in his_rows(total_cost="99.90") if r[0] != "referral"]
    write_partition(s.lake, HIS, rows, batch="batch0002")
    rep = load_partition(s, *HIS)
    assert rep.deleted == 1 and rep.inserted == 0 and rep.updated == 14
    url = s.warehouse_url
    enc = one(url, "SELECT total_cost, batch_id FROM fact_encounter WHERE encounter_class = 'O'")
    assert str(enc[0]["total_cost"]) == "99.90" and enc[0]["batch_id"] == "batch0002"
    assert one(url, "SELECT COUNT(*) AS n FROM fact_referral") == [{"n": 0}]
    assert one(url, "SELECT COUNT(*) AS n FROM fact_encounter") == [{"n": 2}]
    audit = {(r["resource_type"], r["action"]): r for r in one(
        url, "SELECT * FROM load_audit WHERE new_batch_id = 'batch0002' OR action = 'delete'")}
    enc_audit = [r for r in one(url, "SELECT * FROM load_audit WHERE resource_type = 'Encounter' AND action = 'update'")
                 if "encounter-cost" in (r["changed_elements"] or "")]
    assert len(enc_audit) == 1 and enc_audit[0]["old_batch_id"] == "batch0001"
    assert enc_audit[0]["old_hash"] != enc_audit[0]["new_hash"]
    assert audit[("Patient", "update")]["changed_elements"] == "lineage"
    assert audit[("ServiceRequest", "delete")]["old_batch_id"] == "batch0001"


def test_encounter_is_attributed_to_its_group_on_its_date(base):
    s, _ = base
    got = one(s.warehouse_url, "SELECT g.encounter_date, g.group_code FROM encounter_group g ORDER BY encounter_date")
    assert got == [{"encounter_date": date(2024, 6, 15), "group_code": "G1"},
                   {"encounter_date": date(2024, 7, 10), "group_code": "G2"}]


def test_dim_date_is_generated_and_idempotent(rhp_home):
    from transforms.warehouse.dates import build_dim_date
    from transforms.warehouse.db import transaction

    url = load_settings().warehouse_url
    for _ in range(2):
        with transaction(url) as conn:
            assert build_dim_date(conn, date(2024, 12, 28), date(2025, 1, 5)) == 9
    rows = one(url, "SELECT date_day, year, quarter, iso_week, is_weekend FROM dim_date ORDER BY date_day")
    assert len(rows) == 9
    assert rows[0] == {"date_day": date(2024, 12, 28), "year": 2024, "quarter": 4, "iso_week": 52, "is_weekend": True}
    assert rows[2]["date_day"] == date(2024, 12, 30) and rows[2]["iso_week"] == 1  # ISO week 1 of 2025


def test_mislabelled_rows_fail_naming_file_and_line(rhp_home):
    s = load_settings()
    write_partition(s.lake, HIS, his_rows())
    path = next((s.lake / "fhir" / "parquet" / "Encounter").rglob("*.parquet"))
    import pyarrow as pa
    import pyarrow.parquet as pq

    t = pq.read_table(path)
    t = t.set_column(t.column_names.index("_institution"), "_institution", pa.array(["C9"] * t.num_rows))
    pq.write_table(t, path)
    with pytest.raises(ValueError, match=r"his/C1/2024-06-15/data.csv line \d+ \(Encounter/.*labelled his/C9"):
        load_partition(s, *HIS)


def test_empty_partition_deletes_what_it_held(loaded):
    s, _ = loaded
    for p in (s.lake / "fhir" / "parquet").glob("*/source=his/institution=C1/date=2024-06-15.parquet"):
        p.unlink()
    rep = load_partition(s, *HIS)
    assert rep.deleted == 15 and rep.rows_read == 0
    assert one(s.warehouse_url, "SELECT COUNT(*) AS n FROM fact_encounter") == [{"n": 0}]
    assert one(s.warehouse_url, "SELECT COUNT(*) AS n FROM dim_institution") == [{"n": 2}]


def test_full_rebuild_equals_incremental_refresh(loaded):
    from transforms.warehouse.marts import rebuild_all

    s, _ = loaded
    tables = sorted(load_views())
    before = snapshot(s.warehouse_url, tables, drop={"loaded_at"})
    with get_engine(s.warehouse_url).begin() as conn:
        assert rebuild_all(conn) == tables
    assert snapshot(s.warehouse_url, tables, drop={"loaded_at"}) == before


def test_a_resource_without_the_mart_key_is_quarantined_not_loaded(rhp_home):
    s = load_settings()

    def drop_team_identifier(res: dict) -> None:
        if res["resourceType"] == "CareTeam":
            res.pop("identifier")

    write_partition(s.lake, REG, registry_rows(), mutate=drop_team_identifier)
    rep = load_partition(s, *REG)
    assert rep.inserted == 10
    assert one(s.warehouse_url, "SELECT COUNT(*) AS n FROM dim_team") == [{"n": 0}]
    assert one(s.warehouse_url, "SELECT COUNT(*) AS n FROM dim_institution") == [{"n": 2}]
    q = one(s.warehouse_url, "SELECT check_id, stage, line_no, reason FROM quarantine")
    assert len(q) == 1 and q[0]["check_id"] == "load.dim_team.key_missing" and q[0]["stage"] == "load"
    assert q[0]["reason"].startswith("registry/REGION/2024-01-01/data.csv line 10: CareTeam/")
    assert "gives no team_id" in q[0]["reason"]


def test_dimension_history_opens_a_version_when_the_registry_changes(loaded):
    s, (reg, _) = loaded
    assert "dim_institution_history" in reg.marts
    day2 = date(2024, 9, 1)
    rows = [(t, {**r, "level": "2"} if r.get("institution_code") == "C1" and t == "institution" else r)
            for t, r in registry_rows()]
    write_partition(s.lake, ("registry", "REGION", day2), rows, batch="batch0009")
    for p in (s.lake / "fhir" / "parquet").glob("*/source=registry/institution=REGION/date=2024-01-01.parquet"):
        p.unlink()  # the registry now sends its snapshot on day2; day1 is not reloaded
    rep = load_partition(s, "registry", "REGION", day2)
    assert rep.updated == 10
    hist = one(s.warehouse_url, "SELECT institution_code, level, valid_from, valid_to FROM dim_institution_history "
                                "ORDER BY institution_code, valid_from")
    assert hist == [
        {"institution_code": "C1", "level": "1", "valid_from": date(2024, 1, 1), "valid_to": day2},
        {"institution_code": "C1", "level": "2", "valid_from": day2, "valid_to": None},
        {"institution_code": "H1", "level": "3", "valid_from": date(2024, 1, 1), "valid_to": None}]
    # the encounter of 2024-06-15 at C1 was at a level-1 institution on its date
    got = one(s.warehouse_url,
              "SELECT h.level FROM fact_encounter e JOIN dim_institution_history h "
              "ON h.institution_code = e.institution_code AND CAST(e.start_time AS DATE) >= h.valid_from "
              "AND (h.valid_to IS NULL OR CAST(e.start_time AS DATE) < h.valid_to) "
              "WHERE e.start_time < TIMESTAMP '2024-07-01 00:00:00'")
    assert got == [{"level": "1"}]
    assert one(s.warehouse_url, "SELECT level FROM dim_institution WHERE institution_code = 'C1'") == [{"level": "2"}]
    again = load_partition(s, "registry", "REGION", day2)
    assert again.marts == () and len(one(s.warehouse_url, "SELECT * FROM dim_institution_history")) == 3
