"""The expected-submission calendar: which files each institution owes on which day.

Why a calendar: under 日报告/零报告 a missing report and an explicit zero report are
different facts (DOMAIN §7.3). Completeness and timeliness are measured against what was
*expected*, so the expectation is configuration (``mappings/submission_calendar.yaml``),
read by the synthetic generator (to decide what to write) and by the quality report (to
decide what is missing or late).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from fnmatch import fnmatch
from pathlib import Path
from typing import Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from transforms.canonical import TABLES
from transforms.yamlio import load_yaml

Cadence = Literal["daily", "weekly"]
InstType = Literal["hospital", "chc", "station", "public_health", "lab_centre"]


class Deadline(BaseModel):
    """Due `days_after` the event date at local `time` (e.g. next day 06:00)."""

    model_config = ConfigDict(extra="forbid")
    days_after: int = Field(1, ge=0)
    time: str = Field("06:00", pattern=r"^\d{2}:\d{2}$")

    def due(self, day: date) -> datetime:
        hh, mm = (int(x) for x in self.time.split(":"))
        return datetime.combine(day + timedelta(days=self.days_after), time(hh, mm))


class Dataset(BaseModel):
    """One kind of submission: a source family feeding one canonical table."""

    model_config = ConfigDict(extra="forbid")
    id: str
    source: str
    table: str
    inst_types: list[InstType]
    cadence: Cadence = "daily"
    weekday: int | None = Field(None, ge=1, le=7, description="weekly: ISO weekday it is due")
    deadline: Deadline = Field(default_factory=Deadline)
    zero_report_required: bool = False

    def model_post_init(self, __context: object) -> None:
        if self.table not in TABLES:
            raise ValueError(f"dataset {self.id!r}: unknown canonical table {self.table!r}")
        if self.cadence == "weekly" and self.weekday is None:
            raise ValueError(f"dataset {self.id!r}: weekly cadence needs a weekday")


class CalendarException(BaseModel):
    """A per-institution override; `institution` and `dataset` may be fnmatch globs."""

    model_config = ConfigDict(extra="forbid")
    institution: str
    dataset: str = "*"
    expected: bool
    reason: str


class Calendar(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = 1
    timezone: str = "Asia/Shanghai"
    datasets: list[Dataset]
    exceptions: list[CalendarException] = Field(default_factory=list)

    def local_time(self, epoch: float) -> datetime:
        """A file mtime (epoch seconds) as naive local time of the calendar's timezone.

        Deadlines are local (Asia/Shanghai); comparing them with ``datetime.fromtimestamp``
        on a UTC server would be 8 hours off.
        """
        from zoneinfo import ZoneInfo

        return datetime.fromtimestamp(epoch, ZoneInfo(self.timezone)).replace(tzinfo=None)

    def dataset(self, dataset_id: str) -> Dataset:
        for d in self.datasets:
            if d.id == dataset_id:
                return d
        raise KeyError(f"submission calendar has no dataset {dataset_id!r}")


class Expected(NamedTuple):
    source: str
    institution: str
    dataset: str


def load_calendar(path: Path) -> Calendar:
    """Read and validate the calendar; errors name the file and the field."""
    data = load_yaml(path)
    try:
        return Calendar.model_validate(data)
    except Exception as exc:
        raise ValueError(f"{path}: invalid submission calendar: {exc}") from exc


def _override(calendar: Calendar, institution: str, dataset_id: str) -> bool | None:
    verdict: bool | None = None
    for exc in calendar.exceptions:  # last matching exception wins
        if fnmatch(institution, exc.institution) and fnmatch(dataset_id, exc.dataset):
            verdict = exc.expected
    return verdict


def expected_submissions(
    calendar: Calendar, institutions: Iterable[Mapping[str, str]], day: date
) -> list[Expected]:
    """(source, institution, dataset) owed for ``day``.

    ``institutions`` are registry rows with at least ``institution_code`` and ``inst_type``.
    """
    out: list[Expected] = []
    for inst in institutions:
        code, itype = inst["institution_code"], inst["inst_type"]
        for ds in calendar.datasets:
            if ds.cadence == "weekly" and day.isoweekday() != ds.weekday:
                continue
            verdict = _override(calendar, code, ds.id)
            owed = (itype in ds.inst_types) if verdict is None else verdict
            if owed:
                out.append(Expected(ds.source, code, ds.id))
    return out
