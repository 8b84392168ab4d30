"""Post-load steps run once per day over the whole warehouse (the asset-scheduled DAGs).

Each is idempotent: reference tables are replaced, the 互认 index is refreshed from the
last refresh time, indicators are appended as a new run (history is the point), the
quality report and the feed rewrite their month.
"""

from __future__ import annotations

import csv
from datetime import date
from typing import Any

from transforms.settings import MAPPINGS_DIR, Settings
from transforms.warehouse.db import get_engine, migrate, replace_partition

KEY_POPULATION_FILE = MAPPINGS_DIR / "codesystems" / "value_domains" / "key_population.csv"
POPULATION_FILE = MAPPINGS_DIR / "population.csv"


def _csv_rows(path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def load_reference(settings: Settings, day: date) -> dict[str, Any]:
    """Code systems and concept maps, the date dimension, key populations, populations; then
    the warehouse-table expectation suite, pushed down as SQL (results in ``dq_check_result``)."""
    from transforms.terminology.warehouse import load_code_systems
    from transforms.validation.run import validate_marts
    from transforms.warehouse.dates import build_dim_date

    engine = get_engine(settings.warehouse_url)
    migrate(engine)
    with engine.begin() as conn:
        codes = load_code_systems(conn)
        dates = build_dim_date(conn, date(day.year - 1, 1, 1), date(day.year + 1, 12, 31))
        kp = [{"code": r["code"], "display": r.get("display") or r.get("display_zh") or ""}
              for r in _csv_rows(KEY_POPULATION_FILE)] if KEY_POPULATION_FILE.exists() else []
        replace_partition(conn, "ref_key_population", {}, kp)
        pop = [{"division_code": r["division_code"], "year": int(r["year"]), "population": int(r["population"]),
                "source": r.get("source", "")} for r in _csv_rows(POPULATION_FILE)] if POPULATION_FILE.exists() else []
        replace_partition(conn, "ref_population", {}, pop)
    with engine.begin() as conn:
        outcomes = validate_marts(conn, run_day=day)
    failed = sorted(o.check.check_id for o in outcomes if o.status == "fail")
    return {"mart_checks": len(outcomes), "mart_checks_failed": failed,"code_systems": codes if isinstance(codes, dict) else str(codes), "dim_date_rows": dates,
            "key_populations": len(kp), "population_rows": len(pop)}


def refresh_recognition_index(settings: Settings, day: date) -> dict[str, Any]:
    """Incremental: rows loaded since the previous refresh (a full refresh the first time)."""
    from transforms.recognition.index import refresh_index

    engine = get_engine(settings.warehouse_url)
    migrate(engine)
    with engine.begin() as conn:
        n = refresh_index(conn, None)
    return {"rows_refreshed": n}


def compute_indicators(settings: Settings, day: date) -> dict[str, Any]:
    from transforms.indicators.service import compute_for_day

    return compute_for_day(settings, day, trigger="dag")


def build_quality_report(settings: Settings, day: date) -> dict[str, Any]:
    from transforms.quality.report import build_quality_report as build

    out = build(settings, day)
    return {k: str(v) for k, v in (vars(out).items() if hasattr(out, "__dict__") else {"output": out}.items())}


def export_ops_feed(settings: Settings, day: date) -> dict[str, Any]:
    from transforms.feed.export import export_feeds

    return export_feeds(settings, day)
