"""The person-link merge gives the same table on PostgreSQL (set-based path) as on DuckDB.

PostgreSQL merges a partition's links with COPY + one INSERT … ON CONFLICT and moves each
stored total by the partition's delta; DuckDB re-sums the per-partition counts. A sequence of
partitions that exercises every rule (new links, links seen again at other institutions and
earlier days, a rerun of a partition with other counts, a rerun with fewer links) must leave
both warehouses with identical rows.
"""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from transforms.identity.mpi import LinkRecord, upsert_links
from transforms.warehouse.db import get_engine, migrate

pytestmark = pytest.mark.postgres


def _links(spec: list[tuple[str, str, str, int]]) -> dict[str, LinkRecord]:
    """(hash, person key, institution, count) → the links one partition produced."""
    return {h: LinkRecord(h, "demographic" if h.startswith("d") else "id_number", p, "id_number", {i}, n)
            for h, p, i, n in spec}


STEPS = [  # (day, source, institution, links)
    (date(2026, 11, 2), "his", "H2", _links([("a", "P1", "H2", 3), ("b", "P2", "H2", 1), ("d1", "P1", "H2", 2)])),
    (date(2026, 11, 1), "lis", "H10", _links([("a", "P9", "H10", 5), ("c", "P3", "H10", 1)])),
    (date(2026, 11, 3), "his", "H1", _links([("b", "P2", "H1", 2), ("d1", "P1", "H1", 1), ("e", "P4", "H1", 7)])),
    # rerun of the first partition with other counts: replaces its counts, never adds
    (date(2026, 11, 2), "his", "H2", _links([("a", "P1", "H2", 4), ("b", "P2", "H2", 1), ("d1", "P1", "H2", 2)])),
    # rerun of the second partition with fewer links
    (date(2026, 11, 1), "lis", "H10", _links([("a", "P9", "H10", 5)])),
]


def _run(url: str) -> list[tuple]:
    engine = get_engine(url)
    migrate(engine)
    for day, source, inst, links in STEPS:
        with engine.begin() as conn:
            assert upsert_links(conn, links, day, source, inst) == len(links)
    with engine.connect() as conn:
        links = conn.execute(sa.text(
            "SELECT link_hash, link_type, person_key, link_method, CAST(first_seen AS VARCHAR), "
            "CAST(last_seen AS VARCHAR), institutions, n_records FROM person_link ORDER BY link_hash")).all()
        parts = conn.execute(sa.text(
            "SELECT link_hash, source, institution_code, CAST(partition_date AS VARCHAR), n_records "
            "FROM person_link_partition ORDER BY 1, 2, 3, 4")).all()
    return [tuple(r) for r in links] + [tuple(r) for r in parts]


def test_postgres_merge_equals_duckdb_merge(pg_url, tmp_path):
    duck = _run(f"duckdb:///{tmp_path / 'w.duckdb'}")
    assert duck[:5] == [  # the rules themselves, spelled out once
        ("a", "id_number", "P1", "id_number", "2026-11-01", "2026-11-02", "H10|H2", 9),
        ("b", "id_number", "P2", "id_number", "2026-11-02", "2026-11-03", "H1|H2", 3),
        ("c", "id_number", "P3", "id_number", "2026-11-01", "2026-11-01", "H10", 1),
        ("d1", "demographic", "P1", "id_number", "2026-11-02", "2026-11-03", "H1|H2", 3),
        ("e", "id_number", "P4", "id_number", "2026-11-03", "2026-11-03", "H1", 7),
    ]
    assert _run(pg_url) == duck
