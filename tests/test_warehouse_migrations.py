"""Schema versioning: a warehouse built by an older version upgrades in place; docs stay generated."""

from __future__ import annotations

import shutil

import pytest
import sqlalchemy as sa

from transforms.warehouse import docs_gen
from transforms.warehouse.db import MIGRATIONS_DIR, get_engine, migrate

OLDER_THAN = "0401"  # the "old version" lacks the encounter_group view and the view helper tables


@pytest.mark.local
def test_older_warehouse_upgrades_in_place_keeping_its_data(tmp_path):
    old_dir = tmp_path / "old_migrations"
    old_dir.mkdir()
    for p in MIGRATIONS_DIR.glob("*.sql"):
        if p.stem < OLDER_THAN:
            shutil.copy(p, old_dir / p.name)
    engine = get_engine(f"duckdb:///{tmp_path / 'wh.duckdb'}")
    first = migrate(engine, old_dir)
    assert "0400_marts" in first and not any(v >= OLDER_THAN for v in first)
    with engine.begin() as c:
        c.exec_driver_sql("INSERT INTO fact_encounter (encounter_id, institution_code, start_time) "
                          "VALUES ('e1', 'C1', TIMESTAMP '2024-06-15 09:00:00')")
        c.exec_driver_sql("INSERT INTO dim_group_membership (institution_code, group_code, valid_from) "
                          "VALUES ('C1', 'G1', DATE '2024-01-01')")
    later = migrate(engine)
    assert later and all(v >= OLDER_THAN for v in later) and "0401_encounter_group" in later
    assert migrate(engine) == []
    with engine.connect() as c:
        assert c.execute(sa.text("SELECT group_code FROM encounter_group WHERE encounter_id = 'e1'")).scalar() == "G1"
        assert c.execute(sa.text("SELECT COUNT(*) FROM link_lab_report")).scalar() == 0
        versions = {r[0] for r in c.execute(sa.text("SELECT version FROM schema_migrations"))}
    assert versions == {p.stem for p in MIGRATIONS_DIR.glob("*.sql")}


@pytest.mark.unit
def test_docs_warehouse_md_is_generated_and_current():
    assert docs_gen.main(["--check"]) == 0, "run: python -m transforms.warehouse.docs_gen"
    text = docs_gen.DOC_PATH.read_text(encoding="utf-8")
    for table in ("dim_group_membership", "fact_encounter", "fhir_resource", "load_audit", "encounter_group"):
        assert f"| `{table}` |" in text


@pytest.mark.unit
def test_docs_list_every_table_of_every_migration():
    schema = docs_gen.read_schema()
    assert schema["fact_lab_result"].columns[0] == ("observation_id", "VARCHAR")
    assert schema["fhir_resource"].primary_key == ["resource_type", "id"]
    assert ("resource", "JSON") in schema["fhir_resource"].columns
