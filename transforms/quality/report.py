"""Build the monthly quality report: warehouse tables + HTML + CSV + XLSX.

``python -m transforms.quality.report --month 2026-11 [--lang en]`` writes
``<home>/reports/quality/<month>/quality_<month>_<lang>.{html,csv,xlsx}``.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection

from transforms.quality.compute import Lang, quality_report_data
from transforms.quality.render import render_html, write_csv, write_xlsx
from transforms.settings import Settings, load_settings
from transforms.warehouse.db import replace_partition, transaction

_INST_COLS = ("institution_code", "name", "inst_type", "expected", "received", "on_time", "zero_reports", "late",
              "missing", "partial", "completeness", "timeliness", "median_delay_hours", "field_completeness", "validity",
              "mapping_rate", "consistency", "labs_without_encounter", "checks_failed", "checks_passed",
              "duplicates", "corrected", "rejected", "quarantined", "score", "rank", "prev_score", "prev_rank",
              "score_delta")


@dataclass
class QualityReportOutput:
    month: str
    files: list[str] = field(default_factory=list)
    institutions: int = 0
    expected: int = 0
    missing: int = 0


def write_quality_tables(conn: Connection, data: dict[str, Any]) -> dict[str, int]:
    """Replace the month in the ``quality_*`` tables; returns rows written per table."""
    month = data["month"]
    subs = [{"month": month, "institution_code": c["institution_code"], "source": c["source"],
             "dataset": c["dataset"], "partition_date": c["day"], "state": c["state"], "batches": c["batches"],
             "is_zero_report": c["is_zero_report"], "first_arrival": c["first_arrival"],
             "deadline": c["deadline"], "delay_hours": c["delay_hours"]} for c in data["cells"]]
    inst = [{"month": month, **{k: r.get(k) for k in _INST_COLS}} for r in data["institutions"]]
    checks = [{"month": month, "institution_code": c["institution_code"], "table_name": c["table_name"],
               "check_id": c["check_id"], "category": c["category"], "severity": c["severity"],
               "numerator": c["numerator"], "denominator": c["denominator"], "pct": c["pct"],
               "rows_quarantined": c["rows_quarantined"]} for c in data["checks"]]
    return {
        "quality_submission": replace_partition(conn, "quality_submission", {"month": month}, subs),
        "quality_institution_month": replace_partition(conn, "quality_institution_month", {"month": month}, inst),
        "quality_check_month": replace_partition(conn, "quality_check_month", {"month": month}, checks),
    }


def build_monthly_report(settings: Settings, month: str, langs: tuple[Lang, ...] = ("zh", "en"),
                         as_of: date | None = None) -> QualityReportOutput:
    """Compute the month once per language, store the tables, write the files."""
    out = QualityReportOutput(month)
    folder = settings.reports / "quality" / month
    folder.mkdir(parents=True, exist_ok=True)
    with transaction(settings.warehouse_url) as conn:
        for i, lang in enumerate(langs):
            data = quality_report_data(conn, month, lang=lang, as_of=as_of, landing=settings.landing)
            if i == 0:
                write_quality_tables(conn, data)
                out.institutions, out.expected = len(data["institutions"]), data["summary"]["expected"]
                out.missing = data["summary"]["missing"]
            base = folder / f"quality_{month}_{lang}"
            Path(f"{base}.html").write_text(render_html(data), encoding="utf-8")
            write_csv(data, Path(f"{base}.csv"))
            write_xlsx(data, Path(f"{base}.xlsx"))
            out.files += [f"{base}.html", f"{base}.csv", f"{base}.xlsx"]
    return out


def build_quality_report(settings: Settings, day: date) -> QualityReportOutput:
    """Post-load step: rebuild the report of the month ``day`` falls in, up to ``day``."""
    return build_monthly_report(settings, day.strftime("%Y-%m"), as_of=day)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--month", required=True, help="YYYY-MM")
    ap.add_argument("--lang", choices=["zh", "en"], action="append")
    ap.add_argument("--as-of", type=date.fromisoformat, help="cut a month in progress at this day (YYYY-MM-DD)")
    args = ap.parse_args(argv)
    res = build_monthly_report(load_settings(), args.month, tuple(args.lang or ("zh", "en")), args.as_of)
    print(f"{res.month}: {res.institutions} institutions, {res.expected} expected, {res.missing} missing")
    for f in res.files:
        print(f)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
