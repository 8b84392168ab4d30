"""The monthly submission quality figures, from the warehouse, as one plain dict.

Completeness and timeliness are measured against the expected-submission calendar
(``mappings/submission_calendar.yaml``), never against whatever rows exist: a missing file
and an explicit zero report (``submission_log.is_zero_report``) are different facts
(DOMAIN §7.3). Field completeness and validity come from ``dq_check_result`` counts, so a
threshold change never needs re-validation. The same dict feeds the HTML, the CSV/XLSX
notice, the ``quality_*`` tables and the API (``quality_report_data``).
"""

from __future__ import annotations

import calendar as _cal
import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from statistics import median
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.settings import EXPECTATIONS_DIR, MAPPINGS_DIR
from transforms.sources.calendar import Calendar, expected_submissions, load_calendar
from transforms.yamlio import load_yaml

Lang = Literal["zh", "en"]
CellState = Literal["ok", "zero", "late", "partial", "missing"]
SQL_DIR = Path(__file__).resolve().parent / "sql"
SCORE_PATH = EXPECTATIONS_DIR / "quality_score.yaml"
DIMENSIONS = ("completeness", "timeliness", "field_completeness", "validity", "consistency")
RECEIVED_STATUSES = ("new", "late", "corrected")  # duplicates and rejected files do not count as received


def _sql(name: str) -> str:
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def _rows(conn: Connection, name: str, **params: Any) -> list[dict]:
    return [dict(r._mapping) for r in conn.execute(sa.text(_sql(name)), params)]


def _has_table(conn: Connection, table: str) -> bool:
    return bool(conn.execute(sa.text(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = :t AND table_schema = current_schema()"
    ), {"t": table}).scalar())


def month_bounds(month: str | date) -> tuple[date, date]:
    """'2026-11' (or any date in it) -> (first day, first day of next month)."""
    d = date.fromisoformat(f"{month}-01") if isinstance(month, str) else month.replace(day=1)
    return d, d + timedelta(days=_cal.monthrange(d.year, d.month)[1])


def previous_month(month: str) -> str:
    start, _ = month_bounds(month)
    return (start - timedelta(days=1)).strftime("%Y-%m")


def _pct(num: float, den: float) -> float | None:
    return round(100.0 * num / den, 2) if den else None


def _as_date(v: Any) -> date:
    return v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(str(v)[:10])


def _as_dt(v: Any) -> datetime | None:
    if v is None:
        return None
    return v if isinstance(v, datetime) else datetime.fromisoformat(str(v))


def load_weights(path: Path = SCORE_PATH) -> dict[str, float]:
    weights = load_yaml(path)["weights"]
    unknown = set(weights) - set(DIMENSIONS)
    if unknown:
        raise ValueError(f"{path}: weights: unknown dimension(s) {sorted(unknown)}; known {DIMENSIONS}")
    return {k: float(v) for k, v in weights.items()}


def score(metrics: dict[str, float | None], weights: dict[str, float]) -> float | None:
    """Weighted mean of the dimensions that have data (weights rescaled)."""
    have = {k: w for k, w in weights.items() if metrics.get(k) is not None}
    total = sum(have.values())
    return round(sum(metrics[k] * w for k, w in have.items()) / total, 2) if total else None


# ------------------------------------------------------------------ submissions vs calendar
def declared_missing(landing: Path, subs: list[dict], start: date, end: date) -> list[dict]:
    """Files a landing ``_manifest.json`` declares that never reached the submission log.

    A dataset can arrive in several files (outpatient + inpatient encounters): the calendar
    sees the dataset as received, the manifest tells that one of its files is missing.
    """
    from transforms.ingest.run import choose_profile, profiles_and_pins

    logged = {s["file_path"] for s in subs}
    profiles, pins = profiles_and_pins(MAPPINGS_DIR / "sources")
    out = []
    for manifest in sorted(landing.glob("*/*/*/_manifest.json")):
        source, inst, day_s = manifest.parts[-4:-1]
        try:
            day = date.fromisoformat(day_s)
            files = (json.loads(manifest.read_text(encoding="utf-8")).get("files") or {})
        except ValueError:
            continue  # not a date folder, or an unreadable manifest (ingest reports those)
        if not start <= day < end:
            continue
        for name, meta in files.items():
            rel = f"{source}/{inst}/{day_s}/{name}"
            if rel in logged:
                continue
            spec = choose_profile(profiles, pins, source, inst, name)[1]
            declared = meta.get("declared_count") if isinstance(meta, dict) else None
            out.append({"institution_code": inst, "source": source, "table": spec.table if spec else None,
                        "day": day, "file_path": rel, "declared_count": declared})
    return out


def submission_cells(cal: Calendar, institutions: list[dict], subs: list[dict], start: date,
                     end: date, absent: list[dict] | None = None) -> list[dict]:
    """One cell per expected (institution, dataset, day): ok | zero | late | partial | missing.

    ``partial``: the dataset arrived but a file its manifest declares did not (``absent``).
    """
    absent_keys = {(a["institution_code"], a["source"], a["table"], a["day"]) for a in absent or []}
    ds_by_key = {(d.source, d.table): d for d in cal.datasets}
    received: dict[tuple[str, str, date], list[dict]] = defaultdict(list)
    for s in subs:
        ds = ds_by_key.get((s["source"], s["dataset"]))
        if ds is not None and s["status"] in RECEIVED_STATUSES:
            received[(s["institution_code"], ds.id, _as_date(s["partition_date"]))].append(s)
    cells = []
    day = start
    while day < end:
        for exp in expected_submissions(cal, institutions, day):
            ds = cal.dataset(exp.dataset)
            got = received.get((exp.institution, exp.dataset, day), [])
            if not got and not ds.zero_report_required:
                continue  # no events, no file: not owed, so not missing (calendar zero_report_required)
            due = ds.deadline.due(day)
            first = min((_as_dt(s["arrival_time"]) for s in got), default=None)
            zero = bool(got) and all(bool(s["is_zero_report"]) for s in got)
            if not got:
                state: CellState = "missing"
            elif (exp.institution, ds.source, ds.table, day) in absent_keys:
                state = "partial"
            elif first is not None and first > due:
                state = "late"
            else:
                state = "zero" if zero else "ok"
            delay = round((first - datetime.combine(day, datetime.min.time())).total_seconds() / 3600, 2) \
                if first is not None else None
            cells.append({"institution_code": exp.institution, "source": ds.source, "dataset": ds.id,
                          "table": ds.table, "day": day, "state": state, "batches": len(got),
                          "is_zero_report": zero, "first_arrival": first, "deadline": due,
                          "delay_hours": delay, "zero_report_required": ds.zero_report_required})
        day += timedelta(days=1)
    return cells


def _institution_rows(conn: Connection, subs: list[dict]) -> list[dict]:
    rows = _rows(conn, "institutions") if _has_table(conn, "dim_institution") else []
    if rows:
        return rows
    seen = sorted({s["institution_code"] for s in subs})
    return [{"institution_code": c, "name": c, "inst_type": None} for c in seen]


def _consistency(conn: Connection, start: date, end: date) -> dict[str, dict]:
    if not (_has_table(conn, "fact_lab_result") and _has_table(conn, "fact_encounter")):
        return {}
    rows = _rows(conn, "lab_without_encounter", start=datetime.combine(start, datetime.min.time()),
                 end=datetime.combine(end, datetime.min.time()))
    return {r["institution_code"]: r for r in rows}


def _metrics(code: str, cells: list[dict], subs: list[dict], checks: list[dict], quarantine: list[dict],
             consistency: dict[str, dict]) -> dict[str, Any]:
    mine = [c for c in cells if c["institution_code"] == code]
    expected = len(mine)
    by_state = {s: sum(c["state"] == s for c in mine) for s in ("ok", "zero", "late", "partial", "missing")}
    received = expected - by_state["missing"] - by_state["partial"]
    delays = [c["delay_hours"] for c in mine if c["delay_hours"] is not None and not c["is_zero_report"]]
    my_subs = [s for s in subs if s["institution_code"] == code]
    my_checks = [c for c in checks if c["institution_code"] == code]
    comp = [c for c in my_checks if c["category"] == "Completeness"]
    valid = [c for c in my_checks if c["category"] != "Completeness"]
    mapping = [c for c in my_checks if c["check_id"].endswith("_map_status.mapped")]
    cons = consistency.get(code)
    return {
        "expected": expected, "received": received, "on_time": by_state["ok"] + by_state["zero"],
        "zero_reports": by_state["zero"], "late": by_state["late"], "missing": by_state["missing"],
        "partial": by_state["partial"],
        "completeness": _pct(received, expected),
        "timeliness": _pct(by_state["ok"] + by_state["zero"], received),
        "median_delay_hours": round(median(delays), 2) if delays else None,
        "field_completeness": _pct(sum(c["denominator"] - c["numerator"] for c in comp),
                                   sum(c["denominator"] for c in comp)),
        "validity": _pct(sum(c["denominator"] - c["numerator"] for c in valid), sum(c["denominator"] for c in valid)),
        "mapping_rate": _pct(sum(c["denominator"] - c["numerator"] for c in mapping),
                             sum(c["denominator"] for c in mapping)),
        "checks_failed": sum(int(c["failed_batches"] or 0) for c in my_checks),
        "checks_passed": sum(int(c["passed_batches"] or 0) for c in my_checks),
        "consistency": _pct(cons["labs"] - cons["without_encounter"], cons["labs"]) if cons else None,
        "labs_without_encounter": int(cons["without_encounter"]) if cons else 0,
        "duplicates": sum(s["status"] == "duplicate" for s in my_subs),
        "corrected": sum(s["status"] == "corrected" for s in my_subs),
        "rejected": sum(s["status"] == "rejected" for s in my_subs),
        "quarantined": sum(int(q["rows_quarantined"]) for q in quarantine if q["institution_code"] == code),
    }


def _period(conn: Connection, month: str, cal: Calendar, weights: dict[str, float],
            as_of: date | None = None, landing: Path | None = None) -> dict[str, Any]:
    start, end = month_bounds(month)
    if as_of is not None and start <= as_of < end:
        end = as_of + timedelta(days=1)  # partial month: nothing is owed after the as-of day
    subs = _rows(conn, "submissions", start=start, end=end)
    if not subs:  # the platform received nothing at all in this period: no data, not a score of 0
        return {"start": start, "end": end, "subs": [], "cells": [], "checks": [], "absent": [],
                "quarantine": [], "institutions": []}
    institutions = _institution_rows(conn, subs)
    absent = declared_missing(landing, subs, start, end) if landing is not None and landing.exists() else []
    cells = submission_cells(cal, [i for i in institutions if i.get("inst_type")], subs, start, end, absent)
    checks = _rows(conn, "check_results", start=start, end=end) if _has_table(conn, "dq_check_result") else []
    for c in checks:
        c["numerator"], c["denominator"] = int(c["numerator"] or 0), int(c["denominator"] or 0)
    quarantine = _rows(conn, "quarantine", start=start, end=end)
    consistency = _consistency(conn, start, end)
    rows = []
    for inst in institutions:
        m = _metrics(inst["institution_code"], cells, subs, checks, quarantine, consistency)
        if not m["expected"] and not any(s["institution_code"] == inst["institution_code"] for s in subs):
            continue  # registered but owes nothing this month (e.g. out-of-district)
        m.update(institution_code=inst["institution_code"], name=inst["name"], inst_type=inst["inst_type"])
        m["score"] = score({k: m[k] for k in DIMENSIONS}, weights)
        rows.append(m)
    ranked = sorted([r for r in rows if r["score"] is not None], key=lambda r: (-r["score"], r["institution_code"]))
    for i, r in enumerate(ranked, 1):
        r["rank"] = i
    return {"start": start, "end": end, "subs": subs, "cells": cells, "checks": checks, "absent": absent,
            "quarantine": quarantine, "institutions": rows}


def quality_report_data(conn: Connection, month: str, lang: Lang = "zh", calendar: Calendar | None = None,
                        weights: dict[str, float] | None = None, as_of: date | None = None,
                        landing: Path | None = None) -> dict[str, Any]:
    """Every figure of the monthly report for ``month`` ('YYYY-MM'), JSON-friendly after ``jsonable``.

    ``as_of`` cuts a month in progress at that day (``is_partial`` is then true); ``landing``
    (the landing root) adds files declared in ``_manifest.json`` that never arrived.
    """
    from transforms.quality.labels import labels

    cal = calendar or load_calendar(MAPPINGS_DIR / "submission_calendar.yaml")
    w = weights or load_weights()
    cur = _period(conn, month, cal, w, as_of, landing)
    prev = _period(conn, previous_month(month), cal, w, None, landing)
    prev_by = {r["institution_code"]: r for r in prev["institutions"]}
    for r in cur["institutions"]:
        p = prev_by.get(r["institution_code"])
        r["prev_score"] = p["score"] if p else None
        r["prev_rank"] = p.get("rank") if p else None
        r["score_delta"] = round(r["score"] - p["score"], 2) if p and p["score"] is not None and r["score"] is not None else None
    institutions = sorted(cur["institutions"], key=lambda r: (r.get("rank") or 10**6, r["institution_code"]))
    names = {r["institution_code"]: r["name"] for r in institutions}
    days = [cur["start"] + timedelta(days=i) for i in range((cur["end"] - cur["start"]).days)]
    return {
        "month": month, "lang": lang, "labels": labels(lang), "as_of": cur["end"] - timedelta(days=1),
        "is_partial": cur["end"] < month_bounds(month)[1], "generated_at": datetime.now().replace(microsecond=0),
        "weights": w, "institutions": institutions,
        "summary": _summary(institutions, cur["cells"]),
        "heatmap": _heatmap(institutions, cur["cells"], days),
        "trend": _trend(cur["cells"], days),
        "missing": [{**c, "name": names.get(c["institution_code"], c["institution_code"])}
                    for c in cur["cells"] if c["state"] in ("missing", "late", "partial", "zero")],
        "absent_files": [{**a, "name": names.get(a["institution_code"], a["institution_code"])}
                         for a in cur["absent"]],
        "cells": cur["cells"],
        "checks": _check_rows(cur["checks"], cur["quarantine"], names),
    }


def _summary(rows: list[dict], cells: list[dict]) -> dict[str, Any]:
    exp = len(cells)
    rec = sum(c["state"] not in ("missing", "partial") for c in cells)
    on_time = sum(c["state"] in ("ok", "zero") for c in cells)
    return {"institutions": len(rows), "expected": exp, "received": rec,
            "missing": sum(c["state"] == "missing" for c in cells),
            "partial": sum(c["state"] == "partial" for c in cells),
            "zero_reports": sum(c["state"] == "zero" for c in cells), "late": sum(c["state"] == "late" for c in cells),
            "completeness": _pct(rec, exp), "timeliness": _pct(on_time, rec),
            "quarantined": sum(r["quarantined"] for r in rows),
            "duplicates": sum(r["duplicates"] for r in rows), "corrected": sum(r["corrected"] for r in rows)}


def _heatmap(rows: list[dict], cells: list[dict], days: list[date]) -> dict[str, Any]:
    idx: dict[tuple[str, date], list[dict]] = defaultdict(list)
    for c in cells:
        idx[(c["institution_code"], c["day"])].append(c)
    out = []
    for r in rows:
        line = []
        for d in days:
            cs = idx.get((r["institution_code"], d), [])
            n = len(cs)
            got = sum(c["state"] not in ("missing", "partial") for c in cs)
            line.append({"day": d, "expected": n, "received": got,
                         "partial": [c["dataset"] for c in cs if c["state"] == "partial"],
                         "late": sum(c["state"] == "late" for c in cs),
                         "zero": sum(c["state"] == "zero" for c in cs),
                         "missing": [c["dataset"] for c in cs if c["state"] == "missing"],
                         "ratio": round(got / n, 4) if n else None})
        out.append({"institution_code": r["institution_code"], "name": r["name"], "cells": line})
    return {"days": days, "rows": out}


def _trend(cells: list[dict], days: list[date]) -> list[dict]:
    by_day: dict[date, list[dict]] = defaultdict(list)
    for c in cells:
        by_day[c["day"]].append(c)
    out = []
    for d in days:
        cs = by_day.get(d, [])
        rec = sum(c["state"] not in ("missing", "partial") for c in cs)
        out.append({"day": d, "completeness": _pct(rec, len(cs)),
                    "timeliness": _pct(sum(c["state"] in ("ok", "zero") for c in cs), rec)})
    return out


def _check_rows(checks: list[dict], quarantine: list[dict], names: dict[str, str]) -> list[dict]:
    """Failing checks with their drill-down: quarantined rows and an example reason."""
    q = {(r["institution_code"], r["check_id"]): r for r in quarantine}
    out = []
    for c in checks:
        if not c["numerator"]:
            continue
        qr = q.get((c["institution_code"], f"validate.{c['check_id']}"))
        out.append({**c, "name": names.get(c["institution_code"], c["institution_code"]),
                    "pct": _pct(c["numerator"], c["denominator"]),
                    "doc": f"checks/{c['check_type']}.md",
                    "rows_quarantined": int(qr["rows_quarantined"]) if qr else 0,
                    "example_reason": qr["example_reason"] if qr else None})
    return sorted(out, key=lambda r: (-r["numerator"], r["institution_code"], r["check_id"]))


def jsonable(obj: Any) -> Any:
    """Dates and datetimes to ISO strings, recursively (for the API and JSON dumps)."""
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (date, datetime)):
        return obj.isoformat()
    return obj


def failing_records(conn: Connection, check_id: str, institution: str, month: str, limit: int = 100) -> list[dict]:
    """Drill-down: the quarantined records of one check at one institution in the month.

    ``check_id`` is a catalogue id (``encounter.end_time.after_start``) or a full quarantine
    check id (``ingest.encoding``). Warning-severity failures are not quarantined: they are
    the validated rows whose ``_dq_warnings`` lists the check.
    """
    start, end = month_bounds(month)
    full = check_id if check_id.split(".")[0] in ("ingest", "standardise", "validate", "fhir", "load") \
        else f"validate.{check_id}"
    rows = conn.execute(sa.text(
        "SELECT quarantine_id, batch_id, stage, dataset, partition_date, check_id, reason, file_path, line_no, "
        "message_id, raw_record FROM quarantine WHERE check_id = :c AND institution_code = :i "
        "AND partition_date >= :s AND partition_date < :e ORDER BY partition_date, file_path, line_no LIMIT :n"),
        {"c": full, "i": institution, "s": start, "e": end, "n": int(limit)})
    return [dict(r._mapping) for r in rows]
