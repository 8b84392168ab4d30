"""Benchmark: a mart-shaped ViewDefinition over N synthetic Encounters, DuckDB and PostgreSQL.

Floor: selecting the id out of every resource's JSON (the least any view must do).
Usage: ``PYTHONPATH=. .venv/bin/python -m bench.bench_sof --rows 20000``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import uuid

import sqlalchemy as sa

from transforms.terminology import systems
from transforms.warehouse.sof.compile import compile_view
from transforms.warehouse.sof.run import create_resource_table, insert_resources, run_view

VIEW = {
    "resource": "Encounter",
    "select": [{
        "column": [
            {"name": "encounter_id", "path": "getResourceKey()"},
            {"name": "patient_key", "path": "subject.getReferenceKey(Patient)"},
            {"name": "institution_code",
             "path": f"serviceProvider.identifier.where(system='{systems.INSTITUTION_CODE}').value"},
            {"name": "encounter_class",
             "path": f"type.coding.where(system='{systems.ENCOUNTER_CLASS}').code.first()"},
            {"name": "start_time", "path": "period.start"},
            {"name": "total_cost", "type": "decimal",
             "path": f"extension('{systems.EXT_COST}').extension('total').valueMoney.value"},
            {"name": "drug_cost", "type": "decimal",
             "path": f"extension('{systems.EXT_COST}').extension('drug').valueMoney.value"},
            {"name": "is_appointment", "type": "boolean",
             "path": f"extension('{systems.EXT_APPOINTMENT}').value.ofType(boolean)"},
        ],
        "select": [{"forEachOrNull": "reasonCode.coding",
                    "column": [{"name": "seq", "path": "%rowIndex", "type": "integer"},
                               {"name": "icd", "path": "code"}]}],
    }],
}


def encounters(n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        out.append({
            "resourceType": "Encounter", "id": f"e{i}", "status": "finished",
            "subject": {"reference": f"Patient/p{rnd.randrange(n // 3 + 1)}"},
            "period": {"start": f"2026-0{rnd.randrange(1, 10)}-1{rnd.randrange(10)}T08:30:00+08:00"},
            "serviceProvider": {"identifier": {"system": systems.INSTITUTION_CODE, "value": f"H{rnd.randrange(40):03d}"}},
            "type": [{"coding": [{"system": systems.ENCOUNTER_CLASS, "code": rnd.choice("OEI")}]}],
            "reasonCode": [{"coding": [{"system": "urn:icd", "code": f"I{rnd.randrange(10, 99)}"}]}
                           for _ in range(rnd.randrange(0, 3))],
            "extension": [{"url": systems.EXT_COST, "extension": [
                {"url": "total", "valueMoney": {"value": rnd.randrange(5000) / 10, "currency": "CNY"}},
                {"url": "drug", "valueMoney": {"value": rnd.randrange(2000) / 10, "currency": "CNY"}}]},
                {"url": systems.EXT_APPOINTMENT, "valueBoolean": rnd.random() < 0.3}],
        })
    return out


def _timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def bench(conn: sa.Connection, engine: str) -> dict[str, float]:
    text = "json_extract_string(resource, '$.id')" if engine == "duckdb" else "resource ->> 'id'"
    floor = _timed(lambda: conn.exec_driver_sql(f"SELECT id, {text} FROM fhir_resource").fetchall())
    compile_s = _timed(lambda: compile_view(VIEW, engine), repeat=5)
    run_s = _timed(lambda: run_view(conn, VIEW))
    rows = len(run_view(conn, VIEW))
    return {"floor": floor, "compile": compile_s, "run": run_s, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=20000)
    ap.add_argument("--pg-url", default=os.environ.get("RHP_TEST_PG_URL",
                                                       "postgresql+psycopg://postgres@localhost:5432/postgres"))
    args = ap.parse_args()
    data = encounters(args.rows)
    # DuckDB: load via ndjson (the bench measures the view, not the loader).
    with tempfile.NamedTemporaryFile("w", suffix=".ndjson", delete=False) as fh:
        fh.writelines(json.dumps(r) + "\n" for r in data)
    duck = sa.create_engine("duckdb:///:memory:")
    with duck.connect() as conn:
        create_resource_table(conn)
        conn.exec_driver_sql("INSERT INTO fhir_resource SELECT json_extract_string(json, '$.id'), "
                             f"json_extract_string(json, '$.resourceType'), json FROM read_ndjson_objects('{fh.name}')")
        print("duckdb", bench(conn, "duckdb"))
    os.unlink(fh.name)
    admin = sa.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
    name = f"rhp_bench_sof_{uuid.uuid4().hex[:8]}"
    with admin.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    pg = sa.create_engine(args.pg_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        with pg.connect() as conn:
            create_resource_table(conn)
            insert_resources(conn, data)
            conn.commit()
            conn.exec_driver_sql("ANALYZE fhir_resource")
            print("postgresql", bench(conn, "postgresql"))
    finally:
        pg.dispose()
        with admin.connect() as c:
            c.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
