"""Calendar periods (month, quarter, year) as half-open date ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from transforms.indicators.model import PeriodType


@dataclass(frozen=True)
class Period:
    type: PeriodType
    start: date
    end: date  # exclusive

    @property
    def label(self) -> str:
        if self.type == "month":
            return f"{self.start:%Y-%m}"
        if self.type == "quarter":
            return f"{self.start.year}Q{(self.start.month - 1) // 3 + 1}"
        return f"{self.start.year}"

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _add_months(d: date, n: int) -> date:
    m = d.month - 1 + n
    return date(d.year + m // 12, m % 12 + 1, 1)


def period_containing(kind: PeriodType, day: date) -> Period:
    if kind == "month":
        start = date(day.year, day.month, 1)
        return Period(kind, start, _add_months(start, 1))
    if kind == "quarter":
        start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
        return Period(kind, start, _add_months(start, 3))
    return Period(kind, date(day.year, 1, 1), date(day.year + 1, 1, 1))


def parse_period(kind: PeriodType, label: str) -> Period:
    """'2026-11' (month), '2026Q4' (quarter), '2026' (year)."""
    try:
        if kind == "month":
            y, m = label.split("-")
            return period_containing(kind, date(int(y), int(m), 1))
        if kind == "quarter":
            y, q = label.upper().split("Q")
            return period_containing(kind, date(int(y), 3 * (int(q) - 1) + 1, 1))
        return period_containing(kind, date(int(label), 1, 1))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bad {kind} period {label!r}: expected 2026-11, 2026Q4 or 2026") from exc
