"""Load and run the official SQL-on-FHIR v2 test suite (shared by the pytest suite and the report).

Why one module: the tests and ``report`` must judge a case the same way — rows compared
order-insensitively (numbers by value), ``expectError`` passing only on a ``SofError``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from sqlalchemy.engine import Connection

from transforms.warehouse.sof.errors import SofError
from transforms.warehouse.sof.run import create_resource_table, insert_resources, run_view

Outcome = Literal["pass", "fail", "error"]


@dataclass(frozen=True)
class Case:
    file: str  # e.g. "basic" (file name without .json)
    title: str
    view: dict
    expect: list[dict] | None
    expect_error: bool
    expect_columns: list[str] | None

    @property
    def case_id(self) -> str:
        return f"{self.file}::{self.title}"


@dataclass(frozen=True)
class SuiteFile:
    name: str
    resources: list[dict]
    cases: list[Case]


def load_suite(directory: Path) -> list[SuiteFile]:
    """Every test file of the suite folder, in name order."""
    out = []
    for path in sorted(Path(directory).glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        cases = [
            Case(path.stem, t["title"], t.get("view", {}), t.get("expect"), bool(t.get("expectError")),
                 t.get("expectColumns"))
            for t in data.get("tests", [])
        ]
        out.append(SuiteFile(path.stem, data.get("resources", []), cases))
    return out


def table_name(file: str) -> str:
    return "sof_" + "".join(ch if ch.isalnum() else "_" for ch in file)


def load_file(conn: Connection, suite_file: SuiteFile) -> str:
    """Create and fill this file's resource table; returns its name."""
    table = table_name(suite_file.name)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    create_resource_table(conn, table)
    insert_resources(conn, suite_file.resources, table)
    return table


def _norm(value: object) -> object:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float)) or type(value).__name__ == "Decimal":
        f = float(value)
        return int(f) if f.is_integer() else round(f, 9)
    if isinstance(value, list):
        return [_norm(v) for v in value]
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    return str(value)


def _key(row: dict) -> str:
    return json.dumps({k: _norm(v) for k, v in row.items()}, sort_keys=True)


def compare(got: list[dict], case: Case) -> str | None:
    """None when ``got`` matches the case's expected rows (any order), else a short explanation."""
    expect = case.expect or []
    if case.expect_columns is not None and got and list(got[0]) != case.expect_columns:
        return f"columns {list(got[0])} != expected {case.expect_columns}"
    if sorted(map(_key, got)) != sorted(map(_key, expect)):
        return f"rows differ:\n got      {got}\n expected {expect}"
    return None


def run_case(conn: Connection, table: str, case: Case) -> tuple[Outcome, str]:
    """Run one case on ``table`` inside a transaction that is rolled back afterwards."""
    try:
        try:
            got = run_view(conn, case.view, table)
        finally:
            conn.rollback()
    except SofError as exc:
        if case.expect_error:
            return "pass", f"raised {type(exc).__name__}: {exc}"
        return "error", f"{type(exc).__name__}: {exc}"
    if case.expect_error:
        return "fail", f"expected an error, got {len(got)} rows"
    problem = compare(got, case)
    return ("pass", "") if problem is None else ("fail", problem)


def iter_cases(suite: list[SuiteFile]) -> Iterator[tuple[SuiteFile, Case]]:
    for f in suite:
        for c in f.cases:
            yield f, c
