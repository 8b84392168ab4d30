"""Clinical builders: Encounter, Condition, lab Observation/DiagnosticReport/ServiceRequest,
ImagingStudy/DiagnosticReport for exams, MedicationRequest, Immunization."""

from __future__ import annotations

from typing import Any

from transforms.fhir.common import (
    Row,
    boolean,
    code_codings,
    coding,
    concept,
    ext,
    fhir_date,
    fhir_datetime,
    first,
    local_identifier,
    number,
    org_ref,
    practitioner_ref,
    text,
    unmapped_extension,
    val,
)
from transforms.fhir.errors import BuildError
from transforms.fhir.ids import patient_ref, ref, resource_id
from transforms.fhir.values import lookup
from transforms.terminology import systems


def _subject(row: Row, what: str) -> dict[str, str]:
    pk = text(row, "person_key")
    if not pk:
        raise BuildError(f"fhir.{what}.no_person_key", f"{what} row has no person_key (identity unresolved)")
    return patient_ref(pk)


def _encounter_ref(row: Row) -> dict[str, str] | None:
    enc, inst = val(row, "encounter_no"), val(row, "institution_code")
    return ref("Encounter", inst, enc) if enc and inst else None


def _money(v: Any) -> dict[str, Any] | None:
    n = number(v)
    return None if n is None else {"value": n, "currency": "CNY"}


def build_encounter(row: Row) -> list[dict]:
    inst, no = text(row, "institution_code"), text(row, "encounter_no")
    cls_local = first(row, "encounter_class_std", "encounter_class")
    cls = lookup("encounter_class", cls_local)
    if cls is None:
        raise BuildError("fhir.encounter.class_unmapped",
                         f"encounter {no}: encounter_class {cls_local!r} has no FHIR class in value_maps.yaml")
    end = val(row, "end_time")
    costs = [
        ext(name, valueMoney=_money(val(row, col)))
        for name, col in (("total", "total_cost"), ("drug", "drug_cost"), ("service", "service_cost"),
                          ("consumable", "consumable_cost"), ("exam_lab", "exam_lab_cost"))
    ]
    referral = val(row, "referral_no")
    res = {
        "resourceType": "Encounter",
        "id": resource_id("Encounter", inst, no),
        "identifier": [{"system": systems.INPATIENT_NO if cls["code"] == "IMP" else systems.OUTPATIENT_NO,
                        "value": no, "assigner": org_ref(inst)}],
        "status": "finished" if end else "in-progress",
        "class": coding(systems.V3_ACT_CODE, cls["code"], cls["display"]),
        "type": [concept(coding(systems.ENCOUNTER_CLASS, cls_local))],
        "serviceType": concept(text_=val(row, "department")),
        "subject": _subject(row, "encounter"),
        "participant": [{"individual": practitioner_ref(val(row, "practitioner_id"))}],
        "period": {"start": fhir_datetime(val(row, "start_time")), "end": fhir_datetime(end)},
        "reasonCode": [concept(*code_codings(row, "diagnosis_code", inst, "diagnosis"),
                               text_=val(row, "diagnosis_name"))],
        "basedOn": [ref("ServiceRequest", "referral", referral)] if referral else [],
        "serviceProvider": org_ref(inst),
        "extension": [
            ext(systems.EXT_COST, extension=costs),
            ext(systems.EXT_PAYMENT_METHOD, valueCoding=coding(
                systems.PAYMENT_METHOD, first(row, "payment_method_std", "payment_method"))),
            ext(systems.EXT_INSURED_PLACE, valueCoding=coding(systems.GB2260, val(row, "insured_place_code"))),
            ext(systems.EXT_APPOINTMENT, valueBoolean=boolean(val(row, "is_appointment"))),
            ext(systems.EXT_CHANNEL, valueCode=text(row, "channel")),
            ext(systems.EXT_BED_TYPE, valueString=text(row, "bed_type")),
            ext(systems.EXT_REFERRAL_NO, valueString=text(row, "referral_no")),
        ],
    }
    return [res]


def build_diagnosis(row: Row) -> list[dict]:
    inst, enc, seq = text(row, "institution_code"), text(row, "encounter_no"), number(val(row, "seq"))
    if not val(row, "person_key"):
        raise BuildError("fhir.diagnosis.no_person_key",
                         f"diagnosis {enc}#{seq}: no person_key, and encounter {enc} of {inst} is not in this partition")
    res = {
        "resourceType": "Condition",
        "id": resource_id("Condition", inst, enc, seq),
        "identifier": [local_identifier(inst, "diagnosis", f"{enc}#{seq}")],
        "category": [concept(coding(systems.CONDITION_CATEGORY, "encounter-diagnosis", "Encounter Diagnosis"),
                             coding(systems.DIAGNOSIS_TYPE, val(row, "diagnosis_type")))],
        "code": concept(*code_codings(row, "diagnosis_code", inst, "diagnosis"), text_=val(row, "diagnosis_name")),
        "subject": _subject(row, "diagnosis"),
        "encounter": _encounter_ref(row),
        "recordedDate": fhir_datetime(val(row, "diagnosed_time")),
        "extension": [ext(systems.EXT_DIAGNOSIS_SEQ, valueInteger=seq), unmapped_extension(row, "diagnosis_code")],
    }
    return [res]


def _role_extensions(row: Row) -> list[dict | None]:
    """The four roles of §2.3: ordering, performing, reporting institution, author type."""
    return [
        ext(systems.EXT_ROLE_ORDERING, valueReference=org_ref(val(row, "ordering_institution"))),
        ext(systems.EXT_ROLE_PERFORMING, valueReference=org_ref(val(row, "institution_code"))),
        ext(systems.EXT_ROLE_REPORTING, valueReference=org_ref(
            first(row, "reporting_institution", "reading_institution"))),
        ext(systems.EXT_AUTHOR_TYPE, valueCoding=coding(systems.AUTHOR_TYPE, val(row, "author_type"))),
    ]


def _reference_range(row: Row) -> list[dict]:
    low, high = number(val(row, "ref_low_std")), number(val(row, "ref_high_std"))
    unit = text(row, "unit_std") or text(row, "unit")
    rng: dict[str, Any] = {}
    if low is not None:
        rng["low"] = {"value": low, "unit": unit}
    if high is not None:
        rng["high"] = {"value": high, "unit": unit}
    if val(row, "ref_range"):
        rng["text"] = text(row, "ref_range")
    return [rng] if rng else []


def _lab_value(row: Row) -> dict[str, Any]:
    """valueQuantity with the normalised value/unit when available, else valueString."""
    num = number(first(row, "value_std", "value_num"))
    unit = text(row, "unit_std") if val(row, "value_std") is not None else text(row, "unit")
    if num is not None:
        q: dict[str, Any] = {"value": num}
        if unit:
            q.update(unit=unit, system=systems.UCUM, code=unit)
        return {"valueQuantity": q}
    raw = text(row, "value")
    return {"valueString": raw} if raw else {}


def build_lab_result(row: Row) -> list[dict]:
    inst, report, item = text(row, "institution_code"), text(row, "report_no"), text(row, "item_code")
    status = lookup("result_status", val(row, "result_status"))
    obs_id = resource_id("Observation", inst, report, item)
    subject = _subject(row, "lab_result")
    code = concept(*code_codings(row, "item_code", inst, "lab"),
                   coding(systems.HR_ITEM, val(row, "hr_item_code")), text_=val(row, "item_name"))
    flag = lookup("interpretation", val(row, "abnormal_flag"))
    author = org_ref(first(row, "reporting_institution", "institution_code"))
    obs = {
        "resourceType": "Observation",
        "id": obs_id,
        "identifier": [local_identifier(inst, "lab_result", f"{report}#{item}")],
        "status": status,
        "category": [concept(coding(systems.OBSERVATION_CATEGORY, "laboratory", "Laboratory"))],
        "code": code,
        "subject": subject,
        "encounter": _encounter_ref(row),
        "effectiveDateTime": fhir_datetime(first(row, "specimen_time", "report_time")),
        "issued": fhir_datetime(val(row, "report_time")),
        "performer": [org_ref(inst)],
        **_lab_value(row),
        "interpretation": [concept(coding(systems.V2_0078_INTERPRETATION, flag["code"], flag["display"]))]
        if flag else [],
        "referenceRange": _reference_range(row),
        "device": {"display": text(row, "device")} if val(row, "device") else None,
        "extension": [*_role_extensions(row), ext(systems.EXT_CRITICAL, valueBoolean=boolean(val(row, "is_critical"))),
                      unmapped_extension(row, "item_code")],
    }
    order = val(row, "order_no")
    orderer = first(row, "ordering_institution", "institution_code")
    out = [obs]
    if order:
        sr_ref = ref("ServiceRequest", "lab", orderer, order)
        obs["basedOn"] = [sr_ref]
        out.append({
            "resourceType": "ServiceRequest",
            "id": resource_id("ServiceRequest", "lab", orderer, order),
            "identifier": [{"system": systems.E_REQUEST_NO, "value": str(order), "assigner": org_ref(orderer)}],
            "status": "completed" if status in ("final", "corrected", "amended") else "active",
            "intent": "order",
            "category": [concept(coding(systems.SNOMED, "108252007", "Laboratory procedure"))],
            "code": concept(text_="laboratory order"),
            "subject": subject,
            "encounter": _encounter_ref(row),
            "requester": org_ref(orderer),
            "performer": [org_ref(inst)],
        })
    out.append({
        "resourceType": "DiagnosticReport",
        "id": resource_id("DiagnosticReport", "lab", inst, report),
        "identifier": [local_identifier(inst, "lab_report", report)],
        "basedOn": [ref("ServiceRequest", "lab", orderer, order)] if order else [],
        "status": status,
        "category": [concept(coding(systems.DIAGNOSTIC_SERVICE_SECTION, "LAB", "Laboratory"))],
        "code": concept(text_="laboratory report"),
        "subject": subject,
        "encounter": _encounter_ref(row),
        "effectiveDateTime": fhir_datetime(first(row, "specimen_time", "report_time")),
        "issued": fhir_datetime(val(row, "report_time")),
        "performer": [author],
        "result": [{"reference": f"Observation/{obs_id}"}],
        "extension": _role_extensions(row),
    })
    return out


def build_exam_report(row: Row) -> list[dict]:
    inst, exam = text(row, "institution_code"), text(row, "exam_no")
    subject = _subject(row, "exam_report")
    status_local = val(row, "result_status")
    study_uid, modality = text(row, "study_uid"), text(row, "modality")
    out: list[dict] = []
    study_ref = None
    if study_uid or modality:
        study_id = resource_id("ImagingStudy", inst, exam)
        study_ref = {"reference": f"ImagingStudy/{study_id}"}
        out.append({
            "resourceType": "ImagingStudy",
            "id": study_id,
            "identifier": [{"system": systems.DICOM_UID, "value": f"urn:oid:{study_uid}"} if study_uid else None,
                           local_identifier(inst, "exam_report", exam)],
            "status": lookup("imaging_status", status_local) or "unknown",
            "modality": [coding(systems.MODALITY_DICOM, modality)],
            "subject": subject,
            "encounter": _encounter_ref(row),
            "started": fhir_datetime(val(row, "exam_time")),
            "procedureCode": [concept(*code_codings(row, "item_code", inst, "exam"), text_=val(row, "item_name"))],
            "extension": [ext(systems.EXT_ROLE_PERFORMING, valueReference=org_ref(inst))],
        })
    film = text(row, "cloud_film_url")
    out.append({
        "resourceType": "DiagnosticReport",
        "id": resource_id("DiagnosticReport", "exam", inst, exam),
        "identifier": [local_identifier(inst, "exam_report", exam)],
        "status": lookup("result_status", status_local),
        "category": [concept(coding(systems.DIAGNOSTIC_SERVICE_SECTION, "RAD", "Radiology"))],
        "code": concept(*code_codings(row, "item_code", inst, "exam"), text_=val(row, "item_name")),
        "subject": subject,
        "encounter": _encounter_ref(row),
        "effectiveDateTime": fhir_datetime(val(row, "exam_time")),
        "issued": fhir_datetime(val(row, "report_time")),
        "performer": [org_ref(first(row, "reading_institution", "institution_code"))],
        "imagingStudy": [study_ref] if study_ref else [],
        "conclusion": text(row, "conclusion"),
        "presentedForm": [{"contentType": "text/html", "url": film, "title": "云胶片 cloud film"}] if film else [],
        "extension": [*_role_extensions(row), unmapped_extension(row, "item_code")],
    })
    return out


def build_prescription(row: Row) -> list[dict]:
    inst, rx, line = text(row, "institution_code"), text(row, "rx_no"), number(val(row, "line_no"))
    days = number(val(row, "days_supply"))
    qty = number(val(row, "quantity"))
    res = {
        "resourceType": "MedicationRequest",
        "id": resource_id("MedicationRequest", inst, rx, line),
        "identifier": [local_identifier(inst, "prescription", f"{rx}#{line}")],
        "status": "completed",
        "intent": "order",
        "medicationCodeableConcept": concept(*code_codings(row, "drug_code", inst, "drug"), text_=val(row, "drug_name")),
        "subject": _subject(row, "prescription"),
        "encounter": _encounter_ref(row),
        "authoredOn": fhir_datetime(val(row, "prescribed_time")),
        "requester": practitioner_ref(val(row, "practitioner_id")) or org_ref(inst),
        "dosageInstruction": [{"text": " ".join(x for x in (text(row, "dose"), text(row, "dose_unit")) if x)}]
        if val(row, "dose") else [],
        "dispenseRequest": {
            "quantity": {"value": qty} if qty is not None else None,
            "expectedSupplyDuration": {"value": days, "unit": "d", "system": systems.UCUM, "code": "d"}
            if days is not None else None,
            "performer": org_ref(inst),
        },
        "extension": [
            ext(systems.EXT_LONG_RX, valueBoolean=boolean(val(row, "is_long_rx"))),
            ext(systems.EXT_COST, extension=[ext("total", valueMoney=_money(val(row, "amount")))]),
            unmapped_extension(row, "drug_code"),
        ],
    }
    return [res]


def build_immunization(row: Row) -> list[dict]:
    inst, no = text(row, "institution_code"), text(row, "vaccination_no")
    dose = number(val(row, "dose_number"))
    res = {
        "resourceType": "Immunization",
        "id": resource_id("Immunization", inst, no),
        "identifier": [local_identifier(inst, "immunization", no)],
        "status": "completed",
        "vaccineCode": concept(*code_codings(row, "vaccine_code", inst, "vaccine"), text_=val(row, "vaccine_name"))
        or concept(text_="unknown vaccine"),
        "patient": _subject(row, "immunization"),
        "occurrenceDateTime": fhir_date(val(row, "vaccination_date")),
        "lotNumber": text(row, "lot_number"),
        "route": concept(text_=val(row, "route")),
        "performer": [{"actor": org_ref(inst)}],
        "protocolApplied": [{"doseNumberPositiveInt": dose}] if dose and dose > 0 else [],
    }
    return [res]
