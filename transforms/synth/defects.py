"""Fault injection: the defects real submissions have, each one logged where it was put.

Every injected defect becomes one entry of ``<out>/_defects_manifest.json`` with kind,
source, institution, date, file, line or message id and a detail sentence, so a quality
report can be checked against ground truth. Decisions are stable hashes of (seed, file,
line), so defects spread over institutions deterministically.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from transforms.synth.rng import h64, unit


class Kind(StrEnum):
    invalid_id = "invalid_id"
    id_15 = "id_15"
    sex_mismatch = "sex_mismatch"
    unmapped_code = "unmapped_code"
    exact_duplicate = "exact_duplicate"
    near_duplicate = "near_duplicate"
    duplicate_file = "duplicate_file"
    late_file = "late_file"
    missing_file = "missing_file"
    corrected_file = "corrected_file"
    zero_report = "zero_report"
    malformed_hl7 = "malformed_hl7"
    wrong_encoding = "wrong_encoding"
    bom = "bom"
    impossible_date = "impossible_date"
    impossible_value = "impossible_value"


ROW_KINDS = (Kind.invalid_id, Kind.id_15, Kind.sex_mismatch, Kind.unmapped_code, Kind.exact_duplicate,
             Kind.near_duplicate, Kind.impossible_date, Kind.impossible_value)
FILE_KINDS = (Kind.duplicate_file, Kind.late_file, Kind.missing_file, Kind.corrected_file,
              Kind.zero_report, Kind.malformed_hl7, Kind.wrong_encoding, Kind.bom)

PERSON_TABLES = {"encounter", "prescription", "lab_result", "exam_report", "followup", "immunization",
                 "health_record", "signing_contract", "referral"}
CODE_FIELD = {"encounter": ("diagnosis_code", "diagnosis"), "diagnosis": ("diagnosis_code", "diagnosis"),
              "prescription": ("drug_code", "drug"), "lab_result": ("item_code", "lab"),
              "exam_report": ("item_code", "exam")}
# table -> (field that becomes impossible, how)
DATE_FAULT = {"encounter": ("end_time", "before_start"), "lab_result": ("report_time", "before_specimen"),
              "exam_report": ("report_time", "before_exam"), "followup": ("followup_date", "feb30"),
              "immunization": ("vaccination_date", "feb30"), "prescription": ("prescribed_time", "feb30")}
VALUE_FAULT = {"encounter": "negative_cost", "prescription": "negative_amount", "followup": "bp_400_20",
               "health_record": "age_150", "signing_contract": "age_150", "immunization": "age_150"}
NEAR_DUP = {"encounter": ("encounter_no", "start_time"), "exam_report": ("exam_no", "exam_time"),
            "followup": ("followup_no", None), "prescription": ("rx_no", "prescribed_time")}
KEY_FIELD = {"encounter": "encounter_no", "diagnosis": "encounter_no", "prescription": "rx_no",
             "lab_result": "report_no", "exam_report": "exam_no", "followup": "followup_no",
             "immunization": "vaccination_no", "health_record": "record_no", "signing_contract": "contract_no",
             "referral": "referral_no", "surveillance_report": "institution_code"}


class Feb30:
    """Marker for a calendar-impossible date; the writer renders it as Feb 30 in the vendor format."""

    def __init__(self, with_time: bool) -> None:
        self.with_time = with_time

    def render(self, fmt: str) -> str:
        return datetime(2026, 2, 28, 9, 15, 0).strftime(fmt).replace("28", "30", 1)


def applicable_row_kinds(table: str, fmt: str) -> list[Kind]:
    kinds: list[Kind] = []
    if table in PERSON_TABLES:
        kinds += [Kind.invalid_id, Kind.id_15, Kind.sex_mismatch]
    if table in CODE_FIELD:
        kinds.append(Kind.unmapped_code)
    if fmt != "hl7v2":
        kinds.append(Kind.exact_duplicate)
        if table in NEAR_DUP:
            kinds.append(Kind.near_duplicate)
    if table in DATE_FAULT:
        kinds.append(Kind.impossible_date)
    if table in VALUE_FAULT:
        kinds.append(Kind.impossible_value)
    return kinds


def applicable_file_kinds(fmt: str, encoding: str) -> list[Kind]:
    kinds = [Kind.duplicate_file, Kind.late_file, Kind.missing_file, Kind.corrected_file, Kind.zero_report]
    if fmt == "hl7v2":
        kinds += [Kind.malformed_hl7] * 3  # the HL7-specific fault is the one HL7 readers must survive
    if fmt in ("csv", "json") and encoding in ("utf-8", "auto"):
        kinds.append(Kind.bom)
    if fmt == "csv" and encoding in ("utf-8", "auto"):
        kinds.append(Kind.wrong_encoding)
    return kinds


@dataclass
class DefectLog:
    """Collects defect entries (the whole run's ground truth; small: ~rate x rows)."""

    seed: int
    rate: float
    entries: list[dict[str, Any]] = field(default_factory=list)

    @property
    def file_rate(self) -> float:
        return min(0.5, self.rate * 5)

    def add(self, kind: Kind, ctx: dict[str, str], detail: str, line: int | None = None,
            message_id: str | None = None, record: str | None = None) -> None:
        self.entries.append({"kind": kind.value, **ctx, "line": line, "message_id": message_id,
                             "record": record, "detail": detail})

    def discard(self, file: str) -> int:
        """Forget row-level defects of a file that will not be delivered as written."""
        before = len(self.entries)
        self.entries = [e for e in self.entries if not (e["file"] == file and e["kind"] in _ROW_VALUES)]
        return before - len(self.entries)

    def row_kind(self, file: str, line: int, kinds: list[Kind], force: bool = False) -> Kind | None:
        if not kinds or (not force and (self.rate <= 0 or unit(self.seed, "rowdef", file, line) >= self.rate)):
            return None
        return kinds[h64(self.seed, "rowkind", file, line) % len(kinds)]

    def file_kind(self, file: str, kinds: list[Kind]) -> Kind | None:
        if self.rate <= 0 or not kinds or unit(self.seed, "filedef", file) >= self.file_rate:
            return None
        return kinds[h64(self.seed, "filekind", file) % len(kinds)]

    def write(self, out: Path) -> dict[str, int]:
        counts = Counter(e["kind"] for e in self.entries)
        doc = {"seed": self.seed, "defect_rate": self.rate, "counts": dict(sorted(counts.items())),
               "defects": self.entries}
        (out / "_defects_manifest.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1),
                                                    encoding="utf-8")
        return dict(sorted(counts.items()))


_ROW_VALUES = {k.value for k in ROW_KINDS}


def break_check_digit(idn: str) -> str:
    good = idn[-1]
    bad = "0123456789X"[("0123456789X".index(good) + 3) % 11]
    return idn[:-1] + bad


def to_15(idn: str) -> str:
    """Legacy 15-digit form: drop the century and the check character."""
    return idn[:6] + idn[8:17]


def apply_row_defect(kind: Kind, table: str, row: dict[str, Any], unmapped: str) -> str:
    """Mutate ``row`` in place; return the detail sentence for the manifest."""
    if kind is Kind.invalid_id:
        old = row["id_number"]
        row["id_number"] = break_check_digit(old)
        return f"id_number check character changed from {old[-1]} to {row['id_number'][-1]}"
    if kind is Kind.id_15:
        row["id_number"] = to_15(row["id_number"])
        return f"id_number submitted in legacy 15-digit form {row['id_number']}"
    if kind is Kind.sex_mismatch:
        old = row["sex_code"]
        row["sex_code"] = "2" if old == "1" else "1"
        return f"sex_code {row['sex_code']} contradicts the ID sex digit (expected {old})"
    if kind is Kind.unmapped_code:
        fld = CODE_FIELD[table][0]
        old, row[fld] = row[fld], unmapped
        return f"{fld} {unmapped} is not in the dictionary (was {old})"
    if kind is Kind.impossible_date:
        fld, how = DATE_FAULT[table]
        if how == "before_start":
            row[fld] = row["start_time"] - timedelta(days=1, hours=2)
            return f"end_time {row[fld]:%Y-%m-%d %H:%M} is before start_time {row['start_time']:%Y-%m-%d %H:%M}"
        if how == "before_specimen":
            row[fld] = row["specimen_time"] - timedelta(hours=3)
            return f"report_time {row[fld]:%Y-%m-%d %H:%M} is before specimen_time {row['specimen_time']:%Y-%m-%d %H:%M}"
        if how == "before_exam":
            row[fld] = row["exam_time"] - timedelta(hours=5)
            return f"report_time {row[fld]:%Y-%m-%d %H:%M} is before exam_time {row['exam_time']:%Y-%m-%d %H:%M}"
        row[fld] = Feb30(isinstance(row[fld], datetime))
        return f"{fld} is the impossible calendar date 2026-02-30"
    if kind is Kind.impossible_value:
        how = VALUE_FAULT[table]
        if how == "negative_cost":
            row["total_cost"] = -abs(row["total_cost"])
            return f"total_cost is negative ({row['total_cost']})"
        if how == "negative_amount":
            row["amount"] = -abs(row["amount"])
            return f"amount is negative ({row['amount']})"
        if how == "bp_400_20":
            row["sbp"], row["dbp"] = 400, 20
            return "blood pressure 400/20 mmHg is impossible"
        old = row["birth_date"]
        row["birth_date"] = old.replace(year=1876, day=min(old.day, 28))
        return f"birth_date {row['birth_date']} makes the person about 150 years old (was {old})"
    raise ValueError(f"not a value-changing row defect: {kind}")


def arrival(day: date, late_days: int = 0) -> float:
    """Epoch seconds of next day 02:00 Asia/Shanghai (+ late_days): simulated arrival time."""
    from datetime import timezone

    tz = timezone(timedelta(hours=8))
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=tz).timestamp() + 86400 * (1 + late_days)
