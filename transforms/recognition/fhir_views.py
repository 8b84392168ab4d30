"""FHIR R4B views of the 互认 lookup, and the fallback ``$everything`` Bundle.

Why here: the lookup answer is also offered as FHIR (Observation for lab analytes,
DiagnosticReport for exams) so EMRs that speak FHIR can consume it unchanged. Resources are
built as plain dicts; tests validate them with ``fhir.resources.R4B``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.recognition.lookup import LookupResult, ResultView
from transforms.terminology import systems

LOCAL_TZ = "+08:00"  # mart timestamps are China Standard Time, naive
FHIR_ID_RE = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")
_OBS_STATUS = {"final": "final", "corrected": "corrected", "preliminary": "preliminary", "cancelled": "cancelled"}


def _dt(v: datetime | None) -> str | None:
    return None if v is None else v.replace(microsecond=0).isoformat() + LOCAL_TZ


def _org(code: str | None) -> dict:
    return {"identifier": {"system": systems.INSTITUTION_CODE, "value": code}, "display": code}


def _recognition_ext(r: ResultView) -> dict:
    subs = [{"url": "status", "valueCode": r.recognition_status}, {"url": "reason", "valueString": r.reason}]
    if r.valid_until:
        subs.append({"url": "validUntil", "valueDateTime": _dt(r.valid_until)})
    if r.hr_scope:
        subs.append({"url": "hrScope", "valueString": r.hr_scope})
    return {"url": systems.EXT_RECOGNITION, "extension": subs}


def _subject(person_key: str) -> dict:
    return {"identifier": {"system": systems.PERSON_KEY, "value": person_key}}


def observation(r: ResultView, person_key: str) -> dict:
    coding = [{"system": systems.LOINC, "code": r.item_code}]
    if r.hr_item_code:
        coding.append({"system": systems.HR_ITEM, "code": r.hr_item_code})
    res: dict = {"resourceType": "Observation", "status": _OBS_STATUS.get(r.result_status or "", "unknown"),
                 "code": {"coding": coding}, "subject": _subject(person_key),
                 "effectiveDateTime": _dt(r.result_time), "extension": [_recognition_ext(r)],
                 "performer": [_org(r.reporting_institution or r.performing_institution)]}
    if FHIR_ID_RE.fullmatch(r.result_id):
        res["id"] = r.result_id
    if r.report_time:
        res["issued"] = _dt(r.report_time)
    if r.value_num is not None:
        res["valueQuantity"] = {"value": r.value_num, **({"unit": r.unit} if r.unit else {})}
    elif r.value_text:
        res["valueString"] = r.value_text
    rng = {}
    if r.ref_low is not None:
        rng["low"] = {"value": r.ref_low, **({"unit": r.unit} if r.unit else {})}
    if r.ref_high is not None:
        rng["high"] = {"value": r.ref_high, **({"unit": r.unit} if r.unit else {})}
    if rng:
        res["referenceRange"] = [rng]
    if r.performing_institution:
        res["extension"].append({"url": systems.EXT_ROLE_PERFORMING, "valueReference": _org(r.performing_institution)})
    return res


def diagnostic_report(r: ResultView, person_key: str) -> dict:
    res: dict = {"resourceType": "DiagnosticReport", "status": _OBS_STATUS.get(r.result_status or "", "unknown"),
                 "code": {"coding": [{"system": systems.EXAM_ITEM, "code": r.item_code}]},
                 "subject": _subject(person_key), "effectiveDateTime": _dt(r.result_time),
                 "extension": [_recognition_ext(r)],
                 "performer": [_org(r.reporting_institution or r.performing_institution)]}
    if FHIR_ID_RE.fullmatch(r.result_id):
        res["id"] = r.result_id
    if r.report_time:
        res["issued"] = _dt(r.report_time)
    if r.study_uid:
        res["identifier"] = [{"system": systems.DICOM_UID, "value": f"urn:oid:{r.study_uid}"}]
    if r.cloud_film_url:
        res["presentedForm"] = [{"contentType": "text/html", "url": r.cloud_film_url, "title": "云胶片"}]
    if r.performing_institution:
        res["extension"].append({"url": systems.EXT_ROLE_PERFORMING, "valueReference": _org(r.performing_institution)})
    return res


def results_bundle(result: LookupResult) -> dict:
    """The lookup answer as a searchset Bundle of Observation / DiagnosticReport."""
    entries = []
    for r in result.results:
        res = observation(r, result.person_key) if r.item_kind == "lab" else diagnostic_report(r, result.person_key)
        entry: dict = {"resource": res, "search": {"mode": "match"}}
        if "id" in res:
            entry["fullUrl"] = f"{res['resourceType']}/{res['id']}"
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries),
            "timestamp": _dt(result.at), "entry": entries}


def everything_bundle(conn: Connection, person_key: str) -> dict:
    """Fallback for ``transforms.fhir.bundle.everything_bundle``: every stored resource of one resident.

    Reads ``fhir_resource`` (the FHIR store, migration 0200) with a bound parameter.
    """
    rows = conn.execute(sa.text(
        "SELECT resource_type, id, resource FROM fhir_resource WHERE person_key = :pk ORDER BY resource_type, id"),
        {"pk": person_key}).fetchall()
    entries = []
    for rtype, rid, resource in rows:
        res = json.loads(resource) if isinstance(resource, str) else resource
        entries.append({"fullUrl": f"{rtype}/{rid}", "resource": res, "search": {"mode": "match"}})
    return {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}


def everything(conn: Connection, person_key: str) -> dict:
    """The FHIR layer's ``everything_bundle`` when it exists, else the fallback above."""
    try:
        from transforms.fhir.bundle import everything_bundle as h4_bundle  # type: ignore[import-not-found]
    except ImportError:
        return everything_bundle(conn, person_key)
    return h4_bundle(conn, person_key)
