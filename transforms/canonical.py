"""The canonical vocabulary: one table per record type, shared by every source profile.

Vendor variation stops at the first hop: a source profile renames and casts a vendor's
export into these tables, and everything downstream (identity, code sets, FHIR,
validation, warehouse) speaks only this vocabulary. The canonical layer is frozen:
a column that is not declared here is recorded as schema drift, never passed on.

Every raw canonical row also carries the lineage columns in ``LINEAGE_FIELDS``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal["string", "date", "datetime", "decimal", "int", "bool"]


@dataclass(frozen=True)
class Field:
    name: str
    type: FieldType = "string"
    required: bool = False
    pii: bool = False  # a direct identifier: never reaches analytic tables in clear text
    doc: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    grain: str
    key: tuple[str, ...]
    fields: tuple[Field, ...]
    dataset: str = ""  # the national data set it follows (WS 445 part, WS 365, ...)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def get(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name} has no field {name!r}")


LINEAGE_FIELDS: tuple[Field, ...] = (
    Field("_batch_id", required=True, doc="submission batch = sha256 of the file, first 16 hex"),
    Field("_source", required=True, doc="source family: his, lis, public_health, signing, registry, fhir"),
    Field("_profile", required=True, doc="source profile id that read the row"),
    Field("_institution", required=True, doc="submitting institution code (landing folder)"),
    Field("_partition_date", "date", required=True, doc="landing date folder"),
    Field("_file", required=True, doc="path of the source file relative to the landing root"),
    Field("_line", "int", doc="1-based physical line (CSV/JSON lines) or row (XLSX) in the file"),
    Field("_message_id", doc="HL7 MSH-10 control id, or FHIR resource id, when the source has one"),
    Field("_record_hash", required=True, doc="sha256 of the raw record, for exact-duplicate detection"),
)

_PERSON = (
    Field("patient_local_id", doc="the institution's own patient id (病案号/就诊卡号/HIS patient id)"),
    Field("id_number", pii=True, doc="resident ID (公民身份号码), 18 or legacy 15 digits, as submitted"),
    Field("patient_name", pii=True, doc="name as submitted"),
    Field("sex_code", doc="sex as submitted (local or GB/T 2261.1)"),
    Field("birth_date", "date", doc="birth date as submitted"),
    Field("phone", pii=True),
)

TABLES: dict[str, Table] = {}


def _add(t: Table) -> None:
    TABLES[t.name] = t


_add(Table("institution", "one row per registered institution", ("institution_code",), (
    Field("institution_code", required=True, doc="regional institution code"),
    Field("name", required=True),
    Field("uscc", doc="统一社会信用代码"),
    Field("inst_type", required=True, doc="hospital | chc | station | public_health | lab_centre"),
    Field("level", doc="1 | 2 | 3 (一/二/三级)"),
    Field("grade", doc="甲 | 乙"),
    Field("parent_code", doc="station -> its CHC"),
    Field("division_code", required=True, doc="GB/T 2260 code of the location"),
    Field("beds", "int"),
    Field("is_primary_care", "bool"),
), dataset="WS 445.17"))
_add(Table("medical_group", "one row per medical group", ("group_code",), (
    Field("group_code", required=True), Field("name", required=True), Field("aliases"),
    Field("group_types", doc="pipe-separated: urban_group|county_community|specialty|tele"),
    Field("tightness"), Field("direction"),
)))
_add(Table("group_membership", "one row per institution x group x validity period",
           ("institution_code", "group_code", "valid_from"), (
    Field("institution_code", required=True), Field("group_code", required=True),
    Field("role", doc="lead | supporting | member | hub | base"),
    Field("valid_from", "date", required=True), Field("valid_to", "date", doc="exclusive; empty = open"),
)))
_add(Table("practitioner", "one row per practitioner", ("practitioner_id",), (
    Field("practitioner_id", required=True), Field("name", pii=True), Field("sex_code"),
    Field("institution_code", required=True), Field("title"), Field("is_gp", "bool"),
    Field("team_id"), Field("team_role", doc="doctor | nurse | public_health | assistant | specialist"),
)))
_add(Table("team", "one row per family-doctor team", ("team_id",), (
    Field("team_id", required=True), Field("institution_code", required=True), Field("name"),
    Field("lead_practitioner_id"),
)))
_add(Table("health_record", "one row per resident health record (居民健康档案)", ("record_no",), (
    Field("record_no", required=True), Field("institution_code", required=True), *_PERSON,
    Field("ethnicity_code"), Field("marital_code"), Field("division_code", doc="GB/T 2260, 6 or 9 digits"),
    Field("address_detail", pii=True), Field("key_populations", doc="pipe-separated key-population codes"),
    Field("created_date", "date", required=True), Field("last_active_date", "date"),
    Field("is_open_to_resident", "bool"),
), dataset="WS 365"))
_add(Table("encounter", "one row per visit or admission", ("institution_code", "encounter_no"), (
    Field("encounter_no", required=True), Field("institution_code", required=True), *_PERSON,
    Field("encounter_class", required=True, doc="local class code; value domain encounter_class"),
    Field("department"), Field("practitioner_id"),
    Field("start_time", "datetime", required=True), Field("end_time", "datetime"),
    Field("diagnosis_code", doc="local diagnosis code, primary"), Field("diagnosis_name"),
    Field("total_cost", "decimal"), Field("drug_cost", "decimal"), Field("service_cost", "decimal"),
    Field("consumable_cost", "decimal"), Field("exam_lab_cost", "decimal"),
    Field("payment_method"), Field("insured_place_code", doc="GB/T 2260 of the insured place"),
    Field("is_appointment", "bool"), Field("channel", doc="offline | online"),
    Field("referral_no", doc="referral that led to this visit"),
    Field("bed_type"),
), dataset="WS 445.2 / WS 445.10"))
_add(Table("diagnosis", "one row per coded diagnosis on an encounter",
           ("institution_code", "encounter_no", "seq"), (
    Field("encounter_no", required=True), Field("institution_code", required=True),
    Field("seq", "int", required=True), Field("diagnosis_code", required=True), Field("diagnosis_name"),
    Field("diagnosis_type", doc="primary | secondary | admission | discharge"),
    Field("diagnosed_time", "datetime"),
), dataset="WS 445.10"))
_add(Table("lab_result", "one row per lab result (one analyte of one report)",
           ("institution_code", "report_no", "item_code"), (
    Field("report_no", required=True), Field("institution_code", required=True, doc="performing lab"),
    Field("order_no"), Field("encounter_no"), *_PERSON,
    Field("ordering_institution"), Field("reporting_institution"),
    Field("author_type", doc="human | ai"),
    Field("item_code", required=True, doc="local lab item code"), Field("item_name"),
    Field("value"), Field("unit"), Field("ref_range"), Field("abnormal_flag", doc="N | H | L | A"),
    Field("result_status", required=True, doc="F final | P preliminary | C corrected | X cancelled"),
    Field("specimen_time", "datetime"), Field("report_time", "datetime", required=True),
    Field("is_critical", "bool"), Field("device"),
), dataset="WS 445.4"))
_add(Table("exam_report", "one row per imaging or ECG exam report", ("institution_code", "exam_no"), (
    Field("exam_no", required=True), Field("institution_code", required=True, doc="acquiring institution"),
    Field("encounter_no"), *_PERSON, Field("ordering_institution"), Field("reading_institution"),
    Field("author_type"), Field("item_code", required=True), Field("item_name"), Field("modality"),
    Field("study_uid"), Field("cloud_film_url"), Field("findings"), Field("conclusion"),
    Field("result_status", required=True), Field("exam_time", "datetime", required=True),
    Field("report_time", "datetime"),
), dataset="WS 445.4"))
_add(Table("prescription", "one row per prescribed drug line", ("institution_code", "rx_no", "line_no"), (
    Field("rx_no", required=True), Field("line_no", "int", required=True),
    Field("institution_code", required=True), Field("encounter_no"), *_PERSON,
    Field("practitioner_id"), Field("drug_code", required=True, doc="local drug code"), Field("drug_name"),
    Field("dose"), Field("dose_unit"), Field("quantity", "decimal"), Field("days_supply", "int"),
    Field("is_long_rx", "bool"), Field("amount", "decimal"), Field("prescribed_time", "datetime", required=True),
), dataset="WS 445.3"))
_add(Table("followup", "one row per chronic-disease follow-up", ("institution_code", "followup_no"), (
    Field("followup_no", required=True), Field("institution_code", required=True), *_PERSON,
    Field("disease", required=True, doc="htn | dm"), Field("followup_date", "date", required=True),
    Field("mode", doc="clinic | home | phone | app | device"), Field("practitioner_id"),
    Field("sbp", "int"), Field("dbp", "int"), Field("fasting_glucose", "decimal"),
    Field("management_grade"), Field("is_standard", "bool", doc="visit meets the basic public-health standard"),
), dataset="WS 365"))
_add(Table("immunization", "one row per vaccine dose given", ("institution_code", "vaccination_no"), (
    Field("vaccination_no", required=True), Field("institution_code", required=True), *_PERSON,
    Field("vaccine_code", required=True), Field("vaccine_name"), Field("dose_number", "int"),
    Field("vaccination_date", "date", required=True), Field("lot_number"), Field("route"),
), dataset="WS 365"))
_add(Table("signing_contract", "one row per family-doctor contract", ("contract_no",), (
    Field("contract_no", required=True), Field("institution_code", required=True, doc="the CHC"),
    Field("team_id"), Field("doctor_id"), *_PERSON,
    Field("signatory_type", doc="institution | team | doctor"),
    Field("start_date", "date", required=True), Field("end_date", "date", required=True),
    Field("package_code"), Field("is_paid", "bool"), Field("key_populations"),
    Field("status", doc="active | terminated | expired"),
    Field("chosen_district_hospital"), Field("chosen_municipal_hospital"),
    Field("signed_time", "datetime"),
)))
_add(Table("referral", "one row per referral", ("referral_no",), (
    Field("referral_no", required=True), Field("institution_code", required=True, doc="issuing institution"),
    *_PERSON, Field("direction", required=True, doc="up | down"),
    Field("to_institution", required=True), Field("from_practitioner_id"),
    Field("scenario", doc="outpatient | inpatient | checkup"), Field("reason"),
    Field("issued_time", "datetime", required=True), Field("arrived_time", "datetime"),
    Field("status", doc="issued | arrived | lost | cancelled"),
)))
_add(Table("surveillance_report", "one row per unit per day (日报告/零报告)",
           ("institution_code", "report_date"), (
    Field("institution_code", required=True), Field("report_date", "date", required=True),
    Field("report_kind", required=True, doc="count | explicit_zero"),
    Field("fever_count", "int"), Field("diarrhoea_count", "int"),
)))

PERSON_FIELDS: tuple[str, ...] = tuple(f.name for f in _PERSON)


def table(name: str) -> Table:
    """Look up a canonical table by name with an error that names it."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(f"unknown canonical table {name!r}; known: {sorted(TABLES)}") from None
