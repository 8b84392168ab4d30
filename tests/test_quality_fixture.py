"""A hand-built month for the quality report: three institutions with known defects.

H0001 (hospital) submits every day on time. C0001 (CHC) misses encounter day 5, is late on
day 6, files explicit zero surveillance reports on days 10-12, sends a duplicate (day 3) and a
correction (day 4). C0002 (CHC) stops sending encounters from day 20. Previous month: H0001
and C0001 on time for the first 10 days only.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import sqlalchemy as sa

from transforms.sources.calendar import Calendar

MONTH = "2026-11"
CAL = Calendar.model_validate({
    "datasets": [
        {"id": "his_encounter", "source": "his", "table": "encounter", "inst_types": ["hospital", "chc"],
         "deadline": {"days_after": 1, "time": "06:00"}, "zero_report_required": True},
        {"id": "ph_surveillance", "source": "public_health", "table": "surveillance_report", "inst_types": ["chc"],
         "deadline": {"days_after": 0, "time": "12:00"}, "zero_report_required": True},
    ],
    "exceptions": [{"institution": "H09??", "dataset": "*", "expected": False, "reason": "out of district"}],
})
INSTITUTIONS = [("H0001", "市一医院", "hospital"), ("C0001", "江桥社区卫生服务中心", "chc"),
                ("C0002", "真新社区卫生服务中心", "chc"), ("S0001", "华江村卫生室", "station"),
                ("H0901", "瑞金医院", "hospital")]


def _sub(n: list[int], inst: str, source: str, table: str, day: date, arrival: datetime, status: str = "new",
         zero: bool = False) -> dict:
    n[0] += 1
    return {"batch_id": f"b{n[0]:05d}", "source": source, "institution_code": inst, "partition_date": day,
            "file_path": f"{source}/{inst}/{day}/{table}.csv", "dataset": table, "checksum": "x" * 64,
            "size_bytes": 10, "arrival_time": arrival, "first_seen_at": arrival, "status": status,
            "is_zero_report": zero, "rows_read": 0 if zero else 10, "rows_landed": 0 if zero else 10,
            "rows_quarantined": 0}


def build(conn) -> None:
    """Insert the fixture month (and part of the previous month) into a migrated warehouse."""
    for code, name, itype in INSTITUTIONS:
        conn.execute(sa.text("INSERT INTO dim_institution (institution_code, name, inst_type) VALUES (:c, :n, :t)"),
                     {"c": code, "n": name, "t": itype})
    n = [0]
    subs = []
    for d in range(1, 31):
        day = date(2026, 11, d)
        ontime = datetime.combine(day + timedelta(days=1), datetime.min.time()) + timedelta(hours=2)
        subs.append(_sub(n, "H0001", "his", "encounter", day, ontime))
        if d != 5:
            arr = ontime + timedelta(days=1, hours=7) if d == 6 else ontime
            subs.append(_sub(n, "C0001", "his", "encounter", day, arr, "late" if d == 6 else "new"))
        if d < 20:
            subs.append(_sub(n, "C0002", "his", "encounter", day, ontime))
        noon = datetime.combine(day, datetime.min.time()) + timedelta(hours=10)
        subs.append(_sub(n, "C0001", "public_health", "surveillance_report", day, noon, zero=d in (10, 11, 12)))
        subs.append(_sub(n, "C0002", "public_health", "surveillance_report", day, noon))
    subs.append(_sub(n, "C0001", "his", "encounter", date(2026, 11, 3), datetime(2026, 11, 4, 3), "duplicate"))
    subs.append(_sub(n, "C0001", "his", "encounter", date(2026, 11, 4), datetime(2026, 11, 5, 4), "corrected"))
    for d in range(1, 11):  # previous month: H0001 and C0001 encounters only, days 1-10
        day = date(2026, 10, d)
        ontime = datetime.combine(day + timedelta(days=1), datetime.min.time())
        subs.append(_sub(n, "H0001", "his", "encounter", day, ontime))
        subs.append(_sub(n, "C0001", "his", "encounter", day, ontime))
    cols = list(subs[0])
    conn.execute(sa.text(f"INSERT INTO submission_log ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"),
                 subs)
    now = datetime(2026, 12, 1)
    results = [  # (institution, check, category, severity, numerator, denominator, status)
        ("C0001", "encounter.start_time.required", "Completeness", "error", 5, 100, "fail"),
        ("C0001", "encounter.end_time.after_start", "Plausibility", "error", 2, 100, "fail"),
        ("H0001", "encounter.end_time.after_start", "Plausibility", "error", 0, 300, "pass"),
        ("H0001", "encounter.encounter_class_map_status.mapped", "Conformance", "warning", 30, 300, "fail"),
        ("C0002", "encounter.start_time.required", "Completeness", "error", 0, 100, "pass"),
    ]
    for i, (inst, cid, cat, sev, num, den, st) in enumerate(results):
        conn.execute(sa.text(
            "INSERT INTO dq_check_result (batch_id, table_name, check_id, check_type, layer, source, "
            "institution_code, partition_date, category, severity, numerator, denominator, pct, threshold, "
            "status, run_at) VALUES (:b, 'encounter', :c, 'x', 'standard', 'his', :i, :d, :cat, :sev, :n, :den, "
            ":p, 0, :st, :now)"),
            {"b": f"r{i}", "c": cid, "i": inst, "d": date(2026, 11, 2), "cat": cat, "sev": sev, "n": num,
             "den": den, "p": 100 * num / den, "st": st, "now": now})
    for k in range(2):
        conn.execute(sa.text(
            "INSERT INTO quarantine (quarantine_id, batch_id, stage, dataset, institution_code, partition_date, "
            "check_id, reason, file_path, line_no, quarantined_at) VALUES (:q, 'r1', 'validate', 'encounter', "
            "'C0001', :d, 'validate.encounter.end_time.after_start', :r, 'his/C0001/enc.csv', :l, :now)"),
            {"q": f"q{k}", "d": date(2026, 11, 2), "r": f"his/C0001/enc.csv line {k + 2}: end before start",
             "l": k + 2, "now": now})
