"""Small helpers shared by the builders: value cleaning, FHIR datatypes, lineage.

Standard-layer rows arrive with Python types from Parquet (datetime, date, Decimal, bool)
or, on the FHIR-native and conformance paths, as strings; every helper accepts both.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import Any

from transforms.terminology import systems

CHINA_TZ = timezone(timedelta(hours=8))  # naive times in the standard layer are Beijing time
Row = dict[str, Any]


def val(row: Row, name: str) -> Any:
    """The value of ``name``, with NaN, empty strings and absent columns as None."""
    v = row.get(name)
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, str):
        v = v.strip()
        return v or None
    return v


def text(row: Row, name: str) -> str | None:
    v = val(row, name)
    return None if v is None else str(v)


def first(row: Row, *names: str) -> Any:
    """The first non-empty of several columns (e.g. ``diagnosis_code_std`` then ``diagnosis_code``)."""
    for n in names:
        v = val(row, n)
        if v is not None:
            return v
    return None


def fhir_datetime(v: Any) -> str | None:
    """FHIR dateTime: a date stays a date; a naive time gets +08:00 (FHIR requires a zone)."""
    if v is None or v == "":
        return None
    if isinstance(v, str):
        s = v.strip()
        if len(s) == 10:
            return s
        try:
            v = datetime.fromisoformat(s.replace("Z", "+00:00"))
        except ValueError:
            return s  # left as given: the model validation rejects it with the value named
    if hasattr(v, "to_pydatetime"):  # pandas Timestamp
        v = v.to_pydatetime()
    if isinstance(v, datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=CHINA_TZ)
        return v.isoformat(timespec="seconds")
    if isinstance(v, date):
        return v.isoformat()
    return str(v)


def fhir_date(v: Any) -> str | None:
    s = fhir_datetime(v)
    return None if s is None else s[:10]


def number(v: Any) -> int | float | None:
    """A JSON number for decimals (ints stay ints); None when not numeric."""
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    try:
        d = Decimal(str(v))
    except Exception:
        return None
    if not d.is_finite():
        return None
    return int(d) if d == d.to_integral_value() and "." not in str(v) else float(d)


def boolean(v: Any) -> bool | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in {"1", "true", "t", "y", "yes", "是"}:
        return True
    if s in {"0", "false", "f", "n", "no", "否"}:
        return False
    return None


def coding(system: str, code: Any, display: Any = None) -> dict[str, str] | None:
    if code is None or code == "":
        return None
    c = {"system": system, "code": str(code)}
    if display:
        c["display"] = str(display)
    return c


def concept(*codings: dict | None, text_: Any = None) -> dict[str, Any] | None:
    cs = [c for c in codings if c]
    if not cs and not text_:
        return None
    out: dict[str, Any] = {}
    if cs:
        out["coding"] = cs
    if text_:
        out["text"] = str(text_)
    return out


def ext(url: str, **value: Any) -> dict[str, Any] | None:
    """One extension ``{"url": ..., "valueX": v}``; None when the value is missing."""
    (kind, v), = value.items()
    if v is None or v == "" or v == []:
        return None
    if kind == "extension":
        v = [e for e in v if e]
        if not v:
            return None
    return {"url": url, kind: v}


def prune(obj: Any) -> Any:
    """Drop None, empty strings, lists and dicts, recursively (FHIR forbids empty elements).

    One pass, no intermediate copies: this runs on every resource and was the builders' hot spot.
    """
    if type(obj) is dict:
        out: dict[str, Any] = {}
        for k, v in obj.items():
            if v is None or (type(v) is str and not v):
                continue
            if type(v) is dict or type(v) is list:
                v = prune(v)
                if not v:
                    continue
            out[k] = v
        return out
    if type(obj) is list:
        items = []
        for v in obj:
            if v is None or (type(v) is str and not v):
                continue
            if type(v) is dict or type(v) is list:
                v = prune(v)
                if not v:
                    continue
            items.append(v)
        return items
    return obj


def lineage_extension(row: Row) -> dict[str, Any] | None:
    """The lineage extension carried by every resource: batch, file, line, message id."""
    subs = [
        ext("batch", valueString=text(row, "_batch_id")),
        ext("file", valueString=text(row, "_file")),
        ext("line", valueInteger=number(val(row, "_line"))),
        ext("message", valueString=text(row, "_message_id")),
    ]  # source, institution and landing date follow from the batch (submission_log), so not repeated:
    # every Extension element costs about as much to validate as a small resource
    return ext(systems.EXT_LINEAGE, extension=subs)


def local_identifier(institution: Any, table: str, value: Any) -> dict[str, str] | None:
    if value is None or value == "" or institution is None:
        return None
    return {"system": f"{systems.LOCAL_RECORD}/{institution}/{table}", "value": str(value)}


@lru_cache(maxsize=65_536, typed=True)  # shared result: never mutated (build_row's prune copies)
def org_ref(code: Any) -> dict[str, str] | None:
    """Reference to an institution's Organization (id from its regional code)."""
    from transforms.fhir.ids import ref

    if code is None or code == "":
        return None
    # identifier too (logical reference): the warehouse views read codes without a join
    return {**ref("Organization", "institution", code),
            "identifier": {"system": systems.INSTITUTION_CODE, "value": str(code)}}


@lru_cache(maxsize=65_536, typed=True)  # shared result: never mutated (build_row's prune copies)
def practitioner_ref(practitioner_id: Any) -> dict[str, str] | None:
    from transforms.fhir.ids import ref

    if practitioner_id is None or practitioner_id == "":
        return None
    return {**ref("Practitioner", practitioner_id), "identifier": {"system": systems.STAFF_ID, "value": str(practitioner_id)}}


@lru_cache(maxsize=65_536, typed=True)  # shared result: never mutated (build_row's prune copies)
def team_ref(team_id: Any) -> dict[str, Any] | None:
    """Reference to a CareTeam, with its team id as identifier (read by the warehouse views)."""
    from transforms.fhir.ids import ref

    if team_id is None or team_id == "":
        return None
    return {**ref("CareTeam", team_id), "identifier": {"system": systems.TEAM_ID, "value": str(team_id)}}


@lru_cache(maxsize=65_536, typed=True)  # shared result: never mutated (build_row's prune copies)
def group_ref(group_code: Any) -> dict[str, Any] | None:
    """Reference to a medical group's Organization, with its group code as identifier."""
    from transforms.fhir.ids import ref

    if group_code is None or group_code == "":
        return None
    return {**ref("Organization", "group", group_code), "identifier": {"system": systems.GROUP_CODE, "value": str(group_code)}}


def code_codings(row: Row, field_: str, institution: Any, kind: str) -> list[dict[str, str]]:
    """The unified-code coding (``<f>_std`` in ``<f>_std_system``) plus the local code coding.

    The local code is always kept as a second coding, so an unmapped code is never lost.
    """
    out = []
    std, std_sys = val(row, f"{field_}_std"), val(row, f"{field_}_std_system")
    if std is not None and std_sys is not None:
        out.append(coding(str(std_sys), std, val(row, f"{field_}_std_display")))
    local = val(row, field_)
    if local is not None and institution is not None:
        dictionary = val(row, f"{field_}_dictionary") or kind
        out.append(coding(systems.local_system(str(institution), str(dictionary)), local))
    return [c for c in out if c]


def unmapped_extension(row: Row, field_: str) -> dict[str, Any] | None:
    status = text(row, f"{field_}_map_status")
    if status in (None, "mapped"):
        return None
    return ext(systems.EXT_UNMAPPED, valueCode=status)
