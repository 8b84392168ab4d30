"""The recognition decision for one candidate result: a status and a sentence saying why.

Why a pure function over plain values: the rules are the contract with clinicians and QC
offices, so they must be testable one reason at a time without a database, and the lookup,
the FHIR view and the rate computation must all use exactly the same decision.

Order of checks (the first failing one is reported): catalogue → final status →
institution qualified on the result date → units normalisable → group scope → window.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

from transforms.recognition.catalogue import CatalogueItem, Rules

Status = Literal[
    "recognisable",
    "not_in_catalogue",
    "not_final",
    "not_qualified",
    "unit_not_normalised",
    "outside_group",
    "expired",
]
FINAL_STATUSES = frozenset({"final", "corrected"})


@dataclass(frozen=True)
class Candidate:
    """One row of ``recognition_index`` (the facts the rules need)."""

    result_id: str
    item_kind: str
    item_code: str
    result_time: datetime
    status: str | None
    performing_institution: str | None
    value_num: float | None = None
    unit: str | None = None


@dataclass(frozen=True)
class Membership:
    """One ``dim_group_membership`` row (SCD-2, ``valid_to`` exclusive, None = open)."""

    institution_code: str
    group_code: str
    valid_from: date
    valid_to: date | None

    def on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day < self.valid_to)


@dataclass(frozen=True)
class Assessment:
    status: Status
    reason: str
    item: CatalogueItem | None
    valid_until: datetime | None  # end of the window (exclusive), when the item is catalogued


def shared_group(memberships: list[Membership], performing: str | None, requesting: str,
                 result_day: date, query_day: date) -> str | None:
    """A group the performing institution belonged to on the result date and the requester on the query date.

    Why these two dates: the result was produced under the group's unified QC only if the
    performer was a member when it tested; the requester must be a member now to rely on it.
    """
    perf = {m.group_code for m in memberships if m.institution_code == performing and m.on(result_day)}
    req = {m.group_code for m in memberships if m.institution_code == requesting and m.on(query_day)}
    common = sorted(perf & req)
    return common[0] if common else None


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def assess(c: Candidate, rules: Rules, requesting_institution: str, at: datetime,
           memberships: list[Membership]) -> Assessment:
    """Decide whether ``c`` may be recognised by ``requesting_institution`` at time ``at``."""
    item = rules.item(c.item_code, at.date())
    if item is None:
        return Assessment("not_in_catalogue", f"item {c.item_code} is not in the recognition catalogue "
                          f"in force on {at.date().isoformat()}", None, None)
    until = c.result_time + timedelta(days=item.validity_days)
    if (c.status or "").lower() not in FINAL_STATUSES:
        label = (c.status or "missing-status").lower()
        return Assessment("not_final", f"{label} result (only final or corrected results are recognised)", item, until)
    result_day = c.result_time.date()
    q = rules.qualification(c.performing_institution, item, result_day)
    if q is None or q.qc_status != "passed":
        why = "" if q is None else f" ({q.qc_status}: {q.qc_organisation})"
        return Assessment("not_qualified", f"institution {c.performing_institution} not qualified for the item "
                          f"on {result_day.isoformat()}{why}", item, until)
    if item.value_type == "numeric" and (c.value_num is None or not c.unit):
        missing = "value" if c.value_num is None else "unit"
        return Assessment("unit_not_normalised", f"numeric result without a normalised {missing}", item, until)
    if item.scope == "group" and c.performing_institution != requesting_institution:
        g = shared_group(memberships, c.performing_institution, requesting_institution, result_day, at.date())
        if g is None:
            return Assessment("outside_group", f"group-scope item: {c.performing_institution} (on "
                              f"{result_day.isoformat()}) and {requesting_institution} (on {at.date().isoformat()}) "
                              "share no medical group", item, until)
    if at >= until:
        ago = (at - until).days
        when = "today" if ago == 0 else f"{_days(ago)} ago"
        return Assessment("expired", f"expired {when} (window {_days(item.validity_days)} from "
                          f"{result_day.isoformat()})", item, until)
    left = (until - at).days
    return Assessment("recognisable", f"recognisable for {_days(left)} more ({item.scope} scope, "
                      f"window {_days(item.validity_days)})", item, until)
