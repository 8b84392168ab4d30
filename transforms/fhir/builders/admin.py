"""Registry and person builders: Organization, OrganizationAffiliation, Practitioner,
PractitionerRole, CareTeam, Patient."""

from __future__ import annotations

import hashlib
from typing import Any

from transforms.fhir.common import (
    Row,
    boolean,
    coding,
    concept,
    ext,
    fhir_date,
    group_ref,
    number,
    org_ref,
    practitioner_ref,
    team_ref,
    text,
    val,
)
from transforms.fhir.errors import BuildError
from transforms.fhir.ids import patient_id, resource_id
from transforms.fhir.values import lookup
from transforms.terminology import systems


def _split(v: Any) -> list[str]:
    return [p.strip() for p in str(v).split("|") if p.strip()] if v else []


def _division_address(division: Any) -> dict[str, Any] | None:
    """GB/T 2260 code as address.district plus the division extension (never address detail)."""
    if not division:
        return None
    code = str(division)
    return {
        "extension": [ext(systems.EXT_DIVISION, valueCoding=coding(systems.GB2260, code))],
        "district": code[:6],
        "country": "CN",
    }


def build_institution(row: Row) -> list[dict]:
    code = text(row, "institution_code")
    uscc_type, _, uscc_code = systems.USCC_URI.partition("#")
    res = {
        "resourceType": "Organization",
        "id": resource_id("Organization", "institution", code),
        "identifier": [
            {"system": systems.INSTITUTION_CODE, "value": code},
            {"type": concept(coding(uscc_type, uscc_code)), "value": text(row, "uscc")} if val(row, "uscc") else None,
        ],
        "active": True,
        "name": text(row, "name"),
        "type": [
            concept(coding(systems.INSTITUTION_TYPE, first_of(row, "inst_type_std", "inst_type"))),
            concept(coding(systems.INSTITUTION_LEVEL, val(row, "level"))),
            concept(coding(systems.INSTITUTION_GRADE, val(row, "grade"))),
        ],
        "partOf": org_ref(val(row, "parent_code")),
        "address": [_division_address(val(row, "division_code"))],
        "extension": [
            ext(systems.EXT_BEDS, valueInteger=number(val(row, "beds"))),
            ext(systems.EXT_PRIMARY_CARE, valueBoolean=boolean(val(row, "is_primary_care"))),
        ],
    }
    return [res]


def first_of(row: Row, *names: str) -> Any:
    for n in names:
        if val(row, n) is not None:
            return val(row, n)
    return None


def build_medical_group(row: Row) -> list[dict]:
    code = text(row, "group_code")
    res = {
        "resourceType": "Organization",
        "id": resource_id("Organization", "group", code),
        "identifier": [{"system": systems.GROUP_CODE, "value": code}],
        "active": True,
        "name": text(row, "name"),
        "alias": _split(val(row, "aliases")),
        "type": [concept(coding(systems.INSTITUTION_TYPE, "consortium", "医联体/医共体"))]
        + [concept(coding(systems.GROUP_TYPE, t)) for t in _split(val(row, "group_types"))],
        "extension": [
            ext(systems.EXT_GROUP_TIGHTNESS, valueString=text(row, "tightness")),
            ext(systems.EXT_GROUP_DIRECTION, valueString=text(row, "direction")),
        ],
    }
    return [res]


def build_group_membership(row: Row) -> list[dict]:
    inst, group, since = text(row, "institution_code"), text(row, "group_code"), fhir_date(val(row, "valid_from"))
    res = {
        "resourceType": "OrganizationAffiliation",
        "id": resource_id("OrganizationAffiliation", inst, group, since),
        "identifier": [{"system": f"{systems.LOCAL_RECORD}/group_membership", "value": f"{inst}|{group}|{since}"}],
        # valid_to is exclusive in the canonical table; Period.end carries it as is (see docs/fhir.md)
        "period": {"start": since, "end": fhir_date(val(row, "valid_to"))},
        "organization": group_ref(group),
        "participatingOrganization": org_ref(inst),
        "code": [concept(coding(systems.GROUP_ROLE, val(row, "role")))],
    }
    return [res]


def build_practitioner(row: Row) -> list[dict]:
    pid, inst = text(row, "practitioner_id"), text(row, "institution_code")
    gender = lookup("gender", first_of(row, "sex_std", "sex_code"))
    prac = {
        "resourceType": "Practitioner",
        "id": resource_id("Practitioner", pid),
        "identifier": [{"system": systems.STAFF_ID, "value": pid}],
        "name": [{"text": text(row, "name_masked")}] if val(row, "name_masked") else [],
        "gender": gender,
        "qualification": [{"code": concept(coding(systems.PRACTITIONER_TITLE, val(row, "title")))}]
        if val(row, "title") else [],
    }
    role = {
        "resourceType": "PractitionerRole",
        "id": resource_id("PractitionerRole", pid, inst),
        "practitioner": practitioner_ref(pid),
        "organization": org_ref(inst),
        "code": [concept(coding(systems.TEAM_ROLE, val(row, "team_role"))),
                 concept(coding(systems.PRACTITIONER_TITLE, val(row, "title")))],
        "extension": [
            ext(systems.EXT_IS_GP, valueBoolean=boolean(val(row, "is_gp"))),
            ext(systems.EXT_TEAM, valueReference=team_ref(val(row, "team_id"))),
        ],
    }
    return [prac, role]


def build_team(row: Row) -> list[dict]:
    team, inst, lead = text(row, "team_id"), text(row, "institution_code"), val(row, "lead_practitioner_id")
    res = {
        "resourceType": "CareTeam",
        "id": resource_id("CareTeam", team),
        "identifier": [{"system": systems.TEAM_ID, "value": team}],
        "status": "active",
        "name": text(row, "name"),
        "managingOrganization": [org_ref(inst)],
        "participant": [{"role": [concept(coding(systems.TEAM_ROLE, "lead"))], "member": practitioner_ref(lead)}]
        if lead else [],
    }
    return [res]


def build_health_record(row: Row) -> list[dict]:
    """Patient from a resident health record: pseudonymous key, masked name, division only."""
    pk = text(row, "person_key")
    if not pk:
        raise BuildError("fhir.patient.no_person_key", "health record has no person_key (identity unresolved)")
    record_no, inst = text(row, "record_no"), text(row, "institution_code")
    ehr = [
        ext("recordNoHash", valueString=hashlib.sha256(f"{inst}|{record_no}".encode()).hexdigest() if record_no else None),
        ext("institution", valueReference=org_ref(inst)),
        ext("created", valueDate=fhir_date(val(row, "created_date"))),
        ext("lastActive", valueDate=fhir_date(val(row, "last_active_date"))),
        ext("openToResident", valueBoolean=boolean(val(row, "is_open_to_resident"))),
    ]
    res = {
        "resourceType": "Patient",
        "id": patient_id(pk),
        "identifier": [{"system": systems.PERSON_KEY, "value": pk}],
        "name": [{"text": text(row, "name_masked")}] if val(row, "name_masked") else [],
        "gender": lookup("gender", first_of(row, "sex_std", "sex_code")),
        "birthDate": fhir_date(first_of(row, "birth_date_std", "birth_date")),
        "address": [_division_address(val(row, "division_code"))],
        "maritalStatus": concept(coding(systems.MARITAL_GB2261_2, val(row, "marital_code"))),
        "managingOrganization": org_ref(inst),
        "extension": [
            ext(systems.EXT_ETHNIC_GROUP, valueCoding=coding(systems.ETHNICITY_GB3304, val(row, "ethnicity_code"))),
            ext(systems.EXT_LINK_METHOD, valueCode=text(row, "link_method")),
            ext(systems.EXT_EHR, extension=ehr),
            *[ext(systems.EXT_KEY_POPULATION, valueCoding=coding(systems.KEY_POPULATION, k))
              for k in _split(val(row, "key_populations"))],
        ],
    }
    return [res]
