"""Does the pipeline find each injected defect at the right place? (demo / integration audit)

``transforms.synth`` writes ``_defects_manifest.json`` (kind, institution, file, line, ...).
This audit looks for every entry where the platform should have recorded it: the report's
submission cells (missing / late / zero / partial), the submission log (duplicate,
corrected), quarantine (file + line, any stage), the validated layer's ``_dq_warnings`` and
the standard layer's ``*_map_status``. Usage::

    PYTHONPATH=. .venv/bin/python -m transforms.quality.defects_audit --month 2026-11 [--as-of 2026-11-10]
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import Counter, defaultdict
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

ROW_KINDS = {"exact_duplicate", "unmapped_code", "sex_mismatch", "impossible_value", "id_15", "invalid_id",
             "impossible_date", "near_duplicate"}


def _locators(file: str, line: Any, msg: Any) -> list[tuple[str, Any]]:
    """A record is found by (file, line) or, for HL7/FHIR, by (file, message id)."""
    out = []
    if line is not None and not pd.isna(line):
        out.append((file, int(line)))
    if isinstance(msg, str) and msg:
        out.append((file, msg))
    return out


def _lake_index(lake: Path) -> tuple[dict[tuple[str, Any], str], set[tuple[str, Any]]]:
    """Locator -> ';'-joined warnings from validated; locators with an unmapped code in standard."""
    warns: dict[tuple[str, Any], str] = {}
    for f in (lake / "validated").glob("*/*/*/*/*.parquet"):
        df = pd.read_parquet(f, columns=["_file", "_line", "_message_id", "_dq_warnings"])
        for file, line, msg, w in zip(df["_file"], df["_line"], df["_message_id"], df["_dq_warnings"], strict=True):
            if isinstance(w, str) and w:
                for loc in _locators(file, line, msg):
                    warns[loc] = w
    unmapped: set[tuple[str, Any]] = set()
    for f in (lake / "standard").glob("*/*/*/*/*.parquet"):
        df = pd.read_parquet(f)
        cols = [c for c in df.columns if c.endswith("_map_status")]
        if not cols or "_line" not in df.columns:
            continue
        sub = df.loc[(df[cols] == "unmapped").any(axis=1)]
        for file, line, msg in zip(sub["_file"], sub["_line"], sub["_message_id"], strict=True):
            unmapped.update(_locators(file, line, msg))
    return warns, unmapped


def audit_defects(conn: Connection, manifest: dict[str, Any], data: dict[str, Any], lake: Path) -> list[dict]:
    """One row per injected defect: found (bool) and where."""
    q = defaultdict(list)
    for file, line, msg, check in conn.execute(sa.text(
            "SELECT file_path, line_no, message_id, check_id FROM quarantine")).all():
        q[(file, line)].append(check)
        if msg:
            q[(file, msg)].append(check)
    log = {r.file_path: r for r in conn.execute(sa.text(
        "SELECT file_path, status, is_zero_report, institution_code, partition_date, source, notes, superseded_by "
        "FROM submission_log")).all()}
    statuses = defaultdict(set)
    for r in log.values():
        statuses[(r.institution_code, str(r.partition_date), r.source)].add(r.status)
    cells = defaultdict(set)
    for c in data["cells"]:
        cells[(c["institution_code"], c["day"].isoformat(), c["source"])].add(c["state"])
    absent = {a["file_path"] for a in data.get("absent_files", [])}
    warns, unmapped = _lake_index(lake)
    out = []
    for d in manifest["defects"]:
        kind, file, line = d["kind"], d["file"], d.get("line")
        key = (d["institution"], d["date"], d["source"])
        where = ""
        if kind == "missing_file":
            where = "report: declared file missing" if file in absent else (
                "report: dataset missing" if "missing" in cells.get(key, set()) else "")
        elif kind == "late_file":
            where = "report: late" if "late" in cells.get(key, set()) else (
                "submission_log: late" if log.get(file) is not None and log[file].status == "late" else "")
        elif kind == "zero_report":
            r = log.get(file)
            where = "report: zero report" if r is not None and r.is_zero_report else ""
        elif kind in ("duplicate_file", "corrected_file"):
            st = "duplicate" if kind == "duplicate_file" else "corrected"
            where = f"submission_log: {st}" if st in statuses.get(key, set()) else ""
        elif kind == "malformed_hl7":
            hits = q.get((file, d.get("message_id"))) or q.get((file, None)) or [
                c for (f, m), cs in q.items() if f == file and isinstance(m, str) and m.startswith("#")
                for c in cs if c.startswith("ingest.hl7.")]  # no MSH, so no MSH-10: found by its ordinal
            where = f"quarantine: {hits[0]}" if hits else ""
        elif kind in ("wrong_encoding", "bom"):
            r = log.get(file)
            where = f"ingest read it ({r.status}{'; ' + r.notes if r.notes else ''})" if r is not None else ""
        elif kind in ROW_KINDS:
            locs = _locators(file, line, d.get("message_id"))
            hits = [c for loc in locs for c in q.get(loc, [])]
            warned = [warns[loc] for loc in locs if loc in warns]
            if hits:
                where = f"quarantine: {hits[0]}"
            elif warned:
                where = f"warning: {warned[0]}"
            elif kind == "unmapped_code" and any(loc in unmapped for loc in locs):
                where = "standard: map_status unmapped"
            elif log.get(file) is not None and log[file].superseded_by:
                where = "resolved: a corrected file superseded this one"
        out.append({**d, "found": bool(where), "where": where})
    return out


def summary(rows: list[dict]) -> list[tuple[str, int, int]]:
    inj, found = Counter(r["kind"] for r in rows), Counter(r["kind"] for r in rows if r["found"])
    return [(k, inj[k], found[k]) for k in sorted(inj)]


def main(argv: list[str] | None = None) -> int:
    from transforms.quality.compute import quality_report_data
    from transforms.settings import load_settings
    from transforms.warehouse.db import transaction

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--month", required=True)
    ap.add_argument("--as-of", type=date.fromisoformat)
    ap.add_argument("--manifest", type=Path, help="default: <home>/_defects_manifest.json")
    args = ap.parse_args(argv)
    s = load_settings()
    manifest = json.loads((args.manifest or s.home / "_defects_manifest.json").read_text(encoding="utf-8"))
    with transaction(s.warehouse_url) as conn:
        data = quality_report_data(conn, args.month, as_of=args.as_of, landing=s.landing)
        rows = audit_defects(conn, manifest, data, s.lake)
    out = s.reports / "quality" / args.month / "defects_audit.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["kind"])
        w.writeheader()
        w.writerows(rows)
    print(f"{'kind':<18}{'injected':>10}{'found':>8}")
    for kind, n, f in summary(rows):
        print(f"{kind:<18}{n:>10}{f:>8}")
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
