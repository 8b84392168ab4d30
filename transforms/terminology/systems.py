"""Every code system and identifier namespace the platform emits, written down once.

NHC systems use the official ``urn:oid:2.16.156.10011...`` OIDs from WS/T 500 (DOMAIN §4.5).
HL7 China IG URLs are aliases (DOMAIN §4.6). Systems no national body mints (medical group,
key population, local item codes, ...) live under the platform's own domain, as the
Chongqing IG does. Nothing else in the code base may spell one of these strings.
"""

from __future__ import annotations

PLATFORM = "http://fhir.region.example.cn"  # the platform's own canonical base

# Identifiers
RESIDENT_ID = "urn:oid:2.16.156.10011.1.3"  # 患者身份证号 (never emitted in clear; kept for docs)
HEALTH_RECORD_NO = "urn:oid:2.16.156.10011.1.2"  # 城乡居民健康档案编号
OUTPATIENT_NO = "urn:oid:2.16.156.10011.1.11"  # 门诊号
INPATIENT_NO = "urn:oid:2.16.156.10011.1.12"  # 住院号
STAFF_ID = "urn:oid:2.16.156.10011.1.4"  # 医务人员编号
E_REQUEST_NO = "urn:oid:2.16.156.10011.1.24"  # 电子申请单编号
PERSON_KEY = f"{PLATFORM}/identifier/person-key"  # keyed-HMAC pseudonym (the MPI key)
INSTITUTION_CODE = f"{PLATFORM}/identifier/institution"
USCC = "urn:oid:2.16.156.10011.1.100"  # placeholder OID is NOT official; see USCC_URI
USCC_URI = "http://fhir.cq.hc/CodeSystem/identifier-type#USCC"
LOCAL_RECORD = f"{PLATFORM}/identifier/local"  # + /<institution>/<table>

# Code systems
SEX_GB2261 = "urn:oid:2.16.156.10011.2.3.3.4"  # 生理性别 GB/T 2261.1
ETHNICITY_GB3304 = "urn:oid:2.16.156.10011.2.3.3.3"  # 民族类别 GB/T 3304
ICD10_CN_CLINICAL = "urn:oid:2.16.156.10011.2.3.3.11"  # 诊断代码表 ICD-10 (国家临床版2.0)
ICD9CM3_CN = "urn:oid:2.16.156.10011.2.3.3.12"  # 手术(操作)代码表
WS364_PREFIX = "urn:oid:2.16.156.10011.2.3.1."  # + table number
GB2260 = f"{PLATFORM}/CodeSystem/gb2260"
MARITAL_GB2261_2 = f"{PLATFORM}/CodeSystem/gb2261-2-marital"
LOINC = "http://loinc.org"
WS446_LAB = f"{PLATFORM}/CodeSystem/ws446-lab"  # 居民健康档案医学检验项目常用代码
HR_ITEM = f"{PLATFORM}/CodeSystem/hr-item"  # regional 互认 item code
EXAM_ITEM = f"{PLATFORM}/CodeSystem/exam-item"  # national exam item code
NHSA_DRUG = f"{PLATFORM}/CodeSystem/nhsa-drug"  # 医保药品分类与代码 (23 chars)
ENCOUNTER_CLASS = f"{PLATFORM}/CodeSystem/encounter-class"
V3_ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
KEY_POPULATION = f"{PLATFORM}/CodeSystem/key-population"
PAYMENT_METHOD = f"{PLATFORM}/CodeSystem/payment-method"
INSTITUTION_TYPE = f"{PLATFORM}/CodeSystem/institution-type"
INSTITUTION_LEVEL = f"{PLATFORM}/CodeSystem/institution-level"
GROUP_ROLE = f"{PLATFORM}/CodeSystem/group-role"
REFERRAL_DIRECTION = f"{PLATFORM}/CodeSystem/referral-direction"
AUTHOR_TYPE = f"{PLATFORM}/CodeSystem/author-type"
CVX = "http://hl7.org/fhir/sid/cvx"
V2_0078_INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
UCUM = "http://unitsofmeasure.org"


def local_system(institution: str, kind: str) -> str:
    """The code system of one institution's local codes, e.g. its lab item dictionary."""
    return f"{PLATFORM}/CodeSystem/local/{institution}/{kind}"


# Extensions (HL7 China where one exists, else the platform's own)
EXT_PERSON_GENDER = "http://hl7.org.cn/fhir/StructureDefinition/ext-person-gender"
EXT_ETHNIC_GROUP = "http://hl7.org.cn/fhir/StructureDefinition/ext-person-ethnicGroup"
EXT_DIVISION = f"{PLATFORM}/StructureDefinition/administrative-division"
EXT_INSURED_PLACE = f"{PLATFORM}/StructureDefinition/insured-place"
EXT_PAYMENT_METHOD = f"{PLATFORM}/StructureDefinition/payment-method"
EXT_COST = f"{PLATFORM}/StructureDefinition/encounter-cost"  # sub-extensions total/drug/service/...
EXT_APPOINTMENT = f"{PLATFORM}/StructureDefinition/is-appointment"
EXT_ROLE_ORDERING = f"{PLATFORM}/StructureDefinition/ordering-institution"
EXT_ROLE_PERFORMING = f"{PLATFORM}/StructureDefinition/performing-institution"
EXT_ROLE_REPORTING = f"{PLATFORM}/StructureDefinition/reporting-institution"
EXT_AUTHOR_TYPE = f"{PLATFORM}/StructureDefinition/author-type"
EXT_CRITICAL = f"{PLATFORM}/StructureDefinition/critical-value"
EXT_LONG_RX = f"{PLATFORM}/StructureDefinition/long-prescription"
EXT_KEY_POPULATION = f"{PLATFORM}/StructureDefinition/key-population"
EXT_LINEAGE = f"{PLATFORM}/StructureDefinition/lineage"  # batch, file, line, message id
EXT_UNMAPPED = f"{PLATFORM}/StructureDefinition/unmapped-code"
EXT_LINK_METHOD = f"{PLATFORM}/StructureDefinition/identity-link-method"

# Added by the terminology module: value domains without a constant above.
RESULT_STATUS = f"{PLATFORM}/CodeSystem/result-status"
FOLLOWUP_MODE = f"{PLATFORM}/CodeSystem/followup-mode"
VACCINE = f"{PLATFORM}/CodeSystem/vaccine"  # synthetic NIP vaccine codes (mappings/codesystems/value_domains)

# FHIR layer: systems and extensions used by transforms/fhir builders
SNOMED = "http://snomed.info/sct"
DICOM_UID = "urn:dicom:uid"
BATCH_ID = f"{PLATFORM}/identifier/batch"
TEAM_ID = f"{PLATFORM}/identifier/team"
GROUP_CODE = f"{PLATFORM}/identifier/medical-group"
FHIR_ID_NAMESPACE = f"{PLATFORM}/fhir-id"  # uuid5 namespace seed for deterministic resource ids
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DIAGNOSTIC_SERVICE_SECTION = "http://terminology.hl7.org/CodeSystem/v2-0074"
V2_0203_ID_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
EPISODE_TYPE = f"{PLATFORM}/CodeSystem/episode-type"  # family-doctor signing, htn/dm management
DIAGNOSIS_TYPE = f"{PLATFORM}/CodeSystem/diagnosis-type"
TEAM_ROLE = f"{PLATFORM}/CodeSystem/team-role"
PRACTITIONER_TITLE = f"{PLATFORM}/CodeSystem/practitioner-title"
INSTITUTION_GRADE = f"{PLATFORM}/CodeSystem/institution-grade"
GROUP_TYPE = f"{PLATFORM}/CodeSystem/group-type"
FOLLOWUP_CODE = f"{PLATFORM}/CodeSystem/followup"
SIGNATORY_TYPE = f"{PLATFORM}/CodeSystem/signatory-type"
SURVEILLANCE_MEASURE = f"{PLATFORM}/Measure/syndromic-surveillance"
SURVEILLANCE_SYNDROME = f"{PLATFORM}/CodeSystem/surveillance-syndrome"
MODALITY_DICOM = "http://dicom.nema.org/resources/ontology/DCM"
EXT_WORKFLOW_EPISODE = "http://hl7.org/fhir/StructureDefinition/workflow-episodeOfCare"
EXT_CHANNEL = f"{PLATFORM}/StructureDefinition/encounter-channel"
EXT_BED_TYPE = f"{PLATFORM}/StructureDefinition/bed-type"
EXT_BEDS = f"{PLATFORM}/StructureDefinition/beds"
EXT_PRIMARY_CARE = f"{PLATFORM}/StructureDefinition/is-primary-care"
EXT_GROUP_TIGHTNESS = f"{PLATFORM}/StructureDefinition/group-tightness"
EXT_GROUP_DIRECTION = f"{PLATFORM}/StructureDefinition/group-direction"
EXT_TEAM = f"{PLATFORM}/StructureDefinition/care-team"
EXT_IS_GP = f"{PLATFORM}/StructureDefinition/is-general-practitioner"
EXT_EHR = f"{PLATFORM}/StructureDefinition/ehr-status"  # sub: recordNoHash/created/lastActive/institution/open
EXT_DEVICE_NAME = f"{PLATFORM}/StructureDefinition/source-device"
EXT_REFERRAL_DIRECTION = f"{PLATFORM}/StructureDefinition/referral-direction"
EXT_REFERRAL_OUTCOME = f"{PLATFORM}/StructureDefinition/referral-outcome"  # issued/arrived/lost/cancelled
EXT_REFERRAL_SCENARIO = f"{PLATFORM}/StructureDefinition/referral-scenario"
EXT_ARRIVED_TIME = f"{PLATFORM}/StructureDefinition/arrived-time"
EXT_SIGNING = f"{PLATFORM}/StructureDefinition/family-doctor-signing"  # sub-extensions per field
EXT_FOLLOWUP = f"{PLATFORM}/StructureDefinition/followup"  # sub: disease/mode/isStandard/grade
EXT_REPORT_KIND = f"{PLATFORM}/StructureDefinition/report-kind"  # count | explicit_zero
EXT_DIAGNOSIS_SEQ = f"{PLATFORM}/StructureDefinition/diagnosis-seq"
EXT_REFERRAL_NO = f"{PLATFORM}/StructureDefinition/referral-no"

# 互认 (result mutual recognition)
EXT_RECOGNITION = f"{PLATFORM}/StructureDefinition/recognition"  # sub-extensions status/reason/validUntil/hrScope
RECOGNITION_STATUS = f"{PLATFORM}/CodeSystem/recognition-status"
DICOM_UID = "urn:dicom:uid"  # identifier system for DICOM study instance UIDs
CHANNEL = f"{PLATFORM}/CodeSystem/encounter-channel"  # offline | online (线下/线上)
