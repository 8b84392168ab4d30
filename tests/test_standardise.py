"""The standardise stage on tiny raw partitions, the unmapped report, re-map and PII scans."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from transforms.canonical import LINEAGE_FIELDS, TABLES
from transforms.settings import MAPPINGS_DIR, load_settings
from transforms.standardise.run import partition_dir, standardise_partition
from transforms.terminology.warehouse import own_transaction as transaction

DAY = date(2026, 3, 1)
PROFILE = """\
id: test_lis_b
source: lis
vendor: test
format: csv
files:
  - pattern: "*.csv"
    table: lab_result
    formats: {report_time: "%Y%m%d%H%M%S"}
dictionaries: {lab: lis_b}
"""
ONBOARDING = """\
version: 1
pins:
  - source: lis
    institution: "H2"
    profiles: [test_lis_b]
    dictionaries: {lab: lis_c}
  - source: lis
    institution: "*"
    profiles: [test_lis_b]
"""
PERSON = {"id_number": "11010519491231002X", "patient_name": "王芳", "sex_code": "女",
          "birth_date": "1949-12-31", "phone": "13800138000"}


@pytest.fixture()
def mappings(tmp_path, monkeypatch) -> Path:
    """A private copy of mappings/ (concept maps are edited by the re-map test) with a test profile."""
    root = tmp_path / "mappings"
    for sub in ("codesystems", "concept_maps"):
        shutil.copytree(MAPPINGS_DIR / sub, root / sub)
    shutil.copy(MAPPINGS_DIR / "units.csv", root / "units.csv")
    (root / "sources").mkdir()
    (root / "sources" / "test_lis_b.yaml").write_text(PROFILE, encoding="utf-8")
    (root / "sources" / "onboarding.yaml").write_text(ONBOARDING, encoding="utf-8")
    monkeypatch.setenv("RHP_MAPPINGS", str(root))
    return root


def write_raw(settings, table: str, rows: list[dict], source: str, inst: str, batch: str = "b1") -> None:
    cols = TABLES[table].field_names + [f.name for f in LINEAGE_FIELDS]
    df = pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols, dtype="string")
    df["_batch_id"], df["_source"], df["_profile"], df["_institution"] = batch, source, "test_lis_b", inst
    df["_partition_date"], df["_file"] = DAY.isoformat(), f"{source}/{inst}/{DAY}/results.csv"
    df["_line"] = [str(i + 2) for i in range(len(df))]
    df["_record_hash"] = [f"h{i}" for i in range(len(df))]
    out = partition_dir(settings.raw, table, source, inst, DAY)
    out.mkdir(parents=True, exist_ok=True)
    df.to_parquet(out / f"{batch}.parquet")


def read_std(settings, table: str, source: str, inst: str) -> pd.DataFrame:
    files = sorted(partition_dir(settings.standard, table, source, inst, DAY).glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def lab(code: str, name: str, value: str, unit: str | None = None, ref: str | None = None, **kw) -> dict:
    return {"report_no": "R1", "institution_code": kw.pop("inst", "H1"), "item_code": code, "item_name": name,
            "value": value, "unit": unit, "ref_range": ref, "result_status": "F",
            "report_time": "20260301083000", **PERSON, **kw}


@pytest.mark.local
def test_standardise_lab_partition(rhp_home, mappings):
    s = load_settings()
    write_raw(s, "lab_result", [
        lab("B-001", "葡萄糖", "108", "mg/dL", "70-110"),
        lab("B-001", "葡萄糖", "5.5", "mmol/L", None, report_time="2026-02-30 08:00:00"),
        lab("B-002", "糖化血红蛋白", "48", "mmol/mol"),
        lab("B-999", "血钾", "4.1", "mmol/L", id_number=None),
        lab("B-999", "血钾", "", "mmol/L"),
    ], "lis", "H1")
    report = standardise_partition(s, "lis", "H1", DAY)
    assert (report.rows_in, report.rows_out, report.files) == (5, 5, 1)
    df = read_std(s, "lab_result", "lis", "H1")
    assert not {"id_number", "patient_name", "phone", "address_detail"} & set(df.columns)
    assert df["name_masked"].unique().tolist() == ["王*"]
    assert df["person_key"].nunique() == 1 and len(df["person_key"][0]) == 64
    assert df["link_method"].tolist() == ["id_number", "id_number", "id_number", "demographic", "id_number"]
    assert df["report_time"][0] == pd.Timestamp("2026-03-01 08:30:00")
    assert pd.isna(df["report_time"][1]) and "report_time:bad_datetime(2026-02-30 08:00:00)" in df["_std_issues"][1]
    assert df["item_code_dictionary"].unique().tolist() == ["lis_b"]
    assert df["item_code_map_status"].tolist() == ["mapped", "mapped", "mapped", "unmapped", "unmapped"]
    assert df["item_code"][3] == "B-999"  # the local code is kept
    assert df["item_code_std"][0] == "14749-6" and df["hr_item_code"][0] == "HR-L001"
    assert df["value_std"][0] == pytest.approx(108 * 0.0555, abs=1e-4) and df["unit_std"][0] == "mmol/L"
    assert (df["ref_low_std"][0], df["ref_high_std"][0]) == pytest.approx((70 * 0.0555, 110 * 0.0555))
    assert df["value_std"][1] == 5.5  # already mmol/L
    # no range on the row: the dictionary range (70-110 mg/dL) converts with the map unit
    assert (df["ref_low_std"][1], df["ref_high_std"][1]) == pytest.approx((70 * 0.0555, 110 * 0.0555))
    assert df["unit_status"].tolist() == ["normalised", "normalised", "unconvertible", "unconvertible", "no_value"]
    assert df["age_at_event"][0] == 76 and df["sex_std"][0] == "2"
    assert df["result_status_std"].unique().tolist() == ["F"]
    assert df["_line"].tolist() == [2, 3, 4, 5, 6]
    with transaction(s.warehouse_url) as conn:
        um = conn.execute(sa.text("SELECT local_code, local_display, n_records, dictionary FROM unmapped_code")).all()
        links = conn.execute(sa.text("SELECT link_type, link_method, institutions FROM person_link")).all()
    assert um == [("B-999", "血钾", 2, "lis_b")]
    assert ("id_number", "id_number", "H1") in links and ("demographic", "id_number", "H1") in links
    # rerun replaces, never appends
    standardise_partition(s, "lis", "H1", DAY)
    assert len(read_std(s, "lab_result", "lis", "H1")) == 5
    with transaction(s.warehouse_url) as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM unmapped_code")).scalar() == 1


@pytest.mark.local
def test_same_resident_links_across_institutions_and_tables(rhp_home, mappings):
    s = load_settings()
    write_raw(s, "lab_result", [lab("B-001", "葡萄糖", "6.0", "mmol/L")], "lis", "H1")
    write_raw(s, "lab_result", [lab("C107", "葡萄糖", "6.1", "mmol/L", inst="H2",
                                    id_number="110105491231002", phone=None)], "lis", "H2")
    write_raw(s, "encounter", [{"encounter_no": "E1", "institution_code": "H3", "encounter_class": "住院",
                                "start_time": "2026-03-01 09:00", "total_cost": "1,234.50", "drug_cost": "/",
                                "payment_method": "居民医保", "patient_name": "王芳", "sex_code": "2",
                                "birth_date": "1949年12月31日", "phone": "138-0013-8000"}], "his", "H3")
    for src, inst in (("lis", "H1"), ("lis", "H2"), ("his", "H3")):
        standardise_partition(s, src, inst, DAY)
    h1, h2 = read_std(s, "lab_result", "lis", "H1"), read_std(s, "lab_result", "lis", "H2")
    enc = read_std(s, "encounter", "his", "H3")
    assert h2["item_code_dictionary"][0] == "lis_c" and h2["item_code_std"][0] == "14749-6"  # onboarding pin
    assert h2["link_method"][0] == "id_number_upgraded_15"
    assert enc["link_method"][0] == "demographic"
    assert h1["person_key"][0] == h2["person_key"][0] == enc["person_key"][0]
    assert enc["encounter_class_std"][0] == "I" and enc["payment_method_std"][0] == "02"
    assert enc["total_cost"][0] == 1234.5 and pd.isna(enc["drug_cost"][0])
    assert enc["_std_issues"][0] == "drug_cost:not_applicable(/)"
    with transaction(s.warehouse_url) as conn:
        insts = conn.execute(sa.text("SELECT institutions FROM person_link WHERE link_type = 'id_number'")).scalar()
    assert insts == "H1|H2"


@pytest.mark.local
def test_registry_names_are_masked(rhp_home, mappings):
    s = load_settings()
    write_raw(s, "practitioner", [{"practitioner_id": "D1", "name": "李医生", "institution_code": "H1",
                                   "is_gp": "是"}], "registry", "H1")
    standardise_partition(s, "registry", "H1", DAY)
    df = read_std(s, "practitioner", "registry", "H1")
    assert "name" not in df and df["name_masked"][0] == "李*生" and bool(df["is_gp"][0]) is True


@pytest.mark.local
def test_unmapped_report_ranks_by_records_and_institution(rhp_home, mappings):
    from transforms.terminology.warehouse import unmapped_report

    s = load_settings()
    write_raw(s, "lab_result", [lab("B-998", "钙", "2.3")] + [lab("B-999", "血钾", "4")] * 3, "lis", "H1")
    write_raw(s, "lab_result", [lab("B-998", "钙", "2.2", inst="H4")] * 4, "lis", "H4")
    (mappings / "sources" / "onboarding.yaml").write_text("institutions: {}\n", encoding="utf-8")
    standardise_partition(s, "lis", "H1", DAY)
    standardise_partition(s, "lis", "H4", DAY)
    with transaction(s.warehouse_url) as conn:
        rep = unmapped_report(conn)
    top = rep[rep["rank"] == 1]
    assert set(top["local_code"]) == {"B-998"} and top["total_records"].iloc[0] == 5
    assert top["n_institutions"].iloc[0] == 2
    h1 = rep[rep["institution_code"] == "H1"].set_index("local_code")
    assert h1.loc["B-999", "rank_in_institution"] == 1 and h1.loc["B-998", "rank_in_institution"] == 2
    assert rep[rep["local_code"] == "B-999"]["rank"].iloc[0] == 2


@pytest.mark.local
def test_remap_end_to_end(rhp_home, mappings, capsys):
    from transforms.terminology.remap import remap
    from transforms.terminology.suggest import main as suggest_main
    from transforms.terminology.warehouse import unmapped_report

    s = load_settings()
    write_raw(s, "lab_result", [lab("C205", "血钾", "4.2", "mEq/L", inst="H2")], "lis", "H2")
    write_raw(s, "lab_result", [lab("B-999", "钙", "2.3")], "lis", "H1")
    standardise_partition(s, "lis", "H2", DAY)
    standardise_partition(s, "lis", "H1", DAY)
    before = read_std(s, "lab_result", "lis", "H2")
    assert before["item_code_map_status"][0] == "unmapped" and before["unit_status"][0] == "unconvertible"
    with transaction(s.warehouse_url) as conn:
        assert "C205" in set(unmapped_report(conn)["local_code"])
    assert remap(s) == []  # nothing maps yet
    assert suggest_main(["--dictionary", "lis_c", "--kind", "lab", "--top", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("C205\t血钾") and "2823-3" in lines[1]  # top candidate via the synonym list
    assert len(lines) == 4
    assert suggest_main(["--dictionary", "lis_c", "--kind", "lab", "--accept", "C205=2823-3",
                         "--reviewer", "reviewer-wang"]) == 0
    assert "map_version 2026.2" in capsys.readouterr().out
    h1_mtime = next(partition_dir(s.standard, "lab_result", "lis", "H1", DAY).glob("*.parquet")).stat().st_mtime_ns
    assert remap(s) == [{"source": "lis", "institution": "H2", "day": DAY.isoformat()}]
    after = read_std(s, "lab_result", "lis", "H2")
    assert after["item_code_map_status"][0] == "mapped" and after["item_code_std"][0] == "2823-3"
    assert after["value_std"][0] == 4.2 and after["unit_std"][0] == "mmol/L" and after["unit_status"][0] == "normalised"
    assert next(partition_dir(s.standard, "lab_result", "lis", "H1", DAY).glob("*.parquet")).stat().st_mtime_ns == h1_mtime
    with transaction(s.warehouse_url) as conn:
        assert set(unmapped_report(conn)["local_code"]) == {"B-999"}
    assert remap(s) == []


def _fill_and_scan(url: str, std: pd.DataFrame) -> tuple[list, list]:
    from transforms.identity.pii_scan import scan_warehouse
    from transforms.terminology.codeset import load_codeset
    from transforms.terminology.warehouse import load_code_systems

    cols = ["person_key", "name_masked", "item_code", "item_name", "value", "_file", "id_issues"]
    rows = std[cols].astype(object).where(std[cols].notna(), None).to_dict("records")
    with transaction(url) as conn:
        counts = load_code_systems(conn)
        cs = load_codeset()
        assert counts["cs_concept"] == sum(len(c.concepts) for c in cs.systems.values())
        assert counts["cm_concept_map"] == sum(len(m) for m in cs.maps.values())
        conn.execute(sa.text("CREATE TABLE std_lab (" + ", ".join(f"{c} VARCHAR" for c in cols) + ")"))
        conn.execute(sa.text(f"INSERT INTO std_lab VALUES ({', '.join(':' + c for c in cols)})"), rows)
        clean = scan_warehouse(conn, known_names=["王芳"])
        conn.execute(sa.text("CREATE TABLE leaky (note VARCHAR, n INTEGER)"))
        conn.execute(sa.text("INSERT INTO leaky VALUES ('患者王芳 身份证11010519491231002X 电话138-0013-8000', 1),"
                             " ('旧证 110105491231002', 2), ('360426199101010072 is not a valid id', 3)"))
        dirty = scan_warehouse(conn, known_names=["王芳"])
    return clean, dirty


@pytest.mark.local
def test_pii_scan_duckdb(rhp_home, mappings):
    s = load_settings()
    write_raw(s, "lab_result", [lab("B-001", "葡萄糖", "6")], "lis", "H1")
    standardise_partition(s, "lis", "H1", DAY)
    clean, dirty = _fill_and_scan(s.warehouse_url, read_std(s, "lab_result", "lis", "H1"))
    assert clean == []
    got = {(f.table, f.column, f.kind): f.n_values for f in dirty}
    assert got == {("leaky", "note", "resident_id"): 2, ("leaky", "note", "phone"): 1, ("leaky", "note", "name"): 1}
    assert all("11010519491231002X" not in f.example for f in dirty)


@pytest.mark.postgres
def test_load_code_systems_and_pii_scan_postgres(pg_url, rhp_home, mappings, monkeypatch):
    monkeypatch.setenv("RHP_WAREHOUSE_URL", pg_url)
    s = load_settings()
    write_raw(s, "lab_result", [lab("B-001", "葡萄糖", "6")], "lis", "H1")
    standardise_partition(s, "lis", "H1", DAY)
    clean, dirty = _fill_and_scan(pg_url, read_std(s, "lab_result", "lis", "H1"))
    assert clean == []
    assert {(f.table, f.kind) for f in dirty} == {("leaky", "resident_id"), ("leaky", "phone"), ("leaky", "name")}
    with transaction(pg_url) as conn:
        n = conn.execute(sa.text(
            "SELECT COUNT(*) FROM cm_concept_map m JOIN cs_concept c "
            "ON c.system = m.target_system AND c.code = m.target_code")).scalar()
        assert n == conn.execute(sa.text("SELECT COUNT(*) FROM cm_concept_map")).scalar()


@pytest.mark.unit
def test_dictionary_resolution_reads_both_onboarding_shapes(tmp_path):
    from transforms.standardise.dictionaries import load_source_config

    (tmp_path / "test_lis_b.yaml").write_text(PROFILE, encoding="utf-8")
    (tmp_path / "onboarding.yaml").write_text(
        "pins:\n  - {source: lis, institution: 'H??????00002', dictionaries: {lab: lis_c}}\n"
        "  - {source: lis, institution: 'H*'}\n"
        "institutions:\n  Z9: {lis: {dictionaries: {lab: lis_a}}}\n", encoding="utf-8")
    cfg = load_source_config(tmp_path)
    assert cfg.dictionary("lab", "lis", "H11010500002", "test_lis_b") == "lis_c"
    assert cfg.dictionary("lab", "lis", "H11010500001", "test_lis_b") == "lis_b"  # pin without dictionaries
    assert cfg.dictionary("lab", "his", "H11010500002", "test_lis_b") == "lis_b"  # other source
    assert cfg.dictionary("lab", "lis", "Z9", None) == "lis_a"
    assert cfg.dictionary("lab", "lis", "Q1", "unknown-profile") is None
    assert cfg.formats("test_lis_b", "lab_result") == {"report_time": "%Y%m%d%H%M%S"}
    (tmp_path / "broken.yaml").write_text("id: x\nformat: nope\n", encoding="utf-8")
    assert any("broken.yaml" in w for w in load_source_config(tmp_path).warnings)


def test_cast_column_per_distinct_value_matches_each_value_alone():
    from transforms.standardise.casting import cast_column

    values = ["2026-11-02", " 20261102 ", None, "", "/", "2026-13-01", "2026-11-02", "20261102083000+0215"]
    for kind in ("date", "datetime", "int", "decimal", "bool"):
        s = pd.Series(values * 2 + ["1", "1,200", "yes"], dtype="str")
        typed, why = cast_column(s, kind, [])
        again, why_again = cast_column(s, kind, [])  # served from the cache the second time
        assert typed.dtype == again.dtype and typed.tolist() == again.tolist()
        assert why.tolist() == why_again.tolist() and typed.index.equals(s.index)
        for i in range(len(s)):
            one, one_why = cast_column(s.iloc[[i]].reset_index(drop=True), kind, [])
            if kind != "datetime":  # an offset anywhere in a datetime column changes its unit, not values
                assert typed.iloc[i] is one.iloc[0] or typed.iloc[i] == one.iloc[0] or (
                    pd.isna(typed.iloc[i]) and pd.isna(one.iloc[0]))
            assert why.iloc[i] is one_why.iloc[0] or why.iloc[i] == one_why.iloc[0]
