"""GX suites, generated from the catalogue: ``python -m transforms.validation.suites [--check]``.

The catalogue is the source of truth; ``expectations/suites/<table>.json`` are build
artefacts kept in git so reviewers see what GX will run. One suite per canonical table
(standard layer) and per warehouse mart table. Check types GX 1.x has no expectation for
(decimals, date_span, sum_le, foreign_key) are listed in the suite's ``meta.sql_only`` and
run through our pandas/SQL forms only. Writing the JSON needs no GX import (5 s); loading
a suite into GX (``gx_suite``) does.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from transforms.canonical import TABLES
from transforms.settings import EXPECTATIONS_DIR
from transforms.validation.catalogue import MART_TABLES, Check, checks_for, load_catalogue

SUITES_DIR = EXPECTATIONS_DIR / "suites"
GX_VERSION = "1.24.1"


def _row_condition(where: dict[str, Any]) -> str:
    parts = []
    for field, value in where.items():
        if isinstance(value, list):
            parts.append(f"{field}.isin({json.dumps(value)})")
        else:
            parts.append(f"{field}=={value!r}")
    return " & ".join(parts)


def expectation_for(check: Check) -> dict[str, Any] | None:
    """The GX expectation config (as JSON) for one check, or None when GX has none."""
    f, p = check.fields, check.params
    kw: dict[str, Any]
    match check.check_type:
        case "not_null":
            etype, kw = "expect_column_values_to_not_be_null", {"column": f[0]}
        case "in_set":
            etype, kw = "expect_column_values_to_be_in_set", {"column": f[0], "value_set": p["values"]}
        case "regex":
            etype, kw = "expect_column_values_to_match_regex", {"column": f[0], "regex": p["pattern"]}
        case "not_regex":
            etype, kw = "expect_column_values_to_not_match_regex", {"column": f[0], "regex": p["pattern"]}
        case "between":
            etype, kw = "expect_column_values_to_be_between", {
                "column": f[0], "min_value": p.get("min"), "max_value": p.get("max")}
        case "pair_order":
            etype, kw = "expect_column_pair_values_a_to_be_greater_than_b", {
                "column_A": f[1], "column_B": f[0], "or_equal": p["op"] == ">=",
                "ignore_row_if": "either_value_is_missing"}
        case "unique" if len(f) == 1:
            etype, kw = "expect_column_values_to_be_unique", {"column": f[0]}
        case "unique":
            etype, kw = "expect_compound_columns_to_be_unique", {"column_list": list(f)}
        case _:
            return None
    if check.threshold > 0:
        kw["mostly"] = round(1 - check.threshold / 100, 6)
    if p.get("where"):
        kw["row_condition"] = _row_condition(p["where"])
        kw["condition_parser"] = "pandas"
    meta = {"check_id": check.check_id, "category": check.category, "severity": check.severity,
            "threshold_pct": check.threshold}
    return {"type": etype, "kwargs": kw, "meta": meta}


def suite_json(table: str, catalogue: list[Check]) -> dict[str, Any]:
    checks = checks_for(catalogue, table)
    expectations, sql_only = [], []
    for c in checks:
        e = expectation_for(c)
        (expectations.append(e) if e else sql_only.append(c.check_id))
    layer = "standard" if table in TABLES else "mart"
    return {"name": table, "expectations": expectations,
            "meta": {"great_expectations_version": GX_VERSION, "layer": layer,
                     "generated_from": "expectations/catalogue.csv", "sql_only": sql_only}}


def all_suite_tables() -> list[str]:
    return sorted(TABLES) + list(MART_TABLES)


def render_suites(catalogue: list[Check] | None = None) -> dict[str, str]:
    """File name -> JSON text for every suite."""
    cat = catalogue if catalogue is not None else load_catalogue()
    return {f"{t}.json": json.dumps(suite_json(t, cat), ensure_ascii=False, indent=2) + "\n"
            for t in all_suite_tables()}


def write_suites(directory: Path = SUITES_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    rendered = render_suites()
    for name, text in rendered.items():
        (directory / name).write_text(text, encoding="utf-8")
    return sorted(rendered)


def stale_suites(directory: Path = SUITES_DIR) -> list[str]:
    """Suites whose file differs from what the catalogue generates (empty = up to date)."""
    out = []
    for name, text in render_suites().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            out.append(name)
    return out


def gx_suite(table: str, catalogue: list[Check] | None = None) -> Any:
    """The suite as a ``great_expectations.ExpectationSuite`` (imports GX)."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    data = suite_json(table, catalogue if catalogue is not None else load_catalogue())
    expectations = [ExpectationConfiguration(**e).to_domain_obj() for e in data["expectations"]]
    return gx.ExpectationSuite(name=data["name"], expectations=expectations, meta=data["meta"])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--check" in args:
        stale = stale_suites()
        if stale:
            print(f"stale suites (run python -m transforms.validation.suites): {stale}")
            return 1
        print("suites up to date")
        return 0
    print(f"wrote {len(write_suites())} suites to {SUITES_DIR}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
