"""A tiny synthetic region for tests and the demo: one of each recognition outcome.

Why in the package: the API tests, the rules tests and ``make demo`` need the same few rows,
and each row is chosen to exercise one rule (the comment says which).
"""

from __future__ import annotations

import hashlib
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.recognition.marts_stub import ensure_mart_stubs

DEMO_AT = datetime(2026, 10, 10, 12, 0)  # the query time the expected statuses assume


def person_key(label: str) -> str:
    """A stand-in person key (64 hex), like the HMAC the identity stage produces."""
    return hashlib.sha256(f"demo-person:{label}".encode()).hexdigest()


PK_A = person_key("a")  # has an encounter at HOSP-A
PK_B = person_key("b")  # signed with HOSP-B only

_LAB_COLS = ("observation_id", "report_id", "person_key", "performing_institution", "ordering_institution",
             "reporting_institution", "loinc_code", "hr_item_code", "local_code", "value_num", "unit",
             "ref_low", "ref_high", "status", "specimen_time", "report_time", "loaded_at")
LABS = [
    # not_qualified: HOSP-B failed glucose EQA from 2026-09-01
    ("L1", "R1", PK_A, "HOSP-B", "HOSP-B", "HOSP-B", "14749-6", "HR-L001", "GLU", 6.8, "mmol/L", 3.9, 6.1, "final",
     datetime(2026, 10, 8, 8), datetime(2026, 10, 8, 10), datetime(2026, 10, 8, 12)),
    # recognisable
    ("L2", "R2", PK_A, "LAB-C", "CHC-01", "LAB-C", "14749-6", "HR-L001", "G01", 5.4, "mmol/L", 3.9, 6.1, "final",
     datetime(2026, 10, 8, 8), datetime(2026, 10, 8, 11), datetime(2026, 10, 8, 12)),
    # expired 3 days ago (7-day window)
    ("L3", "R3", PK_A, "LAB-C", "CHC-01", "LAB-C", "14749-6", "HR-L001", "G01", 5.1, "mmol/L", 3.9, 6.1, "final",
     datetime(2026, 9, 30, 12), datetime(2026, 9, 30, 14), datetime(2026, 9, 30, 15)),
    # not_final: preliminary
    ("L4", "R4", PK_A, "LAB-C", "CHC-01", "LAB-C", "4548-4", "HR-L002", "A1C", 6.2, "%", 4.0, 6.0, "preliminary",
     datetime(2026, 10, 5, 8), datetime(2026, 10, 5, 9), datetime(2026, 10, 5, 12)),
    # unit_not_normalised: no numeric value
    ("L5", "R5", PK_A, "LAB-C", "CHC-01", "LAB-C", "14682-9", "HR-L007", "CRE", None, "umol/L", 41, 111, "final",
     datetime(2026, 10, 5, 8), datetime(2026, 10, 5, 9), datetime(2026, 10, 5, 12)),
    # not_in_catalogue: TSH has no regional HR code
    ("L6", "R6", PK_A, "LAB-C", "CHC-01", "LAB-C", "3016-3", None, "TSH", 2.1, "m[IU]/L", 0.27, 4.2, "final",
     datetime(2026, 10, 5, 8), datetime(2026, 10, 5, 9), datetime(2026, 10, 5, 12)),
    # outside_group: CRP is group scope and HOSP-B left group G1 on 2026-06-01
    ("L7", "R7", PK_A, "HOSP-B", "HOSP-B", "HOSP-B", "1988-5", "HR-L017", "CRP", 3.0, "mg/L", 0, 10, "final",
     datetime(2026, 10, 9, 8), datetime(2026, 10, 9, 9), datetime(2026, 10, 9, 12)),
    # recognisable in group: LAB-C and HOSP-A are both in G1
    ("L8", "R8", PK_A, "LAB-C", "CHC-01", "LAB-C", "1988-5", "HR-L017", "CRP", 2.0, "mg/L", 0, 10, "corrected",
     datetime(2026, 10, 9, 8), datetime(2026, 10, 9, 9), datetime(2026, 10, 9, 12)),
    # never indexed: only a local code
    ("L9", "R9", PK_A, "LAB-C", "CHC-01", "LAB-C", None, None, "XYZ", 1.0, "mmol/L", None, None, "final",
     datetime(2026, 10, 9, 8), datetime(2026, 10, 9, 9), datetime(2026, 10, 9, 12)),
    # resident B's result (another clinician's resident for HOSP-A)
    ("L10", "R10", PK_B, "LAB-C", "HOSP-B", "LAB-C", "14749-6", "HR-L001", "G01", 5.0, "mmol/L", 3.9, 6.1, "final",
     datetime(2026, 10, 9, 8), datetime(2026, 10, 9, 9), datetime(2026, 10, 9, 12)),
]
_EXAM_COLS = ("report_id", "person_key", "performing_institution", "reading_institution", "ordering_institution",
              "exam_item_code", "local_code", "modality", "study_uid", "cloud_film_url", "status", "exam_time",
              "report_time", "loaded_at")
EXAMS = [
    # recognisable, region scope, with the study and cloud film
    ("E1", PK_A, "HOSP-B", "HOSP-B", "HOSP-B", "EX-CT-CHEST", "CT01", "CT", "1.2.156.112605.1.20260801.1",
     "https://film.region.example.cn/s/E1", "final", datetime(2026, 8, 1, 9), datetime(2026, 8, 1, 15),
     datetime(2026, 8, 1, 16)),
    # recognisable, group scope: CHC-01 acquires, read remotely by HOSP-A
    ("E2", PK_A, "CHC-01", "HOSP-A", "CHC-01", "EX-ECG-12", "ECG", "ECG", "1.2.156.112605.1.20261001.2", None,
     "final", datetime(2026, 10, 1, 9), datetime(2026, 10, 1, 10), datetime(2026, 10, 1, 11)),
]
MEMBERSHIPS = [
    ("HOSP-A", "G1", "lead", date(2026, 1, 1), None),
    ("CHC-01", "G1", "member", date(2026, 1, 1), None),
    ("LAB-C", "G1", "member", date(2026, 1, 1), None),
    ("HOSP-B", "G1", "member", date(2025, 1, 1), date(2026, 6, 1)),
]
EXPECTED = {  # result id -> status at DEMO_AT for a request from HOSP-A
    "L1": "not_qualified", "L2": "recognisable", "L3": "expired", "L4": "not_final",
    "L5": "unit_not_normalised", "L6": "not_in_catalogue", "L7": "outside_group", "L8": "recognisable",
    "E1": "recognisable", "E2": "recognisable",
}


def _insert(conn: Connection, table: str, cols: tuple[str, ...], rows: list[tuple]) -> None:
    stmt = sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})")
    conn.execute(stmt, [dict(zip(cols, r, strict=True)) for r in rows])


def seed_demo(conn: Connection) -> None:
    """Create the contract marts if missing and insert the demo rows."""
    ensure_mart_stubs(conn)
    _insert(conn, "fact_lab_result", _LAB_COLS, LABS)
    _insert(conn, "fact_exam_report", _EXAM_COLS, EXAMS)
    _insert(conn, "dim_group_membership", ("institution_code", "group_code", "role", "valid_from", "valid_to"),
            MEMBERSHIPS)
    _insert(conn, "fact_encounter", ("encounter_id", "person_key", "institution_code", "encounter_class",
                                     "start_time"), [("ENC1", PK_A, "HOSP-A", "O", datetime(2026, 3, 1, 9))])
    _insert(conn, "fact_signing", ("contract_id", "person_key", "institution_code", "start_date", "end_date",
                                   "status"), [("SIGN1", PK_B, "HOSP-B", date(2026, 1, 1), date(2026, 12, 31),
                                                "active")])
