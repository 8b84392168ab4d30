"""Primary-care builders: family-doctor signing (EpisodeOfCare), follow-ups (Observation in a
management EpisodeOfCare), referrals (ServiceRequest), surveillance reports (MeasureReport)."""

from __future__ import annotations

from transforms.fhir.common import (
    Row,
    boolean,
    coding,
    concept,
    ext,
    fhir_date,
    fhir_datetime,
    local_identifier,
    number,
    org_ref,
    practitioner_ref,
    team_ref,
    text,
    val,
)
from transforms.fhir.errors import BuildError
from transforms.fhir.ids import patient_ref, resource_id
from transforms.fhir.values import lookup
from transforms.terminology import systems

LOINC_SBP, LOINC_DBP, LOINC_BP_PANEL, LOINC_FPG = "8480-6", "8462-4", "85354-9", "1558-6"


def _patient(row: Row, what: str) -> dict[str, str]:
    pk = text(row, "person_key")
    if not pk:
        raise BuildError(f"fhir.{what}.no_person_key", f"{what} row has no person_key (identity unresolved)")
    return patient_ref(pk)


def build_signing_contract(row: Row) -> list[dict]:
    """Signing as EpisodeOfCare (why not Contract: see docs/fhir.md)."""
    no, inst, team = text(row, "contract_no"), text(row, "institution_code"), val(row, "team_id")
    status_local = text(row, "status") or "active"
    status = lookup("signing_status", status_local)
    subs = [
        ext("contractNo", valueString=no),
        ext("signatoryType", valueCoding=coding(systems.SIGNATORY_TYPE, val(row, "signatory_type"))),
        ext("status", valueCode=status_local),
        ext("packageCode", valueString=text(row, "package_code")),
        ext("isPaid", valueBoolean=boolean(val(row, "is_paid"))),
        ext("districtHospital", valueReference=org_ref(val(row, "chosen_district_hospital"))),
        ext("municipalHospital", valueReference=org_ref(val(row, "chosen_municipal_hospital"))),
        ext("signedTime", valueDateTime=fhir_datetime(val(row, "signed_time"))),
        *[ext("keyPopulation", valueCoding=coding(systems.KEY_POPULATION, k))
          for k in (str(val(row, "key_populations") or "").split("|")) if k.strip()],
    ]
    res = {
        "resourceType": "EpisodeOfCare",
        "id": resource_id("EpisodeOfCare", "signing", no),
        "identifier": [local_identifier(inst, "signing_contract", no)],
        "status": status,
        "type": [concept(coding(systems.EPISODE_TYPE, "family-doctor-signing", "家庭医生签约"))],
        "patient": _patient(row, "signing_contract"),
        "managingOrganization": org_ref(inst),
        "period": {"start": fhir_date(val(row, "start_date")), "end": fhir_date(val(row, "end_date"))},
        "careManager": practitioner_ref(val(row, "doctor_id")),
        "team": [team_ref(team)],
        "extension": [ext(systems.EXT_SIGNING, extension=subs)],
    }
    return [res]


def build_followup(row: Row) -> list[dict]:
    """One management EpisodeOfCare per person x disease x institution, one Observation per visit."""
    no, inst, disease = text(row, "followup_no"), text(row, "institution_code"), text(row, "disease")
    pk = text(row, "person_key")
    patient = _patient(row, "followup")
    episode_id = resource_id("EpisodeOfCare", "management", inst, pk, disease)
    episode = {
        "resourceType": "EpisodeOfCare",
        "id": episode_id,
        "status": "active",
        "type": [concept(coding(systems.EPISODE_TYPE, f"{disease}-management"))],
        "patient": patient,
        "managingOrganization": org_ref(inst),
    }
    sbp, dbp, fpg = number(val(row, "sbp")), number(val(row, "dbp")), number(val(row, "fasting_glucose"))

    def component(code: str, display: str, value: float | int | None, unit: str) -> dict | None:
        if value is None:
            return None
        return {"code": concept(coding(systems.LOINC, code, display)),
                "valueQuantity": {"value": value, "unit": unit, "system": systems.UCUM, "code": unit}}

    obs = {
        "resourceType": "Observation",
        "id": resource_id("Observation", "followup", inst, no),
        "identifier": [local_identifier(inst, "followup", no)],
        "status": "final",
        "category": [concept(coding(systems.OBSERVATION_CATEGORY, "vital-signs", "Vital Signs") if sbp or dbp
                             else None, coding(systems.FOLLOWUP_CODE, "followup", "慢病随访"))],
        "code": concept(coding(systems.LOINC, LOINC_BP_PANEL, "Blood pressure panel") if sbp or dbp else None,
                        coding(systems.FOLLOWUP_CODE, f"{disease}-followup")),
        "subject": patient,
        "effectiveDateTime": fhir_date(val(row, "followup_date")),
        "performer": [practitioner_ref(val(row, "practitioner_id")), org_ref(inst)],
        "component": [
            component(LOINC_SBP, "Systolic blood pressure", sbp, "mm[Hg]"),
            component(LOINC_DBP, "Diastolic blood pressure", dbp, "mm[Hg]"),
            component(LOINC_FPG, "Fasting glucose", fpg, "mmol/L"),
        ],
        "extension": [
            ext(systems.EXT_WORKFLOW_EPISODE, valueReference={"reference": f"EpisodeOfCare/{episode_id}"}),
            ext(systems.EXT_FOLLOWUP, extension=[
                ext("disease", valueCode=disease),
                ext("mode", valueCode=text(row, "mode")),
                ext("managementGrade", valueString=text(row, "management_grade")),
                ext("isStandard", valueBoolean=boolean(val(row, "is_standard"))),
            ]),
        ],
    }
    return [episode, obs]


def build_referral(row: Row) -> list[dict]:
    no, inst = text(row, "referral_no"), text(row, "institution_code")
    outcome = text(row, "status") or "issued"
    status = lookup("referral_status", outcome)
    res = {
        "resourceType": "ServiceRequest",
        "id": resource_id("ServiceRequest", "referral", no),
        "identifier": [local_identifier(inst, "referral", no)],
        "status": status,
        "intent": "order",
        "category": [concept(coding(systems.SNOMED, "3457005", "Patient referral"))],
        "code": concept(coding(systems.REFERRAL_DIRECTION, val(row, "direction")), text_=val(row, "reason")),
        "subject": _patient(row, "referral"),
        "authoredOn": fhir_datetime(val(row, "issued_time")),
        "requester": practitioner_ref(val(row, "from_practitioner_id")) or org_ref(inst),
        "performer": [org_ref(val(row, "to_institution"))],
        "reasonCode": [concept(text_=val(row, "reason"))],
        "extension": [
            ext(systems.EXT_REFERRAL_DIRECTION, valueCode=text(row, "direction")),
            ext(systems.EXT_REFERRAL_OUTCOME, valueCode=outcome),
            ext(systems.EXT_REFERRAL_SCENARIO, valueCode=text(row, "scenario")),
            ext(systems.EXT_ARRIVED_TIME, valueDateTime=fhir_datetime(val(row, "arrived_time"))),
            ext(systems.EXT_ROLE_ORDERING, valueReference=org_ref(inst)),
        ],
    }
    return [res]


def build_surveillance_report(row: Row) -> list[dict]:
    """Daily syndromic report; an explicit zero report stores 0s, a missing one stores nothing."""
    inst, day, kind = text(row, "institution_code"), fhir_date(val(row, "report_date")), text(row, "report_kind")
    zero = kind == "explicit_zero"

    def group(code: str, col: str) -> dict:
        n = 0 if zero else number(val(row, col))
        return {"code": concept(coding(systems.SURVEILLANCE_SYNDROME, code)),
                "measureScore": {"value": n} if n is not None else None}

    res = {
        "resourceType": "MeasureReport",
        "id": resource_id("MeasureReport", inst, day),
        "status": "complete",
        "type": "summary",
        "measure": systems.SURVEILLANCE_MEASURE,
        "date": day,
        "reporter": org_ref(inst),
        "period": {"start": day, "end": day},
        "group": [group("fever", "fever_count"), group("diarrhoea", "diarrhoea_count")],
        "extension": [ext(systems.EXT_REPORT_KIND, valueCode=kind)],
    }
    return [res]
