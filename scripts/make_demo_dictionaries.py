"""Write the demo hospitals' local dictionaries and their reviewed concept maps (one-off).

Kept for provenance: this is how the demo concept maps in mappings/concept_maps/ were first
drafted. After that they are reviewed data, edited by hand or via `rhp mapping accept`.
"""
import csv
from pathlib import Path

M = Path(__file__).resolve().parent.parent / "mappings"

# code, zh display, en display, unit, low, high, hr_item, ws446(empty when unknown)
LAB = [
    ("14749-6", "葡萄糖", "Glucose [Moles/volume] in Serum or Plasma", "mmol/L", 3.9, 6.1, "HR-L001"),
    ("4548-4", "糖化血红蛋白", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 6.0, "HR-L002"),
    ("718-7", "血红蛋白", "Hemoglobin [Mass/volume] in Blood", "g/L", 115, 150, "HR-L003"),
    ("6690-2", "白细胞计数", "Leukocytes [#/volume] in Blood by Automated count", "10*9/L", 3.5, 9.5, "HR-L004"),
    ("777-3", "血小板计数", "Platelets [#/volume] in Blood by Automated count", "10*9/L", 125, 350, "HR-L005"),
    ("789-8", "红细胞计数", "Erythrocytes [#/volume] in Blood by Automated count", "10*12/L", 3.8, 5.1, "HR-L006"),
    ("14682-9", "肌酐", "Creatinine [Moles/volume] in Serum or Plasma", "umol/L", 41, 111, "HR-L007"),
    ("1742-6", "丙氨酸氨基转移酶", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 7, 40, "HR-L008"),
    ("1920-8", "天门冬氨酸氨基转移酶", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 13, 35, "HR-L009"),
    ("14647-2", "总胆固醇", "Cholesterol [Moles/volume] in Serum or Plasma", "mmol/L", 0, 5.2, "HR-L010"),
    ("14927-8", "甘油三酯", "Triglyceride [Moles/volume] in Serum or Plasma", "mmol/L", 0, 1.7, "HR-L011"),
    ("14646-4", "高密度脂蛋白胆固醇", "Cholesterol in HDL [Moles/volume] in Serum or Plasma", "mmol/L", 1.04, 2.0, "HR-L012"),
    ("22748-8", "低密度脂蛋白胆固醇", "Cholesterol in LDL [Moles/volume] in Serum or Plasma", "mmol/L", 0, 3.4, "HR-L013"),
    ("2951-2", "钠", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 137, 147, "HR-L014"),
    ("2823-3", "钾", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.3, "HR-L015"),
    ("14933-6", "尿酸", "Urate [Moles/volume] in Serum or Plasma", "umol/L", 155, 357, "HR-L016"),
    ("3016-3", "促甲状腺激素", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", 0.27, 4.2, ""),
    ("1988-5", "C反应蛋白", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", 0, 10, "HR-L017"),
]
# hospital dictionaries: (dictionary id, local code prefix style, unit overrides for mg/dL habits)
LAB_DICTS = {
    "lis_a": ("LA", {}),  # vendor A LIS: codes LA001.., SI units
    "lis_b": ("B-", {"14749-6": ("mg/dL", 70, 110), "14647-2": ("mg/dL", 0, 200)}),  # vendor B reports glucose in mg/dL
    "lis_c": ("C", {}),
}
DIAG = [
    ("I10.x00x002", "高血压", "I10"), ("E11.900", "2型糖尿病", "E11.9"), ("J06.900", "急性上呼吸道感染", "J06.9"),
    ("J18.900", "肺炎", "J18.9"), ("I25.103", "冠状动脉粥样硬化性心脏病", "I25.1"), ("I63.900", "脑梗死", "I63.9"),
    ("K29.700", "胃炎", "K29.7"), ("J44.900", "慢性阻塞性肺病", "J44.9"), ("E78.500", "高脂血症", "E78.5"),
    ("M54.500", "腰痛", "M54.5"), ("N39.000", "泌尿道感染", "N39.0"), ("K80.200", "胆囊结石", "K80.2"),
    ("I50.900", "心力衰竭", "I50.9"), ("R50.900", "发热", "R50.9"), ("Z00.000", "健康查体", "Z00.0"),
    ("J20.900", "急性支气管炎", "J20.9"), ("K35.800", "急性阑尾炎", "K35.8"), ("I48.x00", "心房颤动", "I48"),
    ("G45.900", "短暂性脑缺血发作", "G45.9"), ("E11.200", "2型糖尿病伴有肾的并发症", "E11.2"),
    ("C34.900", "肺恶性肿瘤", "C34.9"), ("S72.000", "股骨颈骨折", "S72.0"), ("O80.000", "单胎顺产", "O80.0"),
    ("I11.900", "高血压性心脏病", "I11.9"),
]
DIAG_DICTS = {"his_a": "A", "his_b": "ZD", "chc_std": None}  # chc_std: CHCs submit WHO 4-char codes
DRUG = [
    ("XA10BAE054A001010100483", "二甲双胍片", "metformin", 30), ("XC08CAA013A001010104219", "苯磺酸氨氯地平片", "amlodipine", 30),
    ("XC09CAC023A001010101507", "缬沙坦胶囊", "valsartan", 30), ("XC10AAA074A001010101773", "阿托伐他汀钙片", "atorvastatin", 30),
    ("XB01ACA056A001010102264", "阿司匹林肠溶片", "aspirin", 30), ("XA10AEG213B002010100435", "甘精胰岛素注射液", "insulin glargine", 30),
    ("XJ01CAA040A001010101968", "阿莫西林胶囊", "amoxicillin", 7), ("XJ01DDA101B001010180233", "头孢曲松钠注射剂", "ceftriaxone", 5),
    ("XA02BCA005A001010103059", "奥美拉唑肠溶胶囊", "omeprazole", 14), ("XN02BEA016A001010101001", "对乙酰氨基酚片", "paracetamol", 3),
    ("XC07ABM033A001010104436", "酒石酸美托洛尔片", "metoprolol", 30), ("XA10BBG075A001010100245", "格列美脲片", "glimepiride", 30),
]
DRUG_DICTS = {"his_a": "YP", "his_b": "DRUG-", "chc_std": "Y"}
EXAM = [
    ("EX-CT-CHEST", "胸部CT平扫", "CT", 180), ("EX-CT-HEAD", "头颅CT平扫", "CT", 180), ("EX-DR-CHEST", "胸部正位DR", "DX", 180),
    ("EX-US-ABD", "腹部彩超", "US", 90), ("EX-US-THY", "甲状腺彩超", "US", 180), ("EX-ECG-12", "常规心电图", "ECG", 30),
    ("EX-MR-HEAD", "头颅MRI平扫", "MR", 365), ("EX-US-HEART", "心脏彩超", "US", 180),
]
EXAM_DICTS = {"pacs_a": "PA", "pacs_b": "EXM"}


def w(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(header)
        wr.writerows(rows)


CM_HEADER = ["map_id", "map_version", "source_system", "source_code", "source_display", "target_system",
             "target_code", "target_display", "equivalence", "unit", "ref_low", "ref_high", "hr_item_code",
             "reviewed_by", "source"]

w(M / "codesystems" / "loinc_lab_subset.csv", ["code", "display_zh", "display_en", "unit", "ref_low", "ref_high", "hr_item_code"],
  [list(r) for r in LAB])
for d, (prefix, overrides) in LAB_DICTS.items():
    rows = []
    for i, (code, zh, en, unit, lo, hi, hr) in enumerate(LAB, 1):
        if d == "lis_c" and i > 14:  # lis_c's last items have no reviewed mapping yet: they stay unmapped
            continue
        u, lo2, hi2 = overrides.get(code, (unit, lo, hi))
        local = f"{prefix}{i:03d}" if d != "lis_c" else f"{prefix}{i * 7 + 100}"
        rows.append([f"lab-{d}", "2026.1", d, local, zh, "http://loinc.org", code, en, "equivalent", u, lo2, hi2, hr,
                     "demo-reviewer", "demo dictionary; LOINC codes verified by name"])
    w(M / "concept_maps" / "lab" / f"{d}.csv", CM_HEADER, rows)
w(M / "codesystems" / "icd10_cn_clinical_subset.csv", ["code", "display_zh", "who_category"], [list(r) for r in DIAG])
for d, prefix in DIAG_DICTS.items():
    rows = []
    for i, (code, zh, who) in enumerate(DIAG, 1):
        local = who if prefix is None else f"{prefix}{i:04d}"
        rows.append([f"diagnosis-{d}", "2026.1", d, local, zh, "urn:oid:2.16.156.10011.2.3.3.11", code, zh,
                     "equivalent" if prefix else "wider", "", "", "", "", "demo-reviewer",
                     "demo subset shaped after ICD-10 国家临床版2.0; verify codes against the official list"])
    w(M / "concept_maps" / "diagnosis" / f"{d}.csv", CM_HEADER, rows)
w(M / "codesystems" / "nhsa_drug_subset.csv", ["code", "display_zh", "generic_en", "typical_days"], [list(r) for r in DRUG])
for d, prefix in DRUG_DICTS.items():
    rows = [[f"drug-{d}", "2026.1", d, f"{prefix}{i:05d}", zh, "http://fhir.region.example.cn/CodeSystem/nhsa-drug", code, zh,
             "equivalent", "", "", "", "", "demo-reviewer", "synthetic codes in the NHSA 23-character shape"]
            for i, (code, zh, _en, _days) in enumerate(DRUG, 1)]
    w(M / "concept_maps" / "drug" / f"{d}.csv", CM_HEADER, rows)
w(M / "codesystems" / "exam_items.csv", ["code", "display_zh", "modality", "validity_days"], [list(r) for r in EXAM])
for d, prefix in EXAM_DICTS.items():
    rows = [[f"exam-{d}", "2026.1", d, f"{prefix}{i:03d}", zh, "http://fhir.region.example.cn/CodeSystem/exam-item", code, zh,
             "equivalent", "", "", "", "", "demo-reviewer", "platform exam-item codes (no national list is published)"]
            for i, (code, zh, _m, _v) in enumerate(EXAM, 1)]
    w(M / "concept_maps" / "exam" / f"{d}.csv", CM_HEADER, rows)
print("written")
