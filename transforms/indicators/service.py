"""What the CLI, the API and the DAG share: compute for a day, read values, drill down, names."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.indicators.engine import drill_down
from transforms.indicators.model import Indicator, PeriodType, load_indicators
from transforms.indicators.periods import parse_period
from transforms.indicators.render import write_pages
from transforms.indicators.store import latest_run_as_of, latest_values, periods_touching, run_indicators
from transforms.settings import Settings
from transforms.warehouse.db import get_engine, migrate


def institution_names(conn: Connection) -> dict[str, str]:
    if "dim_institution" not in sa.inspect(conn).get_table_names():
        return {}
    return {r[0]: r[1] for r in conn.execute(sa.text("SELECT institution_code, name FROM dim_institution"))}


def compute_for_day(settings: Settings, day: date, as_of: datetime | None = None,
                    trigger: str = "dag") -> dict[str, Any]:
    """Recompute every indicator for the month, quarter and year containing ``day``; write pages."""
    indicators = load_indicators()
    engine = get_engine(settings.warehouse_url)
    migrate(engine)
    with engine.begin() as conn:
        run_id = run_indicators(conn, indicators.values(), periods_touching(day), as_of=as_of, trigger=trigger)  # type: ignore[arg-type]
        n = conn.execute(sa.text("SELECT COUNT(*) FROM indicator_value WHERE run_id = :r"), {"r": run_id}).scalar_one()
    with engine.connect() as conn:
        pages = write_pages(conn, indicators, institution_names(conn), settings.reports / "indicators")
    return {"run_id": run_id, "values": int(n), "indicators": len(indicators), "pages_dir": str(pages[0].parent)}


def values(conn: Connection, ind: Indicator, period_type: PeriodType, dimension: str,
           period_label: str | None = None, published_only: bool = False) -> list[dict[str, Any]]:
    ps = parse_period(period_type, period_label).start if period_label else None
    return latest_values(conn, ind.code, period_type, dimension, ps, published_only)


def drill(conn: Connection, ind: Indicator, period_type: PeriodType, period_label: str, dimension: str,
          member: str, limit: int = 200, as_of: datetime | None = None) -> list[dict[str, Any]]:
    """The rows behind a value, as of the newest stored run for that period (so they add up to it)."""
    period = parse_period(period_type, period_label)
    cut = as_of or latest_run_as_of(conn, ind.code, period) or datetime.now()
    return drill_down(conn, ind, period, dimension, member, limit, as_of=cut)  # type: ignore[arg-type]


def pages_dir(settings: Settings) -> Path:
    return settings.reports / "indicators"
