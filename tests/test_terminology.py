"""Concept-map and code-system models, value domains, unit conversion, suggestions."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from transforms.settings import MAPPINGS_DIR
from transforms.terminology.codeset import load_codeset
from transforms.terminology.models import TerminologyFileError, load_concept_map
from transforms.terminology.units import load_units, norm_unit, parse_ref_range

GOOD = MAPPINGS_DIR / "concept_maps" / "lab" / "lis_b.csv"


def _bad_copy(tmp_path: Path, line_no: int, old: str, new: str) -> Path:
    lines = GOOD.read_text(encoding="utf-8").splitlines()
    assert old in lines[line_no - 1]
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    path = tmp_path / "lis_b.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.unit
def test_every_shipped_map_and_code_system_loads():
    cs = load_codeset(MAPPINGS_DIR)
    assert len(cs.concept_map("lab", "lis_b")) == 18
    assert cs.map_versions[("lab", "lis_c")] == "2026.1"
    for (kind, dictionary), rows in cs.maps.items():
        for r in rows.values():
            assert cs.target(r.target_system, r.target_code) is not None, (kind, dictionary, r.source_code)


@pytest.mark.unit
@pytest.mark.parametrize("line,old,new,field", [
    (3, ",equivalent,", ",same-ish,", "equivalence"),
    (4, ",2026.1,", ",v1,", "map_version"),
    (5, "http://loinc.org", "http://example.org/not-declared", "target_system"),
    (6, ",125,", ",seventy,", "ref_low"),
    (7, ",demo-reviewer,", ",,", "reviewed_by"),
])
def test_bad_concept_map_names_file_line_and_field(tmp_path, line, old, new, field):
    path = _bad_copy(tmp_path, line, old, new)
    with pytest.raises(TerminologyFileError) as exc:
        load_concept_map(path)
    msg = str(exc.value)
    assert str(path) in msg and f"line {line}" in msg and repr(field) in msg


@pytest.mark.unit
def test_duplicate_local_code_is_an_error(tmp_path):
    path = _bad_copy(tmp_path, 3, "B-002", "B-001")
    with pytest.raises(TerminologyFileError, match=r"line 3: field 'source_code'.*already mapped at line 2"):
        load_concept_map(path)


@pytest.mark.unit
def test_bad_code_system_file_names_file(tmp_path):
    root = tmp_path / "m"
    shutil.copytree(MAPPINGS_DIR / "codesystems", root / "codesystems")
    shutil.copytree(MAPPINGS_DIR / "concept_maps", root / "concept_maps")
    shutil.copy(MAPPINGS_DIR / "units.csv", root / "units.csv")
    p = root / "codesystems" / "value_domains" / "sex.csv"
    p.write_text(p.read_text(encoding="utf-8") + ",没有代码,,\n", encoding="utf-8")
    with pytest.raises(TerminologyFileError, match=r"sex\.csv: line 6: field 'code'"):
        load_codeset(root)


@pytest.mark.unit
def test_value_domains():
    cs = load_codeset(MAPPINGS_DIR)
    eth = cs.domain("ethnicity")
    codes = {c.code for c in eth.concepts}
    assert len([c for c in codes if int(c) <= 56]) == 56 and {"97", "98"} <= codes
    assert cs.lookup_domain("ethnicity", "HA").code == "01"
    assert cs.lookup_domain("ethnicity", "MG").display == "蒙古族"
    assert cs.lookup_domain("ethnicity", "1").code == "01"
    letters = [c.properties.get("letter_code") for c in eth.concepts if int(c.code) <= 56]
    assert len(set(letters)) == 56
    labels = {"门诊": "O", "急诊": "E", "住院": "I", "日间手术": "DS", "互联网": "VR", "上门": "HH",
              "家庭病床": "HB", "体检": "CHK"}
    assert {k: cs.lookup_domain("encounter_class", k).code for k in labels} == labels
    assert cs.lookup_domain("sex", "女").code == "2" and cs.lookup_domain("sex", "m").code == "1"
    assert cs.lookup_domain("marital", "丧偶").code == "30"
    assert cs.lookup_domain("payment_method", "自费").code == "07"
    assert cs.lookup_domain("referral_direction", "上转").code == "up"
    assert len(cs.domain("key_population").concepts) == 10
    assert cs.lookup_domain("vaccine", "卡介苗").code == "NIP-BCG"
    assert cs.lookup_domain("encounter_class", "巡诊") is None
    assert cs.lookup_domain("encounter_class", "MZ").code == "O"  # pinyin initials used by HIS vendors
    assert cs.lookup_domain("vaccine", "08").code == "NIP-HEPB"  # CVX code as submitted by FHIR sources
    assert cs.lookup_domain("vaccine", "110") is None  # CVX 110 is a combination vaccine, not in the NIP list
    assert cs.lookup_domain("channel", "互联网").code == "online"


@pytest.mark.unit
def test_unit_conversions():
    units = load_units(MAPPINGS_DIR / "units.csv")
    glucose = units.factor("14749-6", "mg/dL", "mmol/L")
    assert round(108 * glucose, 2) == 5.99  # 108 mg/dL = 6.0 mmol/L
    assert round(200 * units.factor("14647-2", "mg/dl", "mmol/L"), 2) == 5.17
    assert units.factor("14682-9", "mg/dL", "μmol/L") == pytest.approx(88.42)
    assert units.factor("718-7", "g/dL", "g/L") == 10
    assert units.factor("6690-2", "10^9/L", "10*9/L") == 1.0  # spelling only
    assert units.factor("3016-3", "uIU/mL", "m[IU]/L") == 1
    assert units.factor("4548-4", "mmol/mol", "%") is None  # HbA1c IFCC → NGSP is not a factor
    assert units.factor("14749-6", "mg/dL", None) is None
    assert norm_unit("µmol/l") == "umol/L"


@pytest.mark.unit
def test_units_file_errors_name_line(tmp_path):
    p = tmp_path / "units.csv"
    p.write_text("analyte,from_unit,to_unit,factor,note\n*,g/dL,g/L,ten,\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"units.csv: line 2: field 'factor'"):
        load_units(p)


@pytest.mark.unit
def test_parse_ref_range():
    assert parse_ref_range("3.9-6.1") == (3.9, 6.1)
    assert parse_ref_range("3.9～6.1") == (3.9, 6.1)
    assert parse_ref_range("<5.2") == (None, 5.2)
    assert parse_ref_range("≥1.04") == (1.04, None)
    assert parse_ref_range("阴性") == (None, None)


@pytest.mark.unit
def test_suggestions_rank_synonyms_and_typos():
    from transforms.terminology.suggest import load_synonyms, suggest, target_system

    cs = load_codeset(MAPPINGS_DIR)
    lab = target_system(cs, "lab")
    syn = load_synonyms(MAPPINGS_DIR / "codesystems" / "synonyms.csv")
    assert suggest("血钾", lab, syn, 1)[0].code == "2823-3"
    assert suggest("谷丙转氨酶", lab, syn, 1)[0].code == "1742-6"
    top = suggest("谷丙转氨酶", lab, [], 5)
    assert len(top) == 5 and top[0].score >= top[-1].score
    assert suggest("C反映蛋白", lab, [], 1)[0].code == "1988-5"  # typo, same pinyin


@pytest.mark.unit
def test_suggestion_precision_is_computed():
    from transforms.terminology.suggest_eval import evaluate, holdout_rows

    cs = load_codeset(MAPPINGS_DIR)
    rows = holdout_rows(cs, 0.3)
    assert len(rows) == sum(-(-len(m) * 3 // 10) for m in cs.maps.values())
    exact = evaluate(cs, 0.3, "exact")
    assert exact.n == len(rows) and exact.p_at_1 == 1.0  # local displays equal national ones
    plain = evaluate(cs, 0.3, "synonym", use_synonyms=False)
    helped = evaluate(cs, 0.3, "synonym", use_synonyms=True)
    assert 0 < plain.n == helped.n
    assert 0.0 <= plain.p_at_1 <= plain.p_at_5 <= 1.0
    assert helped.p_at_1 > plain.p_at_1


@pytest.mark.unit
def test_accept_appends_reviewed_row_with_version_bump(tmp_path):
    from transforms.terminology.suggest import accept

    root = tmp_path / "m"
    for sub in ("codesystems", "concept_maps"):
        shutil.copytree(MAPPINGS_DIR / sub, root / sub)
    shutil.copy(MAPPINGS_DIR / "units.csv", root / "units.csv")
    cs = load_codeset(root)
    row = accept(cs, "lab", "lis_c", "C205", "2823-3", "reviewer-wang", "血钾")
    assert row.map_version == "2026.2" and row.unit == "mmol/L" and row.hr_item_code == "HR-L015"
    rows = load_concept_map(root / "concept_maps" / "lab" / "lis_c.csv")
    assert rows[-1].source_code == "C205" and rows[-1].reviewed_by == "reviewer-wang"
    assert load_codeset(root).concept_map("lab", "lis_c")["C205"].target_code == "2823-3"
    with pytest.raises(ValueError, match="already mapped"):
        accept(load_codeset(root), "lab", "lis_c", "C205", "2823-3", "x")
    with pytest.raises(ValueError, match="not a code"):
        accept(load_codeset(root), "lab", "lis_c", "C999", "0000-0", "x")
    assert (MAPPINGS_DIR / "concept_maps" / "lab" / "lis_c.csv").read_text(encoding="utf-8").count("C205") == 0


@pytest.mark.unit
def test_multi_valued_key_populations():
    import pandas as pd

    from transforms.standardise.codes import map_multi_domain

    cs = load_codeset(MAPPINGS_DIR)
    out = map_multi_domain(pd.Series(["elderly65|htn", "糖尿病，残疾人", "htn|外星人", None]), cs, "key_population")
    assert out["std"].tolist()[:3] == ["elderly65|htn", "disabled|dm", "htn"]
    assert out["map_status"].tolist() == ["mapped", "mapped", "unmapped", "missing"]
