"""Each check type: the pandas form, the SQL form (DuckDB) and GX agree on the failing rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from transforms.validation.catalogue import Check
from transforms.validation.engine import flags_duckdb, flags_pandas

INST = {("dim_institution", "institution_code"): {"H1", "C1"}}


def mk(ctype: str, fields: str, params: dict | None = None, table: str = "encounter") -> Check:
    return Check(check_id=f"t.{ctype}.x", table=table, fields=fields, check_type=ctype,
                 params=json.dumps(params or {}), category="Plausibility", severity="error", threshold=0)


FRAME = pd.DataFrame({
    "code": ["H1", "C1", "ZZ", None, "H1", " "],
    "sex": ["1", "2", "3", None, "9", "0"],
    "cost": [10.5, -1.0, 3.333, None, 0.0, 12.0],
    "drug": [5.0, 0.0, 4.0, 1.0, None, 13.0],
    "start": pd.to_datetime(["2026-11-01 08:00", "2026-11-02 00:00", "2026-11-03 00:00", None, "2026-11-05 00:00", "2026-11-06 00:00"]),
    "end": pd.to_datetime(["2026-11-01 07:00", "2026-11-02 00:00", "2026-11-04 00:00", "2026-11-01 00:00", None, "2029-11-08 00:00"]),
    "flag": pd.array([True, False, True, None, True, False], dtype="boolean"),
    "issues": ["checksum;sex_mismatch", "", None, "birth_date_mismatch", "upgraded_15", "x"],
})

CASES = [
    (mk("not_null", "code"), [3, 5]),
    (mk("in_set", "sex", {"values": ["0", "1", "2", "9"]}), [2]),
    (mk("in_set", "flag", {"values": [True]}), [1, 5]),
    (mk("regex", "code", {"pattern": "^[A-Z]\\d$"}), [2, 5]),
    (mk("not_regex", "issues", {"pattern": "(^|;)(sex_mismatch|birth_date_mismatch)(;|$)"}), [0, 3]),
    (mk("between", "cost", {"min": 0}), [1]),
    (mk("between", "cost", {"min": 0, "max": 11, "where": {"flag": True}}), []),
    (mk("between", "cost", {"max": 11, "where": {"sex": ["0", "1"]}}), [5]),
    (mk("pair_order", "start;end", {"op": ">="}), [0]),
    (mk("pair_order", "start;end", {"op": ">"}), [0, 1]),
    (mk("date_span", "start;end", {"min_days": 0, "max_days": 1000}), [5]),
    (mk("date_span", "start;end", {"min_days": 1, "max_days": 1000}), [0, 1, 5]),
    (mk("decimals", "cost", {"places": 2}), [2]),
    (mk("unique", "code"), [0, 4]),
    (mk("unique", "code;sex"), []),
    (mk("sum_le", "drug", {"max_field": "cost", "tolerance": 0.01}), [1, 2, 5]),
    (mk("sum_le", "drug;cost", {"max": 20}), [5]),
    (mk("foreign_key", "code", {"ref_table": "dim_institution", "ref_field": "institution_code"}), [2, 5]),
]


@pytest.mark.unit
@pytest.mark.parametrize("check, expected", CASES, ids=[f"{c.check_type}-{i}" for i, (c, _) in enumerate(CASES)])
def test_pandas_and_duckdb_forms_find_the_same_rows(check, expected):
    pandas_rows = list(FRAME.index[flags_pandas(FRAME, [check], INST)[check.check_id]])
    sql_rows = list(FRAME.index[flags_duckdb(FRAME, [check], INST)[check.check_id]])
    assert pandas_rows == expected
    assert sql_rows == expected


@pytest.mark.unit
def test_all_checks_in_one_scan_equal_one_by_one():
    checks = [c.model_copy(update={"check_id": f"t.c.n{i}"}) for i, (c, _) in enumerate(CASES)]
    together = flags_duckdb(FRAME, checks, INST)
    for i, (_, expected) in enumerate(CASES):
        assert list(FRAME.index[together[f"t.c.n{i}"]]) == expected


@pytest.mark.local
def test_gx_on_pandas_agrees_with_our_numerators():
    """GX runs the generated expectation for each GX-mappable case; unexpected_count = our count."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from transforms.validation.suites import expectation_for

    ctx = gx.get_context(mode="ephemeral")
    batch = (ctx.data_sources.add_pandas("p").add_dataframe_asset("a")
             .add_batch_definition_whole_dataframe("b").get_batch(batch_parameters={"dataframe": FRAME}))
    got, expected = {}, {}
    for i, (c, rows) in enumerate(CASES):
        cfg = expectation_for(c)
        if cfg is None or c.check_type == "not_null":  # GX treats " " as present; ours as blank
            continue
        res = batch.validate(ExpectationConfiguration(**cfg).to_domain_obj(), result_format="SUMMARY")
        assert not res.exception_info.get("raised_exception"), res.exception_info
        got[i], expected[i] = res.result.get("unexpected_count"), len(rows)
    assert got == expected
    assert len(expected) >= 10


@pytest.mark.local
def test_generated_suites_load_in_gx_without_losing_expectations():
    from transforms.validation.catalogue import load_catalogue
    from transforms.validation.suites import all_suite_tables, gx_suite, suite_json

    cat = load_catalogue()
    for table in all_suite_tables():
        assert len(gx_suite(table, cat).expectations) == len(suite_json(table, cat)["expectations"]), table
