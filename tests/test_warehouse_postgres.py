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
