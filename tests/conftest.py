"""Shared fixtures: the fixtures folder, a throwaway platform home, and PostgreSQL.

Test tiers follow external dependencies (markers in pyproject.toml): unit (none), local
(files and DuckDB), postgres, airflow, celery, browser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = (REPO.parent / "shared" / "fixtures").resolve()
CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PG_ADMIN_URL = os.environ.get("RHP_TEST_PG_URL", "postgresql+psycopg://postgres@localhost:5432/postgres")


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.fail(f"shared fixtures not found at {FIXTURES}: tests read them in place")
    return FIXTURES


@pytest.fixture()
def rhp_home(tmp_path, monkeypatch) -> Path:
    """A fresh platform home (landing, lake, DuckDB warehouse, key) for one test."""
    home = tmp_path / "rhp"
    monkeypatch.setenv("RHP_HOME", str(home))
    monkeypatch.delenv("RHP_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("RHP_LANDING", raising=False)
    monkeypatch.delenv("RHP_LAKE", raising=False)
    monkeypatch.setenv("RHP_PSEUDONYM_KEY", "test-key-not-a-secret")
    return home


@pytest.fixture()
def chromium(tmp_path) -> Callable[..., subprocess.CompletedProcess]:
    """Headless Chromium for the tests that render our HTML pages, with a throwaway profile.

    Skips with the reason when Chromium is absent, unless REQUIRE_BROWSER=1 (CI), where the
    same condition is a failure.
    """
    if not Path(CHROMIUM).exists():
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but chromium not found at {CHROMIUM}")
        pytest.skip(f"chromium not found at {CHROMIUM}")

    def run(*args: str, window: str = "1200,1600") -> subprocess.CompletedProcess:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", f"--user-data-dir={tmp_path / 'chromium-profile'}",
                 f"--window-size={window}"]
        return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)

    return run


def _pg_available() -> str | None:
    try:
        import sqlalchemy as sa

        eng = sa.create_engine(PG_ADMIN_URL)
        with eng.connect() as c:
            c.execute(sa.text("select 1"))
        eng.dispose()
        return None
    except Exception as exc:  # any failure means "not reachable"
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}: {exc}".splitlines()[0]


@pytest.fixture()
def pg_url() -> str:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards.

    Skips with the reason when no server is reachable, unless REQUIRE_POSTGRES=1 (CI),
    where the same condition is a failure.
    """
    reason = _pg_available()
    if reason:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    import sqlalchemy as sa

    name = f"rhp_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from transforms.warehouse.db import _engine_for

    _engine_for.cache_clear()
    with admin.connect() as c:
        c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
