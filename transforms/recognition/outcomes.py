"""Outcomes of lookups (accepted, or re-tested with a reason) and the 互认 indicators.

Definitions follow DOMAIN §5.3 (a proposal, versioned here as ``DEFINITION_VERSION``):
- eligible case: a (lookup, item) for which a recognisable result from another institution
  existed when the clinician asked;
- 互认率 = eligible cases accepted ÷ eligible cases;
- repeat tests = eligible cases re-tested (a test ordered although a recognisable result existed),
  split into justified (allowed reason code) and unjustified;
- 重复检查率 = unjustified repeats ÷ eligible cases;
- tests avoided = eligible cases accepted; cost avoided = Σ price of the item as of the outcome date.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.recognition.catalogue import Rules, default_rules

DEFINITION_VERSION = "DOMAIN-5.3-proposal/v1"
Outcome = Literal["accepted", "retested"]
GroupBy = Literal["none", "requesting_institution", "item_code", "month"]

_GROUP_EXPR: dict[str, str] = {  # the only SQL fragments a caller can choose, by name
    "none": "'all'",
    "requesting_institution": "requesting_institution",
    "item_code": "item_code",
    "month": "CAST(date_trunc('month', recorded_at) AS DATE)",
}


class OutcomeError(ValueError):
    """An outcome cannot be recorded; ``status`` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def record_outcome(conn: Connection, lookup_id: str, item_code: str, outcome: Outcome,
                   reason_code: str | None = None, *, recorded_by: str | None = None,
                   at: datetime | None = None, rules: Rules | None = None,
                   institution: str | None = None) -> dict:
    """Store the outcome of one (lookup, item); one outcome per pair. Returns the stored row.

    ``institution`` (when given) must be the lookup's requesting institution: a clinician can
    only record outcomes of their own institution's lookups.
    """
    rules = rules or default_rules()
    if outcome not in ("accepted", "retested"):
        raise OutcomeError(f"outcome must be 'accepted' or 'retested' (got {str(outcome)[:40]!r})")
    reason = None
    if outcome == "retested":
        if reason_code not in rules.retest_reasons:
            raise OutcomeError(f"reason_code {str(reason_code)[:40]!r} is not a re-test reason; allowed: "
                               + ", ".join(sorted(rules.retest_reasons)))
        reason = rules.retest_reasons[reason_code]
    elif reason_code:
        raise OutcomeError("reason_code is only allowed with outcome 'retested'")
    code = rules.unified_code(item_code)
    row = conn.execute(sa.text(
        "SELECT requesting_institution, person_key, n_recognisable_external FROM recognition_lookup "
        "WHERE lookup_id = :l AND item_code = :i"), {"l": lookup_id, "i": code}).first()
    if row is None:
        raise OutcomeError(f"no lookup {str(lookup_id)[:40]!r} for item {str(item_code)[:40]!r}", status=404)
    if institution is not None and row.requesting_institution != institution:
        raise OutcomeError("the lookup was made by another institution", status=403)
    dup = conn.execute(sa.text("SELECT 1 FROM recognition_outcome WHERE lookup_id = :l AND item_code = :i"),
                       {"l": lookup_id, "i": code}).first()
    if dup is not None:
        raise OutcomeError(f"an outcome for lookup {lookup_id} item {code} is already recorded", status=409)
    at = (at or datetime.now(UTC)).replace(tzinfo=None)
    stored = {
        "outcome_id": uuid.uuid4().hex, "lookup_id": lookup_id, "item_code": code, "outcome": outcome,
        "reason_code": reason_code if reason else None, "justified": reason.justified if reason else None,
        "eligible": bool(row.n_recognisable_external), "price_yuan": rules.price(code, at.date()),
        "requesting_institution": row.requesting_institution, "person_key": row.person_key,
        "recorded_by": recorded_by, "recorded_at": at,
    }
    conn.execute(sa.text(
        "INSERT INTO recognition_outcome (" + ", ".join(stored) + ") VALUES ("
        + ", ".join(":" + k for k in stored) + ")"), stored)
    return stored


def recognition_rates(conn: Connection, period_start: date | datetime, period_end: date | datetime,
                      by: GroupBy = "none") -> list[dict]:
    """互认率, repeat tests and cost avoided for outcomes recorded in [period_start, period_end).

    One dict per group; the indicator service reads these. ``by`` names a grouping, never SQL.
    """
    if by not in _GROUP_EXPR:
        raise ValueError(f"by must be one of {sorted(_GROUP_EXPR)} (got {by!r})")
    g = _GROUP_EXPR[by]
    sql = sa.text(f"""
        SELECT {g} AS grp,
               COUNT(*) AS outcomes,
               SUM(CASE WHEN eligible THEN 1 ELSE 0 END) AS eligible_cases,
               SUM(CASE WHEN eligible AND outcome = 'accepted' THEN 1 ELSE 0 END) AS accepted,
               SUM(CASE WHEN eligible AND outcome = 'retested' THEN 1 ELSE 0 END) AS repeat_tests,
               SUM(CASE WHEN eligible AND outcome = 'retested' AND justified THEN 1 ELSE 0 END) AS repeats_justified,
               SUM(CASE WHEN eligible AND outcome = 'retested' AND NOT justified THEN 1 ELSE 0 END)
                   AS repeats_unjustified,
               SUM(CASE WHEN eligible AND outcome = 'accepted' THEN price_yuan ELSE 0 END) AS cost_avoided
        FROM recognition_outcome
        WHERE recorded_at >= :s AND recorded_at < :e
        GROUP BY {g} ORDER BY 1""")
    out = []
    for r in conn.execute(sql, {"s": _ts(period_start), "e": _ts(period_end)}):
        m = r._mapping
        eligible = int(m["eligible_cases"] or 0)
        accepted = int(m["accepted"] or 0)
        unjust = int(m["repeats_unjustified"] or 0)
        out.append({
            "group": None if by == "none" else (m["grp"].isoformat() if isinstance(m["grp"], date) else m["grp"]),
            "by": by, "period_start": _ts(period_start).isoformat(), "period_end": _ts(period_end).isoformat(),
            "outcomes": int(m["outcomes"]), "eligible_cases": eligible, "accepted": accepted,
            "repeat_tests": int(m["repeat_tests"] or 0), "repeats_justified": int(m["repeats_justified"] or 0),
            "repeats_unjustified": unjust, "tests_avoided": accepted,
            "recognition_rate": round(accepted / eligible, 4) if eligible else None,
            "repeat_test_rate": round(unjust / eligible, 4) if eligible else None,
            "cost_avoided_yuan": str(Decimal(m["cost_avoided"] or 0).quantize(Decimal("0.01"))),
            "definition_version": DEFINITION_VERSION,
        })
    return out


def _ts(d: date | datetime) -> datetime:
    return d if isinstance(d, datetime) else datetime(d.year, d.month, d.day)
