"""The 互认 lookup: every candidate result for a resident and items, each with status and reason.

Why it records each (lookup, item): the recognition rate needs to know which orders had a
recognisable external result at the moment the clinician asked, not later.
"""

from __future__ import annotations

import re
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.recognition.catalogue import Rules, default_rules
from transforms.recognition.rules import Assessment, Candidate, Membership, assess

PERSON_KEY_RE = re.compile(r"^[0-9a-f]{64}$")
ITEM_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,39}$")
INSTITUTION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,39}$")
MAX_ITEMS = 50

_COLUMNS = ("result_id, item_kind, item_code, hr_item_code, person_key, result_time, report_time, "
            "performing_institution, reporting_institution, ordering_institution, status, value_num, value_text, "
            "unit, ref_low, ref_high, abnormal_flag, report_id, modality, study_uid, cloud_film_url")
_SELECT = sa.text(
    f"SELECT {_COLUMNS} FROM recognition_index WHERE person_key = :pk AND item_code IN :codes "
    "ORDER BY item_code, result_time DESC"
).bindparams(sa.bindparam("codes", expanding=True))
_MEMBERS = sa.text(
    "SELECT institution_code, group_code, valid_from, valid_to FROM dim_group_membership "
    "WHERE institution_code IN :insts"
).bindparams(sa.bindparam("insts", expanding=True))
_RECORD = sa.text(
    "INSERT INTO recognition_lookup (lookup_id, item_code, requested_at, requesting_institution, person_key, "
    "principal, n_candidates, n_recognisable, n_recognisable_external, best_result_id) VALUES (:lookup_id, "
    ":item_code, :requested_at, :requesting_institution, :person_key, :principal, :n_candidates, "
    ":n_recognisable, :n_recognisable_external, :best_result_id)"
)


class LookupInputError(ValueError):
    """A lookup parameter is malformed; the message names the parameter and the value."""


@dataclass(frozen=True)
class ResultView:
    """One candidate result as the lookup returns it (no direct identifiers)."""

    result_id: str
    item_kind: str
    item_code: str
    hr_item_code: str | None
    result_time: datetime
    report_time: datetime | None
    performing_institution: str | None
    reporting_institution: str | None
    ordering_institution: str | None
    result_status: str | None
    value_num: float | None
    value_text: str | None
    unit: str | None
    ref_low: float | None
    ref_high: float | None
    abnormal_flag: str | None
    report_id: str | None
    modality: str | None
    study_uid: str | None
    cloud_film_url: str | None
    link: str | None
    recognition_status: str
    reason: str
    valid_until: datetime | None
    hr_scope: str | None
    catalogue_version: str | None
    external: bool

    def to_json(self) -> dict:
        d = asdict(self)
        for k in ("result_time", "report_time", "valid_until"):
            d[k] = d[k].isoformat() if d[k] else None
        return d


@dataclass
class LookupResult:
    lookup_id: str
    person_key: str
    requesting_institution: str
    at: datetime
    items: list[str]
    results: list[ResultView] = field(default_factory=list)

    def status_counts(self) -> dict[str, int]:
        return dict(Counter(r.recognition_status for r in self.results))

    def to_json(self) -> dict:
        return {"lookup_id": self.lookup_id, "person_key": self.person_key,
                "requesting_institution": self.requesting_institution, "at": self.at.isoformat(),
                "items": self.items, "count": len(self.results), "status_counts": self.status_counts(),
                "results": [r.to_json() for r in self.results]}


def validate_person_key(person_key: str) -> str:
    if not isinstance(person_key, str) or not PERSON_KEY_RE.fullmatch(person_key):
        raise LookupInputError(f"person_key must be 64 lower-case hex characters (got {str(person_key)[:80]!r})")
    return person_key


def validate_institution(code: str, name: str = "requesting_institution") -> str:
    if not isinstance(code, str) or not INSTITUTION_RE.fullmatch(code):
        raise LookupInputError(f"{name} must be an institution code of letters, digits, '-' or '_' "
                               f"(got {str(code)[:80]!r})")
    return code


def resolve_items(items: list[str], rules: Rules) -> list[str]:
    """Validate item codes and map HR item codes to unified codes, keeping order, no duplicates."""
    if not items:
        raise LookupInputError("items: give at least one item code (LOINC, HR item code or exam item code)")
    if len(items) > MAX_ITEMS:
        raise LookupInputError(f"items: at most {MAX_ITEMS} item codes per lookup (got {len(items)})")
    out: list[str] = []
    for raw in items:
        code = raw.strip()
        if not ITEM_RE.fullmatch(code):
            raise LookupInputError(f"items: {raw[:80]!r} is not an item code (letters, digits, '.', '-', '_')")
        unified = rules.unified_code(code)
        if unified not in out:
            out.append(unified)
    return out


def _view(row: sa.Row, a: Assessment, requesting: str) -> ResultView:
    m = row._mapping
    if m["item_kind"] == "exam":
        link = m["cloud_film_url"] or (f"urn:oid:{m['study_uid']}" if m["study_uid"] else None)
    else:
        link = f"DiagnosticReport/{m['report_id']}" if m["report_id"] else None
    hr_scope = None
    if a.item is not None:
        hr_scope = a.item.hr_scope_level + (f":{a.item.hr_region_code}" if a.item.hr_region_code else "")
    return ResultView(
        result_id=m["result_id"], item_kind=m["item_kind"], item_code=m["item_code"], hr_item_code=m["hr_item_code"],
        result_time=m["result_time"], report_time=m["report_time"],
        performing_institution=m["performing_institution"], reporting_institution=m["reporting_institution"],
        ordering_institution=m["ordering_institution"], result_status=m["status"],
        value_num=m["value_num"], value_text=m["value_text"], unit=m["unit"], ref_low=m["ref_low"],
        ref_high=m["ref_high"], abnormal_flag=m["abnormal_flag"], report_id=m["report_id"], modality=m["modality"],
        study_uid=m["study_uid"], cloud_film_url=m["cloud_film_url"], link=link,
        recognition_status=a.status, reason=a.reason, valid_until=a.valid_until, hr_scope=hr_scope,
        catalogue_version=a.item.catalogue_version if a.item else None,
        external=m["performing_institution"] != requesting,
    )


def lookup(conn: Connection, person_key: str, items: list[str], requesting_institution: str, *,
           at: datetime | None = None, rules: Rules | None = None, principal: str | None = None,
           record: bool = True) -> LookupResult:
    """Every indexed result of ``items`` for ``person_key``, assessed for ``requesting_institution``.

    Raises LookupInputError for malformed parameters. With ``record`` it writes one
    ``recognition_lookup`` row per item in the caller's transaction.
    """
    rules = rules or default_rules()
    validate_person_key(person_key)
    validate_institution(requesting_institution)
    codes = resolve_items(items, rules)
    at = (at or datetime.now(UTC)).replace(tzinfo=None)
    rows = conn.execute(_SELECT, {"pk": person_key, "codes": codes}).fetchall()
    insts = sorted({r._mapping["performing_institution"] or "" for r in rows} | {requesting_institution})
    memberships = [Membership(*m) for m in conn.execute(_MEMBERS, {"insts": insts}).fetchall()]
    result = LookupResult(uuid.uuid4().hex, person_key, requesting_institution, at, codes)
    for row in rows:
        m = row._mapping
        cand = Candidate(m["result_id"], m["item_kind"], m["item_code"], m["result_time"], m["status"],
                         m["performing_institution"], m["value_num"], m["unit"])
        result.results.append(_view(row, assess(cand, rules, requesting_institution, at, memberships),
                                    requesting_institution))
    if record:
        _record(conn, result, principal)
    return result


def _record(conn: Connection, result: LookupResult, principal: str | None) -> None:
    rows = []
    for code in result.items:
        mine = [r for r in result.results if r.item_code == code]
        ok = [r for r in mine if r.recognition_status == "recognisable"]
        ext = [r for r in ok if r.external]
        best = ext or ok
        rows.append({"lookup_id": result.lookup_id, "item_code": code, "requested_at": result.at,
                     "requesting_institution": result.requesting_institution, "person_key": result.person_key,
                     "principal": principal, "n_candidates": len(mine), "n_recognisable": len(ok),
                     "n_recognisable_external": len(ext),
                     "best_result_id": best[0].result_id if best else None})
    conn.execute(_RECORD, rows)
