"""The check catalogue: schema errors name the field; suites are generated and up to date."""

from __future__ import annotations

import typing

import pytest

from transforms.canonical import TABLES
from transforms.validation import checktypes
from transforms.validation.catalogue import CatalogueError, CheckType, load_catalogue, parse_rows
from transforms.validation.suites import stale_suites, suite_json

pytestmark = pytest.mark.unit

GOOD = {"check_id": "encounter.x.required", "table": "encounter", "fields": "start_time", "check_type": "not_null",
        "params": "{}", "category": "Completeness", "severity": "error", "threshold": "0", "doc": ""}


def test_catalogue_loads_and_every_type_has_both_forms():
    cat = load_catalogue()
    assert len(cat) > 100
    types = set(typing.get_args(CheckType))
    assert set(checktypes.PANDAS) == types == set(checktypes.SQL)
    assert {c.check_type for c in cat} == types  # every type is used by at least one check


def test_every_required_national_element_has_a_completeness_check():
    covered = {(c.table, c.fields[0]) for c in load_catalogue() if c.check_type == "not_null"}
    for t in TABLES.values():
        for f in t.fields:
            if f.required and not f.pii:
                assert (t.name, f.name) in covered, f"{t.name}.{f.name} has no not_null check"


@pytest.mark.parametrize("change, field", [
    ({"table": "encountr"}, "table"),
    ({"params": "{bad json"}, "params"),
    ({"severity": "fatal"}, "severity"),
    ({"threshold": "150"}, "threshold"),
    ({"category": "Accuracy"}, "category"),
    ({"check_type": "pair_order", "params": '{"op": ">="}'}, "fields"),
    ({"check_type": "between", "params": '{"minimum": 0}'}, "params"),
    ({"check_type": "sum_le", "params": "{}"}, "params"),
    ({"check_id": "No Dots"}, "check_id"),
])
def test_bad_catalogue_row_names_the_field(change, field):
    with pytest.raises(CatalogueError) as exc:
        parse_rows([GOOD, {**GOOD, "check_id": "encounter.y.required", **change}], source="catalogue.csv")
    msg = str(exc.value)
    assert "row 3" in msg and field in msg, msg


def test_duplicate_check_id_rejected():
    with pytest.raises(CatalogueError, match="duplicate"):
        parse_rows([GOOD, GOOD])


def test_generated_suites_are_up_to_date():
    assert stale_suites() == [], "run: python -m transforms.validation.suites"


def test_suite_maps_thresholds_and_filters():
    cat = load_catalogue()
    s = suite_json("lab_result", cat)
    by_id = {e["meta"]["check_id"]: e for e in s["expectations"]}
    glu = by_id["lab_result.value_std.range_14749_6"]
    assert glu["type"] == "expect_column_values_to_be_between"
    assert glu["kwargs"]["row_condition"] == "item_code_std=='14749-6'"
    warn = by_id["lab_result.unit_status.convertible"]
    assert warn["kwargs"]["mostly"] == pytest.approx(0.98)
    assert "lab_result.institution_code.registered" in s["meta"]["sql_only"]
