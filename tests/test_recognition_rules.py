"""The recognition rules one reason at a time, and the rule files' validation."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from decimal import Decimal

import pytest

from transforms.recognition.catalogue import RECOGNITION_DIR, RuleFileError, load_rules
from transforms.recognition.rules import Candidate, Membership, assess, shared_group

pytestmark = pytest.mark.unit
AT = datetime(2026, 10, 10, 12, 0)
RULES = load_rules()
G1 = [Membership("HOSP-A", "G1", date(2026, 1, 1), None), Membership("LAB-C", "G1", date(2026, 1, 1), None),
      Membership("HOSP-B", "G1", date(2025, 1, 1), date(2026, 6, 1))]


def cand(**kw) -> Candidate:
    base = dict(result_id="x", item_kind="lab", item_code="14749-6", result_time=datetime(2026, 10, 8, 12),
                status="final", performing_institution="LAB-C", value_num=5.0, unit="mmol/L")
    base.update(kw)
    return Candidate(**base)


def test_recognisable_and_days_left():
    a = assess(cand(), RULES, "HOSP-A", AT, G1)
    assert a.status == "recognisable"
    assert a.valid_until == datetime(2026, 10, 15, 12)  # 7-day glucose window from the catalogue
    assert "5 days more" in a.reason


def test_hr_item_code_resolves_to_the_same_catalogue_entry():
    assert RULES.unified_code("HR-L001") == "14749-6"
    assert RULES.item("HR-L001", AT.date()) == RULES.item("14749-6", AT.date())


def test_expired_says_how_long_ago():
    a = assess(cand(result_time=datetime(2026, 9, 30, 12)), RULES, "HOSP-A", AT, G1)
    assert (a.status, a.reason.split(" (")[0]) == ("expired", "expired 3 days ago")


def test_not_qualified_names_institution_and_date():
    a = assess(cand(performing_institution="HOSP-B", result_time=datetime(2026, 10, 1, 9)), RULES, "HOSP-A", AT, G1)
    assert a.status == "not_qualified"
    assert "institution HOSP-B not qualified for the item on 2026-10-01" in a.reason
    assert "failed" in a.reason  # the failed EQA row wins over the passed wildcard


def test_qualified_before_the_failed_period():
    a = assess(cand(performing_institution="HOSP-B", result_time=datetime(2026, 8, 30, 9)), RULES, "HOSP-A",
               datetime(2026, 9, 2), G1)
    assert a.status == "recognisable"


def test_unknown_institution_not_qualified():
    assert assess(cand(performing_institution="NOWHERE"), RULES, "HOSP-A", AT, G1).status == "not_qualified"


@pytest.mark.parametrize("status", ["preliminary", "cancelled", None])
def test_not_final(status):
    a = assess(cand(status=status), RULES, "HOSP-A", AT, G1)
    assert a.status == "not_final"
    assert (status or "missing-status") in a.reason


def test_corrected_counts_as_final():
    assert assess(cand(status="corrected"), RULES, "HOSP-A", AT, G1).status == "recognisable"


@pytest.mark.parametrize("kw,word", [({"value_num": None}, "value"), ({"unit": None}, "unit")])
def test_unit_not_normalised(kw, word):
    a = assess(cand(**kw), RULES, "HOSP-A", AT, G1)
    assert a.status == "unit_not_normalised" and word in a.reason


def test_not_in_catalogue_tsh_has_no_hr_code():
    a = assess(cand(item_code="3016-3"), RULES, "HOSP-A", AT, G1)
    assert a.status == "not_in_catalogue" and "3016-3" in a.reason


def test_group_scope_uses_result_date_for_performer_and_query_date_for_requester():
    crp = dict(item_code="1988-5", result_time=datetime(2026, 10, 9, 12))
    assert assess(cand(**crp), RULES, "HOSP-A", AT, G1).status == "recognisable"
    left = assess(cand(performing_institution="HOSP-B", **crp), RULES, "HOSP-A", AT, G1)
    assert left.status == "outside_group" and "share no medical group" in left.reason
    # HOSP-B was in G1 on 2026-05-30 when it tested; HOSP-A is in G1 on the query date
    assert shared_group(G1, "HOSP-B", "HOSP-A", date(2026, 5, 30), date(2026, 6, 1)) == "G1"
    assert shared_group(G1, "HOSP-B", "HOSP-A", date(2026, 6, 1), date(2026, 6, 1)) is None


def test_exam_window_from_exam_items():
    ct = cand(item_kind="exam", item_code="EX-CT-CHEST", performing_institution="HOSP-B", value_num=None,
              unit=None, result_time=datetime(2026, 4, 1, 12))
    assert assess(ct, RULES, "HOSP-A", datetime(2026, 9, 27, 12), G1).status == "recognisable"
    assert assess(ct, RULES, "HOSP-A", datetime(2026, 9, 28, 12), G1).status == "expired"  # 180 days


def test_price_is_effective_dated():
    assert RULES.price("EX-CT-CHEST", date(2026, 6, 30)) == Decimal("220.00")
    assert RULES.price("EX-CT-CHEST", date(2026, 7, 1)) == Decimal("200.00")


@pytest.mark.parametrize("file,find,replace,field", [
    ("catalogue.csv", "2026.1,lab,14749-6,HR-L001,numeric,7,", "2026.1,lab,14749-6,HR-L001,numeric,-7,",
     "validity_days"),
    ("catalogue.csv", "2026.1,lab,4548-4,HR-L002,numeric,30,region", "2026.1,lab,4548-4,HR-L002,numeric,30,world",
     "scope"),
    ("qualifications.csv", "HOSP-A,*lab,passed", "HOSP-A,*lab,maybe", "qc_status"),
    ("prices.csv", "14749-6,6.00,", "14749-6,six,", "price_yuan"),
])
def test_bad_rule_row_names_file_line_and_field(tmp_path, file, find, replace, field):
    d = tmp_path / "recognition"
    shutil.copytree(RECOGNITION_DIR, d)
    text = (d / file).read_text(encoding="utf-8")
    assert find in text
    (d / file).write_text(text.replace(find, replace, 1), encoding="utf-8")
    with pytest.raises(RuleFileError) as exc:
        load_rules(d)
    assert file in str(exc.value) and f"field '{field}'" in str(exc.value) and "line " in str(exc.value)


def test_every_catalogued_lab_item_uses_the_unified_code_set():
    import csv

    loinc = {r["code"]: r["hr_item_code"] for r in csv.DictReader(
        (RECOGNITION_DIR.parent / "codesystems" / "loinc_lab_subset.csv").open(encoding="utf-8"))}
    exams = {r["code"] for r in csv.DictReader(
        (RECOGNITION_DIR.parent / "codesystems" / "exam_items.csv").open(encoding="utf-8"))}
    for it in RULES.catalogue:
        if it.item_kind == "lab":
            assert loinc[it.item_code] == it.hr_item_code
        else:
            assert it.item_code in exams
