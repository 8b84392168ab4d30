"""Several workers on one PostgreSQL warehouse at once (the production topology).

Found at city scale with two workers: both ran the migrations of a fresh warehouse at the
same moment (``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent twin), and both
read-merged-wrote the same person links (a unique-key error, or a lost union). Each test
starts real processes that meet at a barrier, so the race is provoked, not simulated.
"""

from __future__ import annotations

import multiprocessing as mp
from datetime import date

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres

WORKERS = 4


def _migrate_at_barrier(url: str, k: int, barrier, out) -> None:
    from transforms.warehouse.db import get_engine, migrate

    try:
        barrier.wait(timeout=60)
        migrate(get_engine(url))
        out.put("ok")
    except Exception as exc:  # reported to the parent, which fails the test with it
        out.put(f"{type(exc).__name__}: {exc}"[:500])


def _at_once(target, url: str) -> list[str]:
    """Start WORKERS processes of ``target(url, k, barrier, out)`` that meet at a barrier; their reports."""
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=target, args=(url, k, barrier, out)) for k in range(WORKERS)]
    for p in procs:
        p.start()
    results = [out.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return results


def test_workers_migrating_a_fresh_warehouse_at_once(pg_url):
    assert _at_once(_migrate_at_barrier, pg_url) == ["ok"] * WORKERS
    eng = sa.create_engine(pg_url)
    with eng.connect() as c:
        versions = [r[0] for r in c.execute(sa.text("SELECT version FROM schema_migrations"))]
    eng.dispose()
    assert versions and len(versions) == len(set(versions))


def _upsert_at_barrier(url: str, k: int, barrier, out) -> None:
    from transforms.identity.mpi import LinkRecord, upsert_links
    from transforms.warehouse.db import get_engine

    try:
        links = {f"h{j}": LinkRecord(f"h{j}", "id_number", f"p{j}", "id_number", {f"H{k}"}, 1) for j in range(300)}
        barrier.wait(timeout=60)
        with get_engine(url).begin() as conn:
            upsert_links(conn, links, date(2026, 11, 2), "his", f"H{k}")
        out.put("ok")
    except Exception as exc:
        out.put(f"{type(exc).__name__}: {exc}"[:500])


def test_workers_merging_the_same_person_links_at_once(pg_url):
    from transforms.warehouse.db import get_engine, migrate

    migrate(get_engine(pg_url))
    assert _at_once(_upsert_at_barrier, pg_url) == ["ok"] * WORKERS
    with get_engine(pg_url).connect() as c:
        rows = c.execute(sa.text("SELECT institutions, n_records FROM person_link")).all()
    every = "|".join(sorted(f"H{k}" for k in range(WORKERS)))
    assert len(rows) == 300 and {r[0] for r in rows} == {every} and {r[1] for r in rows} == {WORKERS}
