"""The monthly quality report on a hand-built month: every injected defect shows at its institution."""

from __future__ import annotations

import csv
from datetime import date

import pytest
import sqlalchemy as sa

from tests import test_quality_fixture as fx
from transforms.quality.compute import jsonable, quality_report_data, score, submission_cells
from transforms.quality.render import render_html, write_csv, write_xlsx
from transforms.quality.report import write_quality_tables
from transforms.settings import load_settings
from transforms.warehouse.db import get_engine, migrate


@pytest.fixture()
def conn(rhp_home):
    eng = get_engine(load_settings().warehouse_url)
    migrate(eng)
    with eng.begin() as c:
        fx.build(c)
        yield c


@pytest.mark.unit
def test_cells_tell_missing_from_zero_and_late():
    inst = [{"institution_code": "C1", "inst_type": "chc"}]
    subs = [
        {"source": "public_health", "dataset": "surveillance_report", "institution_code": "C1", "status": "new",
         "partition_date": date(2026, 11, 1), "arrival_time": "2026-11-01 09:00:00", "is_zero_report": True},
        {"source": "his", "dataset": "encounter", "institution_code": "C1", "status": "duplicate",
         "partition_date": date(2026, 11, 1), "arrival_time": "2026-11-01 09:00:00", "is_zero_report": False},
        {"source": "his", "dataset": "encounter", "institution_code": "C1", "status": "new",
         "partition_date": date(2026, 11, 2), "arrival_time": "2026-11-03 07:00:00", "is_zero_report": False},
    ]
    cells = submission_cells(fx.CAL, inst, subs, date(2026, 11, 1), date(2026, 11, 3))
    got = {(c["dataset"], c["day"].day): c["state"] for c in cells}
    assert got == {("his_encounter", 1): "missing", ("ph_surveillance", 1): "zero",
                   ("his_encounter", 2): "late", ("ph_surveillance", 2): "missing"}


@pytest.mark.unit
def test_declared_file_that_never_arrived_makes_the_day_partial(tmp_path):
    import json

    from transforms.quality.compute import declared_missing

    folder = tmp_path / "his" / "C1" / "2026-11-01"
    folder.mkdir(parents=True)
    (folder / "_manifest.json").write_text(json.dumps({"files": {"a.csv": {"declared_count": 3},
                                                                 "b.csv": {"declared_count": 0}}}))
    subs = [{"file_path": "his/C1/2026-11-01/a.csv", "source": "his", "dataset": "encounter",
             "institution_code": "C1", "status": "new", "partition_date": date(2026, 11, 1),
             "arrival_time": "2026-11-01 09:00:00", "is_zero_report": False}]
    absent = declared_missing(tmp_path, subs, date(2026, 11, 1), date(2026, 12, 1))
    assert [(a["file_path"], a["declared_count"]) for a in absent] == [("his/C1/2026-11-01/b.csv", 0)]
    absent[0]["table"] = "encounter"  # as the source profile of b.csv would say
    cells = submission_cells(fx.CAL, [{"institution_code": "C1", "inst_type": "chc"}], subs,
                             date(2026, 11, 1), date(2026, 11, 2), absent)
    assert {c["dataset"]: c["state"] for c in cells} == {"his_encounter": "partial", "ph_surveillance": "missing"}


@pytest.mark.unit
def test_score_rescales_missing_dimensions():
    w = {"completeness": 0.5, "timeliness": 0.25, "consistency": 0.25}
    assert score({"completeness": 80.0, "timeliness": 100.0, "consistency": None}, w) == pytest.approx(86.67, 0.01)
    assert score({"completeness": None}, {"completeness": 1.0}) is None


@pytest.mark.local
def test_report_finds_each_defect_at_its_institution(conn):
    data = quality_report_data(conn, fx.MONTH, calendar=fx.CAL)
    by = {r["institution_code"]: r for r in data["institutions"]}
    assert set(by) == {"H0001", "C0001", "C0002"}  # the station owes nothing; H0901 is out of district
    h, c1, c2 = by["H0001"], by["C0001"], by["C0002"]
    assert (h["expected"], h["missing"], h["completeness"], h["timeliness"]) == (30, 0, 100.0, 100.0)
    assert (c1["expected"], c1["missing"], c1["late"], c1["zero_reports"]) == (60, 1, 1, 3)
    assert c1["completeness"] == pytest.approx(100 * 59 / 60, abs=0.01)
    assert c1["timeliness"] == pytest.approx(100 * 58 / 59, abs=0.01)
    assert (c1["duplicates"], c1["corrected"], c1["quarantined"]) == (1, 1, 2)
    assert c1["field_completeness"] == 95.0 and c1["validity"] == 98.0
    assert (c2["missing"], c2["completeness"]) == (11, pytest.approx(100 * 49 / 60, abs=0.01))
    assert h["mapping_rate"] == 90.0
    assert [r["institution_code"] for r in data["institutions"]] == ["H0001", "C0001", "C0002"]
    assert [r["rank"] for r in data["institutions"]] == [1, 2, 3]
    # trend vs previous month: October had only 10 of 31 days
    assert h["prev_score"] is not None and h["score_delta"] == pytest.approx(h["score"] - h["prev_score"], abs=0.01)
    assert c2["prev_score"] == 0.0  # owed October files and sent none: 0, not "no data"
    missing = {(m["institution_code"], m["dataset"], m["day"].day, m["state"]) for m in data["missing"]}
    assert ("C0001", "his_encounter", 5, "missing") in missing and ("C0001", "his_encounter", 6, "late") in missing
    assert sum(1 for m in missing if m[0] == "C0002") == 11
    row = next(r for r in data["heatmap"]["rows"] if r["institution_code"] == "C0001")
    day5 = row["cells"][4]
    assert (day5["expected"], day5["received"], day5["missing"]) == (2, 1, ["his_encounter"])
    assert data["trend"][4]["completeness"] == pytest.approx(100 * 4 / 5)
    chk = {(r["institution_code"], r["check_id"]): r for r in data["checks"]}
    drill = chk[("C0001", "encounter.end_time.after_start")]
    assert drill["rows_quarantined"] == 2 and "line 2" in drill["example_reason"]
    assert drill["doc"] == "checks/x.md"
    from transforms.quality.compute import failing_records

    recs = failing_records(conn, "encounter.end_time.after_start", "C0001", fx.MONTH)
    assert [r["line_no"] for r in recs] == [2, 3] and failing_records(conn, "x.y", "C0001", fx.MONTH) == []
    assert jsonable(data)["heatmap"]["days"][0] == "2026-11-01"


@pytest.mark.local
def test_tables_and_exports(conn, tmp_path):
    data = quality_report_data(conn, fx.MONTH, lang="en", calendar=fx.CAL)
    counts = write_quality_tables(conn, data)
    assert counts["quality_institution_month"] == 3 and counts["quality_submission"] == 30 + 60 + 60
    write_quality_tables(conn, data)  # idempotent: replaces the month
    n = conn.execute(sa.text("SELECT COUNT(*) FROM quality_submission WHERE month = '2026-11'")).scalar()
    missing = conn.execute(sa.text("SELECT COUNT(*) FROM quality_submission WHERE state = 'missing'")).scalar()
    assert n == 150 and missing == 12
    rank1 = conn.execute(sa.text("SELECT institution_code FROM quality_institution_month WHERE rank = 1")).scalar()
    assert rank1 == "H0001"
    rows = list(csv.reader(write_csv(data, tmp_path / "n.csv").open(encoding="utf-8-sig")))
    assert rows[0][:3] == ["Rank", "Institution", "Code"] and rows[1][2] == "H0001" and len(rows) == 4
    from openpyxl import load_workbook

    wb = load_workbook(write_xlsx(data, tmp_path / "n.xlsx"))
    assert wb.sheetnames == ["Institution scores and ranking", "Missing, late and zero submissions"[:31]]
    assert wb.worksheets[1].max_row == 1 + 13 + 3  # missing + late, and the 3 explicit zero reports


@pytest.mark.local
def test_html_is_self_contained_and_bilingual(conn):
    zh = render_html(quality_report_data(conn, fx.MONTH, lang="zh", calendar=fx.CAL))
    en = render_html(quality_report_data(conn, fx.MONTH, lang="en", calendar=fx.CAL))
    assert "数据上报质量月报" in zh and "江桥社区卫生服务中心" in zh and "缺报" in zh
    assert "Monthly submission quality report" in en
    for html in (zh, en):
        assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
        assert "https://" not in html and "<script src" not in html and "<link" not in html
        assert html.count('class="cell cell-') == 3 * 30
        assert html.count('class="cell cell-missing"') == 1 + 11
        assert html.count('class="cell cell-zero"') == 3  # C0001 days 10-12: explicit zero reports


@pytest.mark.local
def test_partial_month_owes_nothing_after_as_of(conn):
    data = quality_report_data(conn, fx.MONTH, calendar=fx.CAL, as_of=date(2026, 11, 10))
    by = {r["institution_code"]: r for r in data["institutions"]}
    assert data["is_partial"] and len(data["heatmap"]["days"]) == 10
    assert (by["H0001"]["expected"], by["C0001"]["expected"], by["C0001"]["missing"]) == (10, 20, 1)
    assert by["C0002"]["missing"] == 0  # its gap starts on day 20


@pytest.mark.local
def test_defects_audit_finds_injected_defects_at_their_institution(conn, tmp_path):
    from transforms.quality.defects_audit import audit_defects, summary

    def d(kind, inst, day, source="his", file="x", line=None):
        return {"kind": kind, "institution": inst, "date": day, "source": source, "file": file, "line": line}

    manifest = {"defects": [
        d("missing_file", "C0001", "2026-11-05"), d("late_file", "C0001", "2026-11-06"),
        d("duplicate_file", "C0001", "2026-11-03"), d("corrected_file", "C0001", "2026-11-04"),
        d("impossible_date", "C0001", "2026-11-02", file="his/C0001/enc.csv", line=2),
        d("missing_file", "H0001", "2026-11-05"),  # H0001 did send: must NOT be found
        d("sex_mismatch", "C0001", "2026-11-02", file="his/C0001/enc.csv", line=9),
    ]}
    data = quality_report_data(conn, fx.MONTH, calendar=fx.CAL)
    rows = audit_defects(conn, manifest, data, tmp_path)
    assert [r["found"] for r in rows] == [True, True, True, True, True, False, False]
    assert rows[4]["where"] == "quarantine: validate.encounter.end_time.after_start"
    assert ("missing_file", 2, 1) in summary(rows)


@pytest.mark.unit
def test_dataset_without_zero_report_rule_is_not_missing_on_a_quiet_day():
    from transforms.sources.calendar import Calendar

    cal = Calendar.model_validate({"datasets": [
        {"id": "lis_lab_result", "source": "lis", "table": "lab_result", "inst_types": ["hospital"],
         "zero_report_required": False}]})
    subs = [{"source": "lis", "dataset": "lab_result", "institution_code": "H1", "status": "new",
             "partition_date": date(2026, 11, 2), "arrival_time": "2026-11-02 20:00:00", "is_zero_report": False}]
    cells = submission_cells(cal, [{"institution_code": "H1", "inst_type": "hospital"}], subs,
                             date(2026, 11, 1), date(2026, 11, 4))
    assert [(c["day"].day, c["state"]) for c in cells] == [(2, "ok")]


@pytest.mark.local
def test_previous_period_without_any_data_has_no_score(conn):
    data = quality_report_data(conn, "2026-10", calendar=fx.CAL)  # September is empty
    assert all(r["prev_score"] is None for r in data["institutions"])
