"""FHIR-native submissions (Bulk NDJSON, Bundles, single resources in JSON or XML) read back
into canonical rows, so they go through the same identity, code-set, validation and load path
as every other source.

Each resource is first validated against its R4B model (a bad one is a Reject, not a crash),
then mapped to one canonical row; values are strings as read, ``message_id`` is the resource
id and ``line`` the NDJSON line or Bundle entry number. Unsupported resource types are
Rejects with their own check id. Identifiers are passed on as submitted: identity (standardise)
decides whether an ID number is valid, so a 17-character "ID number" is flagged there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from transforms.fhir.values import reverse
from transforms.sources.profile import FileSpec, SourceProfile
from transforms.sources.records import Reject, Row
from transforms.terminology import systems

RESIDENT_ID_SYSTEMS = {systems.RESIDENT_ID, "urn:oid:2.16.840.1.113883.2.23.1.19.1"}  # NHC OID, HL7 China IDC
_LOOKS_LIKE_ID = re.compile(r"^\d{15}$|^\d{16,17}[\dXx]?$")  # a resident-ID attempt (checked by identity)
_DATE_FOLDER = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_GB_SEX = {"male": "1", "female": "2", "unknown": "0", "other": "9"}
Values = dict[str, str | None]


def _s(v: Any) -> str | None:
    if v is None or v == "":
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def ref_id(ref: dict | None) -> str | None:
    """The id or business key in a reference: ``Type/id``, ``urn:uuid:id`` or ``Type?identifier=sys|val``."""
    r = (ref or {}).get("reference")
    if not r:
        return None
    if "?identifier=" in r:
        return r.rsplit("|", 1)[-1]
    return r.rsplit("/", 1)[-1].removeprefix("urn:uuid:")


def _codings(cc: dict | None) -> list[dict]:
    return (cc or {}).get("coding") or []


def _pick_code(cc: dict | None, prefer: tuple[str, ...] = ()) -> tuple[str | None, str | None]:
    """(code, display) from a CodeableConcept, preferring the given systems."""
    cs = _codings(cc)
    for want in prefer:
        for c in cs:
            if c.get("system") == want:
                return _s(c.get("code")), _s(c.get("display") or (cc or {}).get("text"))
    if cs:
        return _s(cs[0].get("code")), _s(cs[0].get("display") or (cc or {}).get("text"))
    return None, _s((cc or {}).get("text"))


def _ext(res: dict, url: str) -> dict | None:
    return next((e for e in res.get("extension", []) if e.get("url") == url), None)


def _name(names: list[dict] | None) -> str | None:
    if not names:
        return None
    n = next((x for x in names if x.get("use") == "official"), names[0])
    if n.get("text"):
        return n["text"]
    family, given = n.get("family") or "", "".join(n.get("given") or [])
    cjk = any("\u4e00" <= ch <= "\u9fff" for ch in family + given)
    return (family + given) if cjk else " ".join(x for x in [" ".join(n.get("given") or []), family] if x) or None


def _identifier(res: dict, system: str | None = None, type_code: str | None = None) -> str | None:
    for i in res.get("identifier", []):
        if system and i.get("system") == system:
            return _s(i.get("value"))
        if type_code and any(c.get("code") == type_code for c in _codings(i.get("type"))):
            return _s(i.get("value"))
    return None


def _id_number(res: dict) -> str | None:
    for i in res.get("identifier", []):
        if i.get("system") in RESIDENT_ID_SYSTEMS:
            return _s(i.get("value"))
    for i in res.get("identifier", []):
        if _LOOKS_LIKE_ID.match(str(i.get("value", ""))):
            return _s(i.get("value"))
    return None


def _phone(res: dict) -> str | None:
    return next((_s(t.get("value")) for t in res.get("telecom", []) if t.get("system") == "phone"), None)


def patient_values(res: dict) -> Values:
    addr = (res.get("address") or [{}])[0]
    division = _ext(addr, systems.EXT_DIVISION)
    district = addr.get("district")
    eth = _ext(res, systems.EXT_ETHNIC_GROUP)
    return {
        "record_no": _identifier(res, systems.HEALTH_RECORD_NO) or res.get("id"),
        "institution_code": ref_id(res.get("managingOrganization")),
        "patient_local_id": _identifier(res, type_code="MR") or res.get("id"),
        "id_number": _id_number(res),
        "patient_name": _name(res.get("name")),
        "sex_code": _GB_SEX.get(res.get("gender", ""), _s(res.get("gender"))),
        "birth_date": _s(res.get("birthDate")),
        "phone": _phone(res),
        "ethnicity_code": _s(((eth or {}).get("valueCoding") or {}).get("code")),
        "marital_code": _pick_code(res.get("maritalStatus"))[0],
        "division_code": _s((division or {}).get("valueCoding", {}).get("code"))
        or (district if district and str(district).isdigit() else None),
        "address_detail": " ".join(addr.get("line") or []) or None,
        "created_date": _s((res.get("meta") or {}).get("lastUpdated", "")[:10] or None),
    }


def encounter_values(res: dict) -> Values:
    cls = (res.get("class") or {}).get("code")
    period = res.get("period") or {}
    code, name = _pick_code((res.get("reasonCode") or [None])[0], (systems.ICD10_CN_CLINICAL,))
    return {
        "encounter_no": (res.get("identifier") or [{}])[0].get("value") or res.get("id"),
        "institution_code": ref_id(res.get("serviceProvider")),
        "patient_local_id": ref_id(res.get("subject")),
        "encounter_class": reverse("encounter_class").get(cls, cls),
        "department": _s((res.get("serviceType") or {}).get("text")),
        "practitioner_id": ref_id(((res.get("participant") or [{}])[0]).get("individual")),
        "start_time": _s(period.get("start")), "end_time": _s(period.get("end")),
        "diagnosis_code": code, "diagnosis_name": name,
    }


def condition_values(res: dict) -> Values:
    code, name = _pick_code(res.get("code"), (systems.ICD10_CN_CLINICAL, "http://hl7.org/fhir/sid/icd-10"))
    return {
        "encounter_no": ref_id(res.get("encounter")),
        "institution_code": ref_id(res.get("asserter")),
        "seq": "1", "diagnosis_code": code, "diagnosis_name": name,
        "diagnosis_type": _pick_code((res.get("category") or [None])[0])[0],
        "diagnosed_time": _s(res.get("recordedDate") or res.get("onsetDateTime")),
    }


def observation_values(res: dict) -> Values:
    code, name = _pick_code(res.get("code"))
    q = res.get("valueQuantity") or {}
    rr = (res.get("referenceRange") or [{}])[0]
    low, high = (rr.get("low") or {}).get("value"), (rr.get("high") or {}).get("value")
    ref_range = rr.get("text") or (f"{low if low is not None else ''}-{high if high is not None else ''}"
                                   if low is not None or high is not None else None)
    flag = _pick_code((res.get("interpretation") or [None])[0])[0]
    return {
        "report_no": ref_id((res.get("basedOn") or [None])[0]) or (res.get("identifier") or [{}])[0].get("value")
        or res.get("id"),
        "institution_code": ref_id((res.get("performer") or [None])[0]),
        "encounter_no": ref_id(res.get("encounter")),
        "patient_local_id": ref_id(res.get("subject")),
        "item_code": code, "item_name": name,
        "value": _s(q.get("value")) or _s(res.get("valueString"))
        or _pick_code(res.get("valueCodeableConcept"))[1],
        "unit": _s(q.get("unit") or q.get("code")), "ref_range": ref_range, "abnormal_flag": flag,
        "result_status": reverse("result_status").get(res.get("status", ""), _s(res.get("status"))),
        "specimen_time": _s(res.get("effectiveDateTime")),
        "report_time": _s(res.get("issued") or res.get("effectiveDateTime")),
    }


def immunization_values(res: dict) -> Values:
    code, name = _pick_code(res.get("vaccineCode"))
    dose = ((res.get("protocolApplied") or [{}])[0]).get("doseNumberPositiveInt")
    return {
        "vaccination_no": (res.get("identifier") or [{}])[0].get("value") or res.get("id"),
        "institution_code": ref_id(((res.get("performer") or [{}])[0]).get("actor")),
        "patient_local_id": ref_id(res.get("patient")),
        "vaccine_code": code, "vaccine_name": name, "dose_number": _s(dose),
        "vaccination_date": _s((res.get("occurrenceDateTime") or "")[:10] or None),
        "lot_number": _s(res.get("lotNumber")), "route": _pick_code(res.get("route"))[1],
    }


def organization_values(res: dict) -> Values:
    addr = (res.get("address") or [{}])[0]
    division = _ext(addr, systems.EXT_DIVISION)
    return {
        "institution_code": _identifier(res, systems.INSTITUTION_CODE) or res.get("id"),
        "name": _s(res.get("name")),
        "inst_type": _pick_code((res.get("type") or [None])[0])[0],
        "parent_code": ref_id(res.get("partOf")),
        "division_code": _s((division or {}).get("valueCoding", {}).get("code")),
    }


def practitioner_values(res: dict) -> Values:
    return {
        "practitioner_id": _identifier(res, systems.STAFF_ID) or res.get("id"),
        "name": _name(res.get("name")),
        "sex_code": _GB_SEX.get(res.get("gender", ""), _s(res.get("gender"))),
        "title": _pick_code(((res.get("qualification") or [{}])[0]).get("code"))[0],
    }


def medication_request_values(res: dict) -> Values:
    code, name = _pick_code(res.get("medicationCodeableConcept"), (systems.NHSA_DRUG,))
    disp = res.get("dispenseRequest") or {}
    return {
        "rx_no": (res.get("identifier") or [{}])[0].get("value") or res.get("id"), "line_no": "1",
        "encounter_no": ref_id(res.get("encounter")), "patient_local_id": ref_id(res.get("subject")),
        "practitioner_id": ref_id(res.get("requester")), "drug_code": code, "drug_name": name,
        "quantity": _s((disp.get("quantity") or {}).get("value")),
        "days_supply": _s((disp.get("expectedSupplyDuration") or {}).get("value")),
        "prescribed_time": _s(res.get("authoredOn")),
    }


MAPPERS: dict[str, tuple[str, Callable[[dict], Values]]] = {
    "Patient": ("health_record", patient_values),
    "Encounter": ("encounter", encounter_values),
    "Condition": ("diagnosis", condition_values),
    "Observation": ("lab_result", observation_values),
    "Immunization": ("immunization", immunization_values),
    "Organization": ("institution", organization_values),
    "Practitioner": ("practitioner", practitioner_values),
    "MedicationRequest": ("prescription", medication_request_values),
}


def _landing_context(path: Path) -> tuple[str | None, str | None]:
    """(institution, date) when ``path`` sits in ``<landing>/<source>/<institution>/<date>/``."""
    if len(path.parents) >= 2 and _DATE_FOLDER.match(path.parent.name):
        return path.parents[1].name, path.parent.name
    return None, None


def _read_xml(path: Path) -> dict:
    """One XML resource as a JSON dict: the R4B model's XML support when lxml is installed,
    else a small converter driven by the R4B model fields (list vs single, primitive types)."""
    import xml.etree.ElementTree as ET

    from fhir.resources.R4B import get_fhir_model_class

    data = path.read_bytes()
    root = ET.fromstring(data)
    rtype = _local(root.tag)
    try:
        import lxml  # noqa: F401
    except ImportError:
        return {"resourceType": rtype, **_xml_element(root, get_fhir_model_class(rtype))}
    return json.loads(get_fhir_model_class(rtype).model_validate_xml(data).model_dump_json())


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _xml_primitive(value: str, annotation: str) -> Any:
    if "bool" in annotation:
        return value == "true"
    if re.search(r"\bint\b|PositiveInt|UnsignedInt|Integer", annotation):
        return int(value)
    if "Decimal" in annotation or "float" in annotation:
        return float(value)
    return value


def _xml_element(elem: Any, cls: Any) -> dict:
    import xml.etree.ElementTree as ET

    from fhir.resources.R4B import get_fhir_model_class

    fields = {(f.alias or n): f for n, f in cls.model_fields.items()}
    out: dict[str, Any] = {k: v for k, v in elem.attrib.items() if k in ("url", "id") and k in fields}
    for child in elem:
        name = _local(child.tag)
        f = fields.get(name)
        if f is None:
            raise ValueError(f"element <{name}> is not an R4 element of {cls.__name__}")
        ann = str(f.annotation)
        if name == "div":
            ET.register_namespace("", "http://www.w3.org/1999/xhtml")
            value: Any = ET.tostring(child, encoding="unicode").strip()
        elif child.get("value") is not None and all(_local(c.tag) == "extension" for c in child):
            value = _xml_primitive(child.get("value"), ann)
        elif "Resource" in ann:  # contained resources, Bundle.entry.resource
            inner = next(iter(child))
            value = {"resourceType": _local(inner.tag), **_xml_element(inner, get_fhir_model_class(_local(inner.tag)))}
        else:
            m = re.search(r"abc\.(\w+)Type", ann)
            if not m:
                raise ValueError(f"cannot read element <{name}> of {cls.__name__} ({ann})")
            value = _xml_element(child, get_fhir_model_class(m.group(1)))
        if "List[" in ann:
            out.setdefault(name, []).append(value)
        else:
            out[name] = value
    return out


def _resources(path: Path) -> Iterator[tuple[int, dict | None, str, str | None]]:
    """(line or entry number, resource or None, raw text, parse error)."""
    suffix = path.suffix.lower()
    if suffix == ".xml":
        raw = path.read_text(encoding="utf-8-sig")
        try:
            yield 1, _read_xml(path), raw, None
        except Exception as exc:
            yield 1, None, raw, " ".join(str(exc).split())[:300]
        return
    if suffix == ".ndjson":
        with path.open(encoding="utf-8-sig") as fh:
            for n, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line), line, None
                except json.JSONDecodeError as exc:
                    yield n, None, line, f"not JSON: {exc}"
        return
    raw = path.read_text(encoding="utf-8-sig")
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as exc:
        yield 1, None, raw[:2000], f"not JSON: {exc}"
        return
    if doc.get("resourceType") == "Bundle":
        for n, entry in enumerate(doc.get("entry") or [], start=1):
            res = entry.get("resource")
            yield n, res, json.dumps(res, ensure_ascii=False), None if res else "Bundle entry has no resource"
    else:
        yield 1, doc, raw, None


def iter_fhir_records(path: Path, profile: SourceProfile, spec: FileSpec) -> Iterator[Row | Reject]:
    """Canonical rows (or Rejects) from a FHIR NDJSON file, Bundle, or single JSON/XML resource."""
    from transforms.fhir.validate import model_class

    institution, day = _landing_context(path)
    for n, res, raw, error in _resources(path):
        if res is None:
            yield Reject("ingest.fhir.parse", f"{path.name} record {n}: cannot read FHIR: {error}", line=n, raw=raw)
            continue
        rtype, rid = res.get("resourceType"), res.get("id")
        if rtype not in MAPPERS:
            yield Reject("ingest.fhir.unsupported_resource",
                         f"{path.name} record {n}: resource type {rtype!r} (id {rid}) is not mapped to a canonical "
                         f"table; supported: {sorted(MAPPERS)}", line=n, message_id=rid, raw=raw)
            continue
        try:
            model_class(rtype).model_validate(res)
        except Exception as exc:
            yield Reject("ingest.fhir.invalid",
                         f"{path.name} record {n}: {rtype}/{rid} is not valid FHIR R4: {' '.join(str(exc).split())[:300]}",
                         line=n, message_id=rid, raw=raw, table=MAPPERS[rtype][0])
            continue
        table, mapper = MAPPERS[rtype]
        values = {k: _s(v) for k, v in mapper(res).items()}
        if not values.get("institution_code") and institution:
            values["institution_code"] = institution
        if table == "health_record" and not values.get("created_date") and day:
            values["created_date"] = day
        if spec.table == table:
            values.update(spec.constants)
        yield Row(table=table, values=values, line=n, message_id=rid, raw=raw)
