"""Benchmark: one monthly indicator run for a district on DuckDB.

The marts are filled directly in SQL with district-month volumes (default: 700 k residents
with records, 300 k contracts, 600 k outpatient visits, 20 k discharges, 20 k referrals,
80 k follow-ups, 15 CHCs + 3 hospitals, 4 groups with one mid-month membership change), so
the figure measures the indicator engine, not the pipeline that feeds it.

    python -m bench.bench_indicators [--residents 700000] [--visits 600000] [--repeat 3] [--url duckdb:///...]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import date, datetime

import sqlalchemy as sa

from tests.marts_ddl import create_marts
from transforms.indicators.engine import compute_dimensions
from transforms.indicators.model import load_indicators
from transforms.indicators.periods import parse_period
from transforms.indicators.store import periods_touching, run_indicators
from transforms.warehouse.db import get_engine, migrate

FILL = """
ALTER TABLE fact_referral ADD COLUMN IF NOT EXISTS from_practitioner_id VARCHAR;
INSERT INTO dim_institution (institution_code, name, inst_type, level, grade, parent_code, division_code, beds, is_primary_care) SELECT 'I' || i, 'inst ' || i, CASE WHEN i <= 3 THEN 'hospital' ELSE 'chc' END,
  CASE WHEN i <= 3 THEN '2' ELSE '1' END, NULL, NULL, '310114', CASE WHEN i <= 3 THEN 500 ELSE 0 END, i > 3
  FROM range(1, 19) t(i);
INSERT INTO dim_group_membership (institution_code, group_code, role, valid_from, valid_to) SELECT 'I' || i, 'G' || (i % 4), 'member', DATE '2024-01-01',
  CASE WHEN i = 5 THEN DATE '2026-11-15' ELSE NULL END FROM range(1, 19) t(i);
INSERT INTO dim_group_membership (institution_code, group_code, role, valid_from, valid_to) VALUES ('I5', 'G9', 'member', DATE '2026-11-15', NULL);
INSERT INTO dim_practitioner (practitioner_id, institution_code, team_id, team_role, is_gp, title) SELECT 'D' || i, 'I' || (4 + i % 15), 'T' || (i % 60), 'doctor', TRUE, NULL FROM range(0, 300) t(i);
INSERT INTO dim_person (person_key, sex, birth_date, division_code, key_populations, ehr_record_no_hash, ehr_created_date, ehr_last_active_date, ehr_institution) SELECT 'P' || i, CAST(1 + i % 2 AS VARCHAR), DATE '1950-01-01' + CAST(i % 25000 AS INTEGER),
  '310114', CASE WHEN i % 5 = 0 THEN 'elderly65|htn' WHEN i % 7 = 0 THEN 'dm' ELSE '' END, NULL,
  DATE '2020-01-01', DATE '2026-10-01', 'I' || (4 + i % 15) FROM range(0, {residents}) t(i);
INSERT INTO fact_signing (contract_id, person_key, institution_code, team_id, doctor_id, signatory_type, start_date, end_date, status, is_paid, key_populations, package_code, chosen_district_hospital, chosen_municipal_hospital, batch_id, source_file, source_line, message_id, loaded_at) SELECT 'K' || i, 'P' || i, 'I' || (4 + i % 15), 'T' || (i % 60), 'D' || (i % 300), 'doctor',
  DATE '2026-01-01', DATE '2027-12-31', 'active', i % 4 = 0, NULL, 'basic', NULL, NULL,
  'b', 'f', 1, NULL, TIMESTAMP '2026-12-01 00:00:00' FROM range(0, {contracts}) t(i);
INSERT INTO fact_encounter (encounter_id, person_key, institution_code, encounter_class, start_time, end_time, los_days, department, practitioner_id, diagnosis_code, total_cost, drug_cost, service_cost, consumable_cost, exam_lab_cost, payment_method, insured_place_code, is_appointment, channel, referral_no, batch_id, source_file, source_line, message_id, loaded_at) SELECT 'E' || i, 'P' || (i * 7 % {residents}), 'I' || (1 + i % 18),
  CASE WHEN i % 30 = 0 THEN 'I' WHEN i % 11 = 0 THEN 'E' ELSE 'O' END,
  TIMESTAMP '2026-11-01 08:00:00' + to_minutes(CAST(i % 43000 AS BIGINT)),
  CASE WHEN i % 30 = 0 THEN TIMESTAMP '2026-11-01 08:00:00' + to_minutes(CAST(i % 43000 AS BIGINT)) + INTERVAL 5 DAY END,
  CASE WHEN i % 30 = 0 THEN 5 END, NULL, 'D' || (i % 300), 'I10.x00x002', 200 + i % 300, 60 + i % 90, 50 + i % 40,
  10, 30, 'fee_for_service', '310114', i % 2 = 0, 'offline', NULL, 'b', 'f', 1, NULL, TIMESTAMP '2026-12-01 00:00:00'
  FROM range(0, {visits}) t(i);
INSERT INTO fact_referral (referral_id, person_key, from_institution, to_institution, direction, scenario, issued_time, arrived_time, status, from_practitioner_id, batch_id, source_file, source_line, message_id, loaded_at) SELECT 'R' || i, 'P' || (i * 13 % {residents}), 'I' || (4 + i % 15), 'I' || (1 + i % 3),
  CASE WHEN i % 3 = 0 THEN 'down' ELSE 'up' END, 'outpatient', TIMESTAMP '2026-11-02 09:00:00' + to_minutes(CAST(i AS BIGINT)),
  NULL, CASE WHEN i % 5 = 0 THEN 'lost' ELSE 'arrived' END, 'D' || (i % 300), 'b', 'f', 1, NULL,
  TIMESTAMP '2026-12-01 00:00:00' FROM range(0, {referrals}) t(i);
INSERT INTO fact_followup (followup_id, person_key, institution_code, disease, followup_date, mode, sbp, dbp, fasting_glucose, is_standard, is_controlled, batch_id, source_file, source_line, message_id, loaded_at) SELECT 'F' || i, 'P' || (i * 5 % {residents}), 'I' || (4 + i % 15),
  CASE WHEN i % 3 = 0 THEN 'dm' ELSE 'htn' END, DATE '2025-12-01' + CAST(i % 360 AS INTEGER), 'clinic',
  120 + i % 40, 70 + i % 30, 5.0 + (i % 40) / 10.0, i % 4 <> 0, NULL, 'b', 'f', 1, NULL, TIMESTAMP '2026-12-01 00:00:00'
  FROM range(0, {followups}) t(i);
INSERT INTO ref_key_population (code, display) VALUES ('elderly65', '65岁及以上老年人'), ('htn', '高血压'), ('dm', '糖尿病');
INSERT INTO ref_population (division_code, year, population, source) VALUES ('310114', 2026, {population}, 'bench');
"""


FLOOR = [  # one grouped scan of each mart a monthly run reads: what DuckDB needs just to touch the data
    "SELECT institution_code, COUNT(*), SUM(total_cost) FROM fact_encounter "
    "WHERE start_time >= DATE '2026-11-01' AND start_time < DATE '2026-12-01' GROUP BY 1",
    "SELECT ehr_institution, COUNT(*), COUNT(key_populations) FROM dim_person GROUP BY 1",
    "SELECT institution_code, COUNT(*), COUNT(DISTINCT person_key) FROM fact_signing GROUP BY 1",
    "SELECT from_institution, COUNT(*) FROM fact_referral GROUP BY 1",
    "SELECT institution_code, COUNT(*), AVG(sbp) FROM fact_followup GROUP BY 1",
]


def _floor(eng: sa.Engine) -> float:
    with eng.connect() as c:
        t = time.perf_counter()
        for q in FLOOR:
            c.exec_driver_sql(q).all()
        return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--residents", type=int, default=700_000)
    ap.add_argument("--visits", type=int, default=600_000)
    ap.add_argument("--repeat", type=int, default=3, help="monthly runs to time (the best is reported)")
    ap.add_argument("--url", default=None)
    args = ap.parse_args()
    url = args.url or f"duckdb:///{tempfile.mkdtemp()}/bench_ind.duckdb"
    eng = get_engine(url)
    migrate(eng)
    n = {"residents": args.residents, "contracts": args.residents * 3 // 7, "visits": args.visits,
         "referrals": args.visits // 30, "followups": args.residents // 9, "population": int(args.residents * 1.1)}
    t0 = time.perf_counter()
    with eng.begin() as c:
        create_marts(c)
        for stmt in FILL.format(**n).split(";"):
            if stmt.strip():
                c.exec_driver_sql(stmt)
    fill = time.perf_counter() - t0
    inds = load_indicators()
    nov = parse_period("month", "2026-11")
    as_of = datetime(2026, 12, 2)
    runs, values = [], 0
    for _ in range(max(1, args.repeat)):
        t0 = time.perf_counter()
        with eng.begin() as c:
            run_id = run_indicators(c, inds.values(), [nov], as_of=as_of, trigger="cli")
            values = c.execute(sa.text("SELECT COUNT(*) FROM indicator_value WHERE run_id = :r"),
                               {"r": run_id}).scalar_one()
        runs.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    with eng.begin() as c:  # what the daily DAG task does: the month, quarter and year containing the day
        run_indicators(c, inds.values(), periods_touching(date(2026, 11, 30)), as_of=as_of, trigger="cli")
    daily = time.perf_counter() - t0
    floor = min(_floor(eng) for _ in range(3))
    per = {}
    with eng.connect() as c:
        for code, ind in inds.items():
            t = time.perf_counter()
            compute_dimensions(c, ind, nov, ind.dimensions, as_of=as_of)
            per[code] = time.perf_counter() - t
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}, "
          f"load average {load:.1f}")
    print(f"volumes: {n}; fill {fill:.1f}s")
    print(f"monthly run: {len(inds)} indicators x all declared dimensions = {values} values; "
          f"runs {', '.join(f'{r:.2f}' for r in runs)} s; best {min(runs):.2f} s")
    print(f"daily run (month + quarter + year containing 2026-11-30): {daily:.2f} s")
    print(f"floor (one grouped scan of each mart): {floor:.2f} s; best run = {min(runs) / floor:.1f}x floor")
    for code, sec in sorted(per.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  slowest indicator (all dimensions): {code:<32} {sec:.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
