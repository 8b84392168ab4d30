"""The end-of-run summary: what was loaded, what was quarantined and why, where outputs are."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from transforms.settings import Settings
from transforms.warehouse.db import get_engine

FACT_TABLES = ("fact_encounter", "fact_diagnosis", "fact_lab_result", "fact_exam_report", "fact_prescription",
               "fact_immunization", "fact_followup", "fact_signing", "fact_referral", "dim_person",
               "dim_institution", "dim_group_membership")


def collect(settings: Settings) -> dict[str, Any]:
    """Counts from the warehouse, tolerant of tables a partial install lacks."""
    out: dict[str, Any] = {"loaded": {}, "quarantine": [], "warnings": [], "submissions": [], "alerts": 0}
    engine = get_engine(settings.warehouse_url)
    with engine.connect() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        for t in FACT_TABLES:
            if t in existing:
                out["loaded"][t] = conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
        if "quarantine" in existing:
            out["quarantine"] = [dict(r._mapping) for r in conn.execute(sa.text(
                "SELECT stage, check_id, COUNT(*) AS n, MIN(reason) AS example FROM quarantine "
                "GROUP BY stage, check_id ORDER BY n DESC, check_id"))]
        if "dq_warning" in existing:
            out["warnings"] = [dict(r._mapping) for r in conn.execute(sa.text(
                "SELECT check_id, COUNT(*) AS n FROM dq_warning GROUP BY check_id ORDER BY n DESC, check_id"))]
        if "submission_log" in existing:
            out["submissions"] = [dict(r._mapping) for r in conn.execute(sa.text(
                "SELECT status, COUNT(*) AS n FROM submission_log GROUP BY status ORDER BY status"))]
        if "alert_log" in existing:
            out["alerts"] = conn.execute(sa.text("SELECT COUNT(*) FROM alert_log")).scalar_one()
    return out


def render(settings: Settings, data: dict[str, Any]) -> str:
    """A short plain-text summary for the terminal."""
    lines = ["", "=== Regional health data platform: run summary ==="]
    lines.append("Loaded (warehouse rows):")
    for t, n in data["loaded"].items():
        lines.append(f"  {t:<24} {n:>9,}")
    lines.append("Submissions by status: " + ", ".join(f"{r['status']}={r['n']}" for r in data["submissions"]))
    total_q = sum(r["n"] for r in data["quarantine"])
    lines.append(f"Quarantined: {total_q:,} records (nothing dropped); top reasons:")
    for r in data["quarantine"][:12]:
        lines.append(f"  {r['n']:>6}  {r['stage']:<11} {r['check_id']:<44} e.g. {str(r['example'])[:90]}")
    total_w = sum(r["n"] for r in data["warnings"])
    lines.append(f"Loaded with warnings (named in dq_warning with file and line): {total_w:,}; top checks:")
    for r in data["warnings"][:6]:
        lines.append(f"  {r['n']:>6}  {r['check_id']}")
    lines.append(f"Alerts raised: {data['alerts']}")
    lines.append("Outputs:")
    lines.append(f"  warehouse       {settings.warehouse_url}")
    lines.append(f"  raw/FHIR lake   {settings.lake}")
    lines.append(f"  reports         {settings.reports}")
    lines.append(f"  exports         {settings.exports}")
    return "\n".join(lines)
