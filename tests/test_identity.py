"""Resident-ID validation, person keys, name masking and deterministic linking."""

from __future__ import annotations

import csv
from datetime import date

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.identity import person_key as pk
from transforms.identity import resident_id as rid
from transforms.identity.mpi import resolve

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("number", ["11010519491231002X", "360426199101010071", "110101202311012176"])
def test_domain_vectors_pass(number):
    c = rid.check(number, today=date(2026, 1, 1))
    assert c.valid and c.id18 == number and c.issues == ()


def test_domain_vector_checksum_fails():
    c = rid.check("360426199101010072")
    assert not c.valid and c.issues == ("checksum",) and c.id18 is None


def test_domain_vector_length_fails():
    c = rid.check("3112219680806371X")
    assert not c.valid and c.issues == ("length",)


def test_check_char_matches_stdnum():
    from stdnum.cn import ric

    for body in ("11010519491231002", "36042619910101007", "44030419850607123"):
        assert rid.check_char(body) == ric.calc_check_digit(body + "0")


def test_fullwidth_and_lowercase_x_are_accepted():
    c = rid.check("１１０１０５１９４９１２３１００２ｘ")
    assert c.valid and c.id18 == "11010519491231002X"
    assert rid.check("11010519491231002x").id18 == "11010519491231002X"


def test_15_digit_upgrade():
    assert rid.upgrade_15("110105491231002") == "11010519491231002X"
    c = rid.check("110105491231002")
    assert c.valid and c.upgraded_from_15 and c.id18 == "11010519491231002X"
    assert "upgraded_15" in c.issues
    with pytest.raises(ValueError, match="15-digit"):
        rid.upgrade_15("12345")


def test_impossible_birth_date_and_unknown_division():
    body = "11010519490230002"  # 30 February
    c = rid.check(body + rid.check_char(body))
    assert not c.valid and "birth_date" in c.issues
    body = "99990019491231002"  # no such county
    c = rid.check(body + rid.check_char(body))
    assert not c.valid and c.issues == ("division",)


def test_division_history_accepts_county_valid_at_issue(fixtures_dir):
    # every county of the MCA 2019-04 list was valid in 2019; spot-check a deterministic sample
    with (fixtures_dir / "gb2260-mca-201904" / "mca-201904.tsv").open(encoding="utf-8") as fh:
        codes = [r["Code"] for r in csv.DictReader(fh, delimiter="\t") if not r["Code"].endswith("00")]
    sample = codes[:: max(len(codes) // 200, 1)]
    known = [c for c in sample if rid.division_valid(c, 2019)]
    assert len(known) / len(sample) > 0.95, sorted(set(sample) - set(known))[:10]


def test_sex_and_birth_cross_check():
    c = rid.check("11010519491231002X")  # female, 1949-12-31
    assert c.sex_code == "2"
    assert rid.cross_check(c, "1", date(1949, 12, 31)) == ("sex_mismatch",)
    assert rid.cross_check(c, "2", date(1950, 1, 1)) == ("birth_date_mismatch",)
    assert rid.cross_check(c, "2", date(1949, 12, 31)) == ()
    assert rid.cross_check(c, "9", None) == ()  # not stated is not a disagreement


def test_person_key_is_stable_and_key_dependent():
    a = pk.id_key(b"key-one", "11010519491231002X")
    assert a == pk.id_key(b"key-one", "11010519491231002X")
    assert len(a) == 64 and int(a, 16) >= 0
    assert a != pk.id_key(b"key-two", "11010519491231002X")
    assert a != pk.id_key(b"key-one", "360426199101010071")
    assert "11010519491231002X" not in a


def test_mask_name():
    assert pk.mask_name("张三明") == "张*明"
    assert pk.mask_name("张三") == "张*"
    assert pk.mask_name("欧阳娜娜") == "欧**娜"
    assert pk.mask_name("Li Lei") == "L***"
    assert pk.mask_name(None) is None


def test_age_at():
    assert pk.age_at(date(1949, 12, 31), date(2026, 12, 30)) == 76
    assert pk.age_at(date(1949, 12, 31), date(2026, 12, 31)) == 77


def _people(rows):
    cols = ["patient_local_id", "id_number", "patient_name", "sex_code", "birth_date", "phone"]
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows], columns=cols, dtype="string")


def test_linking_across_institutions_and_by_demographics():
    key = b"k"
    a = _people([
        {"id_number": "11010519491231002X", "patient_name": "王 芳", "phone": "+86 138-0013-8000"},
        {"id_number": "110105491231002", "patient_name": "王芳"},  # 15-digit form, same person
    ])
    sex = pd.Series(["2", "2"], dtype="string")
    birth = pd.Series([date(1949, 12, 31), date(1949, 12, 31)])
    ident_a, links_a = resolve(a, key, "H1", {}, sex, birth)
    assert ident_a["link_method"].tolist() == ["id_number", "id_number_upgraded_15"]
    assert ident_a["person_key"].nunique() == 1
    known = {h: r.person_key for h, r in links_a.items() if r.link_type == "demographic"}
    b = _people([
        {"patient_name": "王芳", "phone": "13800138000"},  # no ID, same demographics
        {"patient_name": "王芳", "phone": "13900000000"},  # different phone: a different link
        {"patient_local_id": "P-9"},
        {},
    ])
    ident_b, links_b = resolve(b, key, "H2", known, pd.Series(["2"] * 4, dtype="string"),
                               pd.Series([date(1949, 12, 31)] * 4))
    assert ident_b["link_method"].tolist() == ["demographic", "demographic", "local_id", "unlinked"]
    assert ident_b["person_key"][0] == ident_a["person_key"][0]
    assert ident_b["person_key"][1] != ident_a["person_key"][0]
    assert pd.isna(ident_b["person_key"][3])
    assert ident_b["id_valid"].tolist() == [False] * 4
    assert all(rec.link_type in {"demographic", "local_id"} for rec in links_b.values())
    assert not any("王芳" in h or "13800138000" in h for h in links_b)


def test_resolve_flags_mismatch_and_prefers_id_values():
    df = _people([{"id_number": "11010519491231002X", "patient_name": "王芳"}])
    ident, _ = resolve(df, b"k", "H1", {}, pd.Series(["1"], dtype="string"), pd.Series([date(1950, 1, 1)]))
    assert set(ident["id_issues"][0].split(";")) == {"sex_mismatch", "birth_date_mismatch"}
    assert ident["sex_std"][0] == "2" and ident["birth_date_std"][0] == date(1949, 12, 31)


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(1998, 12, 31)), st.integers(0, 999))
def test_property_upgrade_and_checksum(birth, seq):
    id15 = f"110105{birth:%y%m%d}{seq:03d}"
    id18 = rid.upgrade_15(id15)
    assert id18[:6] + id18[8:17] == id15 and id18[6:8] == "19"
    assert rid.check_char(id18[:17]) == id18[17]
    wrong = next(c for c in "0123456789X" if c != id18[17])
    assert "checksum" in rid.check(id18[:17] + wrong).issues
    assert rid.check(id18).sex_code == ("1" if seq % 2 else "2")


@pytest.mark.unit
def test_missing_values_from_blank_cells_are_not_names():
    """A blank cell can arrive as NaN; it is no name and no phone (found on a 10-day synthetic run)."""
    from transforms.identity.person_key import mask_name, norm_name, norm_phone

    nan = float("nan")
    assert mask_name(nan) is None and norm_name(nan) is None and norm_phone(nan) is None


def test_known_links_fetch_only_the_batch_hashes_once():
    from transforms.identity.mpi import KnownLinks

    key = b"k"
    a = _people([{"id_number": "11010519491231002X", "patient_name": "王芳", "phone": "13800138000"}])
    _, links_a = resolve(a, key, "H1", {}, pd.Series(["2"], dtype="string"), pd.Series([date(1949, 12, 31)]))
    table = {h: r.person_key for h, r in links_a.items() if r.link_type == "demographic"}
    table["unrelated"] = "p-x"
    asked: list[list[str]] = []

    def fetch(hashes: list[str]) -> dict[str, str]:
        asked.append(sorted(hashes))
        return {h: table[h] for h in hashes if h in table}

    known = KnownLinks(fetch)
    b = _people([{"patient_name": "王芳", "phone": "13800138000"}] * 3 + [{"patient_name": "李四", "phone": "1"}])
    args = (pd.Series(["2"] * 4, dtype="string"), pd.Series([date(1949, 12, 31)] * 4))
    ident, links_b = resolve(b, key, "H2", known, *args)
    assert ident["link_method"].tolist() == ["demographic"] * 4
    assert ident["person_key"].tolist()[:3] == [links_a_key(links_a)] * 3  # joined the ID holder
    assert len(asked) == 1 and "unrelated" not in asked[0] and len(asked[0]) == 2
    assert sum(r.n_records for r in links_b.values()) == 4
    resolve(b, key, "H2", known, *args)
    assert len(asked) == 1  # hashes asked before are not fetched again


def links_a_key(links) -> str:
    return next(r.person_key for r in links.values() if r.link_type == "id_number")


def test_resolve_repeated_rows_match_row_by_row():
    key = b"k"
    rows = [{"id_number": "11010519491231002X", "patient_name": "王芳", "phone": "13800138000"},
            {"patient_name": "王芳", "phone": "13800138000"}, {"patient_local_id": "P-9"}, {}]
    df = _people(rows * 3)
    sex, birth = pd.Series(["2"] * 12, dtype="string"), pd.Series([date(1949, 12, 31)] * 12)
    ident, links = resolve(df, key, "H1", {}, sex, birth)
    for i, r in enumerate(rows):
        one, _ = resolve(_people([r]), key, "H1", {}, sex[:1], birth[:1])
        for c in ident.columns:
            assert ident[c].iloc[i::4].tolist() == [one[c].iloc[0]] * 3 or c == "person_key" and i == 1
    assert ident["person_key"][1] == ident["person_key"][0]  # demographics joined the ID in the batch
    assert {r.n_records for r in links.values()} == {6, 3}
