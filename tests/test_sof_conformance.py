"""The official SQL-on-FHIR v2 test suite, every case on DuckDB and on PostgreSQL.

Each case is its own test id (``duckdb-basic::basic attribute``). Cases listed in
``transforms.warehouse.sof.unsupported`` are strict xfails; nothing is skipped silently.
One connection per engine per module; each suite file's resources are loaded once into
their own table (``sof_<file>``), and each case runs in a transaction rolled back after.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from transforms.warehouse.sof.conformance import iter_cases, load_file, load_suite, run_case
from transforms.warehouse.sof.unsupported import reason_for

SUITE_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures" / "sql-on-fhir-v2-tests"
SUITE = load_suite(SUITE_DIR) if SUITE_DIR.is_dir() else []
PG_ADMIN_URL = os.environ.get("RHP_TEST_PG_URL", "postgresql+psycopg://postgres@localhost:5432/postgres")


def _params(engine: str, marker: pytest.MarkDecorator) -> list:
    out = []
    for suite_file, case in iter_cases(SUITE):
        marks = [marker]
        reason = reason_for(engine, case.case_id)
        if reason:
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        out.append(pytest.param(suite_file, case, id=f"{engine}-{case.case_id}", marks=marks))
    return out


class _Loaded:
    """One connection, and the suite files already loaded into it."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self.tables: dict[str, str] = {}

    def table(self, suite_file) -> str:
        if suite_file.name not in self.tables:
            self.tables[suite_file.name] = load_file(self.conn, suite_file)
            self.conn.commit()
        return self.tables[suite_file.name]


@pytest.fixture(scope="module")
def duck():
    engine = sa.create_engine("duckdb:///:memory:")
    with engine.connect() as conn:
        yield _Loaded(conn)
    engine.dispose()


@pytest.fixture(scope="module")
def pg():
    """One throwaway database for the module (like conftest's pg_url, but module-scoped for speed)."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as c:
            c.execute(sa.text("select 1"))
    except Exception as exc:
        reason = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    name = f"rhp_sof_{uuid.uuid4().hex[:10]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = sa.create_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        with engine.connect() as conn:
            yield _Loaded(conn)
    finally:
        engine.dispose()
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _check(loaded: _Loaded, suite_file, case) -> None:
    outcome, detail = run_case(loaded.conn, loaded.table(suite_file), case)
    assert outcome == "pass", f"{case.case_id}: {outcome}: {detail}"


@pytest.mark.unit
def test_suite_is_complete():
    """The shared suite is the full official one (22 files, 134 cases)."""
    assert len(SUITE) == 22
    assert sum(len(f.cases) for f in SUITE) == 134


@pytest.mark.parametrize(("suite_file", "case"), _params("duckdb", pytest.mark.local))
def test_duckdb(duck, suite_file, case):
    _check(duck, suite_file, case)


@pytest.mark.parametrize(("suite_file", "case"), _params("postgresql", pytest.mark.postgres))
def test_postgresql(pg, suite_file, case):
    _check(pg, suite_file, case)
