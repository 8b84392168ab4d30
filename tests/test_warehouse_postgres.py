"""The same loads on PostgreSQL give the same marts as on DuckDB, row for row."""

from __future__ import annotations

import pytest
from test_warehouse_data import HIS, REG, his_rows, registry_rows, write_partition
from test_warehouse_load import LINEAGE, settings_at, snapshot

from transforms.settings import Settings
from transforms.warehouse.history import history_specs
from transforms.warehouse.load import load_partition
from transforms.warehouse.views import load_views

pytestmark = pytest.mark.postgres


def scenario(s: Settings) -> list[tuple[int, int, int, int]]:
    """Load, rerun, then a corrected re-submission; the counts of each load."""
    write_partition(s.lake, REG, registry_rows())
    write_partition(s.lake, HIS, his_rows())
    out = [load_partition(s, *REG), load_partition(s, *HIS), load_partition(s, *HIS)]
    write_partition(s.lake, HIS, [r for r in his_rows(total_cost="99.90") if r[0] != "referral"], batch="batch0002")
    out.append(load_partition(s, *HIS))
    return [(r.inserted, r.updated, r.deleted, r.unchanged) for r in out]


def test_postgres_marts_equal_duckdb_row_for_row(tmp_path, pg_url):
    duck = settings_at(tmp_path / "duck")
    pg_home = tmp_path / "pg"
    pg = Settings(home=pg_home, landing=pg_home / "landing", lake=pg_home / "lake", warehouse_url=pg_url,
                  key_file=pg_home / "key")
    assert scenario(duck) == scenario(pg) == [(10, 0, 0, 0), (15, 0, 0, 0), (0, 0, 0, 15), (0, 14, 1, 0)]
    tables = [*sorted(load_views()), "encounter_group", *sorted(history_specs())]
    got_duck = snapshot(duck.warehouse_url, tables, drop={"loaded_at"})
    got_pg = snapshot(pg.warehouse_url, tables, drop={"loaded_at"})
    assert sum(len(v) for v in got_duck.values()) > 20
    for t in tables:
        assert got_pg[t] == got_duck[t], t
    audit_cols = "resource_type, id, action, old_batch_id, new_batch_id, changed_elements"
    assert (snapshot(pg.warehouse_url, [f"(SELECT {audit_cols} FROM load_audit) a"]) ==
            snapshot(duck.warehouse_url, [f"(SELECT {audit_cols} FROM load_audit) a"]))
    assert LINEAGE - {"loaded_at"} <= {k for k, _ in got_pg["fact_encounter"][0]}


def test_stage_keeps_null_empty_quotes_and_newlines_on_both_engines(tmp_path, pg_url):
    """The bulk stage (Arrow scan on DuckDB, CSV COPY on PostgreSQL) must not confuse NULL with ''."""
    from datetime import date, datetime

    import pyarrow as pa

    from transforms.warehouse.db import get_engine
    from transforms.warehouse.load import STORE_COLUMNS, _stage

    texts = ['{"a": "x,\\"q\\"\\n\\\\ é"}', "", None, '"', "line\nbreak\r\n", "\\N", "NULL"]
    n = len(texts)
    t = pa.table({
        "id": pa.array([f"r{i}" for i in range(n)]), "resource_type": pa.array(["Patient"] * n),
        "person_key": pa.array(texts), "resource": pa.array([x or "{}" for x in texts]),
        "content_hash": pa.nulls(n, pa.string()), "batch_id": pa.array(texts), "source_file": pa.array(["f"] * n),
        "source_line": pa.array([1, None, 3, 4, 5, 6, 7], pa.int32()), "message_id": pa.array(texts),
        "source": pa.array(["his"] * n), "institution_code": pa.array(["I1"] * n),
        "partition_date": pa.array([date(2026, 11, 2)] * n, pa.date32()),
        "loaded_at": pa.array([datetime(2026, 11, 2, 3, 4, 5)] * n, pa.timestamp("us")),
    }).select(STORE_COLUMNS)
    got = []
    for url in (f"duckdb:///{tmp_path / 'w.duckdb'}", pg_url):
        with get_engine(url).begin() as conn:
            _stage(conn, t, "_load_stage")
            got.append([tuple(r) for r in conn.exec_driver_sql(
                f"SELECT {', '.join(STORE_COLUMNS)} FROM _load_stage ORDER BY id").all()])
    assert got[0] == got[1]
    assert [r[2] for r in got[1]] == texts
    assert got[1][0][4] is not None


def test_bulk_loaded_tables_are_analyzed_once_they_drift(pg_url):
    """A table grown by more than 10 % (and 10 k rows) since its last ANALYZE is analysed; then not again."""
    import sqlalchemy as sa

    from transforms.warehouse.db import analyze_if_stale, get_engine

    engine = get_engine(pg_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE grown (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("CREATE TABLE small (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO grown SELECT g FROM generate_series(1, 20000) g")
        conn.exec_driver_sql("INSERT INTO small SELECT g FROM generate_series(1, 500) g")
        conn.exec_driver_sql("SELECT pg_stat_force_next_flush()")  # counters visible at commit, not a second later
    with engine.begin() as conn:
        assert analyze_if_stale(conn, ["grown", "small", "no_such_table"]) == ["grown"]
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE relname = 'grown'")).scalar_one() == 20000
        assert analyze_if_stale(conn, ["grown", "small"]) == []
