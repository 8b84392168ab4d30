"""Clinical events of one institution-day, written as they are generated.

Each visit is derived from (seed, institution, day, k): the resident, the diagnosis, the
costs, the prescriptions, lab reports and exams all follow from that key, so a day is a
stream of independent records and never sits in memory.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta
from functools import cache, lru_cache
from typing import Any

from transforms.synth.people import Person, person
from transforms.synth.refdata import clinical, codesystem, data_csv, scales
from transforms.synth.region import District, Institution, towns
from transforms.synth.rng import Weighted, h64, rng
from transforms.synth.routing import DayFiles, dictionaries_for


@cache
def _weighted(section: str) -> Weighted:
    d = clinical()[section]
    return Weighted(list(d), list(d.values()))


@cache
def _insured() -> Weighted:
    return _weighted("insured_places")


def _money(x: float) -> float:
    return round(max(0.0, x), 2)


class Day:
    """Generation context for one district on one day."""

    def __init__(self, seed: int, district: District, day: date, start: date, scale: str,
                 files: DayFiles) -> None:
        self.seed, self.d, self.day, self.start, self.files = seed, district, day, start, files
        self.cfg = scales()[scale]
        self.towns = towns(district.code)
        self.weekend = day.weekday() >= 5
        self.lab_serial: dict[str, int] = {}
        self.seen: dict[str, set[int]] = {}  # CHC code -> resident indices seen today (ints only)
        self.counts: dict[str, int] = {}
        # bounded cache: a snapshot derives each catchment resident twice (record + contract)
        self.person = lru_cache(maxsize=8192)(self._person)

    # ---- people ------------------------------------------------------------------------
    def _person(self, index: int) -> Person:
        return person(self.seed, self.d.code, index, self.start, self.towns)

    def catchment_index(self, r: random.Random, chc: Institution) -> int:
        n = len(self.d.chcs)
        pos = self.d.chcs.index(chc)
        return pos + n * r.randrange(max(1, (self.d.residents - pos) // n))

    def person_fields(self, p: Person, inst: str) -> dict[str, Any]:
        return {"patient_local_id": p.local_id(inst), "id_number": p.id_number, "patient_name": p.name,
                "sex_code": p.sex, "birth_date": p.birth_date, "phone": p.phone}

    def volume(self, mean: float, *key: object) -> int:
        r = rng(self.seed, "volume", *key, self.day)
        factor = 0.6 if self.weekend else 1.0
        return int(round(mean * factor * r.uniform(0.85, 1.15)))

    def count(self, table: str, n: int = 1) -> None:
        self.counts[table] = self.counts.get(table, 0) + n

    # ---- HIS ---------------------------------------------------------------------------
    def visit(self, inst: Institution, k: int, cls: str, chc: Institution | None) -> None:
        r = rng(self.seed, "visit", inst.code, self.day, k)
        idx = self.catchment_index(r, chc) if chc else r.randrange(self.d.residents)
        p = self.person(idx)
        if chc:
            self.seen.setdefault(chc.code, set()).add(idx)
        dicts = dictionaries_for("his", inst.code)
        section = "chc_diagnoses" if chc else "outpatient_diagnoses"
        dx = _weighted(section).pick(r)
        if p.htn and r.random() < 0.35:
            dx = "I10.x00x002"
        elif p.dm and r.random() < 0.3:
            dx = "E11.900"
        hour = r.randint(0, 23) if cls == "E" else r.choice([7, 8, 8, 9, 9, 10, 10, 11, 13, 14, 15, 16])
        start = datetime.combine(self.day, time(hour, r.randint(0, 59), r.randint(0, 59)))
        end = start + timedelta(minutes=r.randint(5, 40))
        staff = self.d.staff_by_inst[inst.code]
        doctor = next((s for s in staff if s.team_role in ("", "doctor")), staff[0])
        doctor = staff[r.randrange(len(staff))] if not chc else doctor
        if chc and inst.inst_type == "chc":
            doctors = [s for s in staff if s.team_role == "doctor"]
            doctor = doctors[r.randrange(len(doctors))]
        prefix = "JZ" if cls == "E" else "MZ"
        enc_no = f"{prefix}{inst.serial}{self.day:%Y%m%d}{k + 1:06d}"
        loc = dicts["diagnosis"].local(dx)
        lines = self._rx_lines(r, inst, dx, chc is not None)
        drug = _money(sum(x["amount"] for x in lines))
        base = r.lognormvariate(5.0 if not chc else 4.2, 0.45)
        if drug:  # non-drug spend keeps the drug share near the observed 25-35 %
            base = max(base, drug * r.uniform(1.6, 2.6) / 0.8)
        exam_lab = _money(base * r.uniform(0.15, 0.35))
        service = _money(base * r.uniform(0.25, 0.45))
        consumable = _money(base * r.uniform(0.02, 0.08))
        if not lines:
            drug = 0.0
        total = _money(drug + exam_lab + service + consumable)
        row = {"encounter_no": enc_no, "institution_code": inst.code, **self.person_fields(p, inst.code),
               "encounter_class": cls, "department": r.choice(clinical()["departments"][
                   "hospital_outpatient" if not chc else inst.inst_type]),
               "practitioner_id": doctor.practitioner_id, "start_time": start, "end_time": end,
               "diagnosis_code": loc.code, "diagnosis_name": loc.display, "total_cost": total,
               "drug_cost": drug, "service_cost": service, "consumable_cost": consumable,
               "exam_lab_cost": exam_lab, "payment_method": r.choice(clinical()["payment_methods"]),
               "insured_place_code": _insured().pick(r), "is_appointment": r.random() < (0.45 if not chc else 0.3),
               "channel": "online" if r.random() < 0.04 else "offline", "referral_no": None}
        f = self.files.get("his", inst.code, "outpatient")
        if f:
            f.write(row)
            self.count("encounter")
        self._diagnoses(r, inst, enc_no, dx, start, dicts)
        self._prescriptions(inst, enc_no, p, doctor.practitioner_id, start, lines, dicts)
        lab_share = self.cfg["lab_share"]["chc" if chc else "hospital_o"]
        if r.random() < lab_share and inst.inst_type != "station":
            lab = self.d.lab_for(chc.code, self.day) if chc else inst
            self.lab_report(r, lab, inst, p, enc_no, dx, start, k)
        if inst.inst_type != "station" and r.random() < (0.06 if chc else 0.09):
            self.exam(r, inst, p, enc_no, start, k, chc is not None)
        if chc and inst.inst_type == "chc" and r.random() < 0.06:
            self.referral(r, inst, p, "up", start, k, doctor.practitioner_id)

    def _rx_lines(self, r: random.Random, inst: Institution, dx: str, primary: bool) -> list[dict[str, Any]]:
        if inst.inst_type == "station":
            return []
        drugs = clinical()["drugs_for"].get(dx, [])
        if not drugs or r.random() < 0.2:
            return []
        chronic = dx in clinical()["long_rx_diagnoses"]
        natl = codesystem("nhsa_drug_subset")
        out = []
        for code in r.sample(drugs, k=min(len(drugs), r.randint(1, 2))):
            typical = int(natl[code]["typical_days"])
            days = r.choice([28, 56, 84, 90]) if chronic and primary and r.random() < 0.6 else \
                (typical if chronic else r.randint(3, typical))
            price = clinical()["drug_unit_price"].get(code, clinical()["drug_unit_price"]["default"])
            qty = days if "B0" not in code else max(1, round(days / (30 if "AE" in code else 1)))
            out.append({"code": code, "days": days, "qty": qty, "amount": _money(qty * price * r.uniform(0.9, 1.1))})
        return out

    def _diagnoses(self, r: random.Random, inst: Institution, enc_no: str, dx: str, when: datetime,
                   dicts: dict, dtype: str = "primary") -> None:
        f = self.files.get("his", inst.code, "diagnosis")
        if not f:
            return
        codes = [dx]
        extra = _weighted("outpatient_diagnoses")
        for _ in range(r.choice([0, 0, 1, 2])):
            c = extra.pick(r)
            if c not in codes:
                codes.append(c)
        for seq, code in enumerate(codes, 1):
            loc = dicts["diagnosis"].local(code)
            f.write({"encounter_no": enc_no, "institution_code": inst.code, "seq": seq,
                     "diagnosis_code": loc.code, "diagnosis_name": loc.display,
                     "diagnosis_type": dtype if seq == 1 else "secondary", "diagnosed_time": when})
            self.count("diagnosis")

    def _prescriptions(self, inst: Institution, enc_no: str, p: Person, doctor: str, when: datetime,
                       lines: list[dict[str, Any]], dicts: dict) -> None:
        f = self.files.get("his", inst.code, "prescription")
        if not f or not lines:
            return
        rx_no = f"CF{enc_no[2:]}"
        for n, line in enumerate(lines, 1):
            loc = dicts["drug"].local(line["code"])
            f.write({"rx_no": rx_no, "line_no": n, "institution_code": inst.code, "encounter_no": enc_no,
                     **self.person_fields(p, inst.code), "practitioner_id": doctor, "drug_code": loc.code,
                     "drug_name": loc.display, "dose": "1", "dose_unit": "片" if "A0" in line["code"] else "支",
                     "quantity": line["qty"], "days_supply": line["days"], "is_long_rx": line["days"] > 30,
                     "amount": line["amount"], "prescribed_time": when + timedelta(minutes=3)})
            self.count("prescription")

    def inpatient(self, inst: Institution, mean: float) -> None:
        """Admissions today (A01 / lab) and discharges today (front page / A03)."""
        dicts = dictionaries_for("his", inst.code)
        n_today = self.volume(mean, inst.code, "adm")
        for k in range(n_today):  # admissions
            stay = self._stay(inst, self.day, k)
            if stay["adt"]:
                self._adt(inst, stay, "A01", dicts)
            r = rng(self.seed, "stay-lab", inst.code, self.day, k)
            self.lab_report(r, inst, inst, stay["p"], stay["enc_no"], stay["dx"], stay["start"], 900000 + k,
                            inpatient=True)
        for los in range(1, 31):  # discharges today of stays admitted los days ago
            adm_day = self.day - timedelta(days=los)
            for k in range(self.volume(mean, inst.code, "adm") if adm_day == self.day else
                           _volume_on(self.seed, mean, inst.code, adm_day)):
                stay = self._stay(inst, adm_day, k)
                if stay["los"] != los:
                    continue
                self._discharge(inst, stay, dicts)

    def _stay(self, inst: Institution, adm_day: date, k: int) -> dict[str, Any]:
        r = rng(self.seed, "stay", inst.code, adm_day, k)
        p = self.person(r.randrange(self.d.residents))
        dx = _weighted("inpatient_diagnoses").pick(r)
        los = max(1, min(30, int(r.lognormvariate(1.9, 0.5))))
        start = datetime.combine(adm_day, time(r.randint(8, 20), r.randint(0, 59)))
        end = datetime.combine(adm_day + timedelta(days=los), time(r.randint(8, 11), r.randint(0, 59)))
        return {"r": r, "p": p, "dx": dx, "los": los, "start": start, "end": end, "k": k,
                "enc_no": f"ZY{inst.serial}{adm_day:%Y%m%d}{k + 1:05d}",
                "adt": (self.files.get("his", inst.code, "inpatient") or _Nil()).profile.format == "hl7v2"}

    def _inpatient_row(self, inst: Institution, stay: dict[str, Any], dicts: dict, discharged: bool) -> dict:
        r, p = stay["r"], stay["p"]
        loc = dicts["diagnosis"].local(stay["dx"])
        staff = self.d.staff_by_inst[inst.code]
        doc = staff[r.randrange(len(staff))]
        total = _money(r.lognormvariate(9.3, 0.5) * (1 + stay["los"] / 10))
        drug = _money(total * r.uniform(0.25, 0.35))
        exam_lab = _money(total * r.uniform(0.15, 0.25))
        consumable = _money(total * r.uniform(0.08, 0.15))
        service = _money(total - drug - exam_lab - consumable)
        return {"encounter_no": stay["enc_no"], "institution_code": inst.code, **self.person_fields(p, inst.code),
                "encounter_class": "I", "department": r.choice(clinical()["departments"]["hospital_inpatient"]),
                "practitioner_id": doc.practitioner_id, "start_time": stay["start"],
                "end_time": stay["end"] if discharged else None, "bed_type": r.choice(clinical()["bed_types"]),
                "diagnosis_code": loc.code, "diagnosis_name": loc.display,
                "total_cost": total, "drug_cost": drug, "service_cost": service, "consumable_cost": consumable,
                "exam_lab_cost": exam_lab, "payment_method": r.choice(clinical()["payment_methods"]),
                "insured_place_code": _insured().pick(r), "referral_no": None}

    def _adt(self, inst: Institution, stay: dict[str, Any], event: str, dicts: dict) -> None:
        f = self.files.get("his", inst.code, "inpatient")
        if not f:
            return
        row = self._inpatient_row(inst, stay, dicts, discharged=event == "A03")
        when = stay["end"] if event == "A03" else stay["start"]
        f.write_message(row, [], f"ADT^{event}", f"{inst.code}-{self.day:%Y%m%d}-ADT{f.sink.messages + 1:06d}",
                        {"EVN-1": event, "EVN-2": when.strftime("%Y%m%d%H%M%S"), "MSH-7": when.strftime("%Y%m%d%H%M%S")})
        self.count("encounter")

    def _discharge(self, inst: Institution, stay: dict[str, Any], dicts: dict) -> None:
        f = self.files.get("his", inst.code, "inpatient")
        if f is not None and f.profile.format == "hl7v2":
            self._adt(inst, stay, "A03", dicts)
        elif f is not None:
            f.write(self._inpatient_row(inst, stay, dicts, discharged=True))
            self.count("encounter")
        r = stay["r"]
        self._diagnoses(r, inst, stay["enc_no"], stay["dx"], stay["end"], dicts, dtype="discharge")
        lines = self._rx_lines(r, inst, stay["dx"], False)
        self._prescriptions(inst, stay["enc_no"], stay["p"], self.d.staff_by_inst[inst.code][0].practitioner_id,
                            stay["end"] - timedelta(hours=1), lines, dicts)
        if r.random() < 0.2:
            self.referral(r, inst, stay["p"], "down", stay["end"], stay["k"],
                          self.d.staff_by_inst[inst.code][0].practitioner_id, scenario="inpatient")

    # ---- LIS / PACS --------------------------------------------------------------------
    def lab_report(self, r: random.Random, lab: Institution, orderer: Institution, p: Person, enc_no: str,
                   dx: str, when: datetime, k: int, inpatient: bool = False) -> None:
        f = self.files.get("lis", lab.code, "lab_result")
        if f is None:
            return
        panels = clinical()["lab_panels"]
        if inpatient:
            chosen = ["cbc", "liver", "renal", "electrolytes"]
        elif dx.startswith("E11"):
            chosen = ["glucose"] + (["renal"] if r.random() < 0.4 else [])
        elif dx.startswith(("I10", "I11", "I25", "E78")):
            chosen = ["lipids", "renal"] + (["electrolytes"] if r.random() < 0.5 else [])
        elif dx.startswith(("J", "R50", "N39")):
            chosen = ["cbc", "crp"]
        elif dx.startswith("Z00"):
            chosen = ["cbc", "liver", "renal", "lipids", "glucose"]
        else:
            chosen = ["cbc"] + (["thyroid"] if r.random() < 0.2 else [])
        lab_dict = dictionaries_for("lis", lab.code)["lab"]
        values = clinical()["lab_values"]
        conv = clinical()["unit_conversions"]
        natl = codesystem("loinc_lab_subset")
        specimen = when + timedelta(minutes=r.randint(10, 60))
        remote = orderer.code != lab.code
        report_time = specimen + timedelta(hours=r.uniform(4, 20) if remote else r.uniform(0.7, 5))
        status = r.choices("FPCX", [93, 4, 2, 1])[0]
        author = "ai" if r.random() < 0.05 else "human"
        obx = []
        for loinc in [c for pnl in chosen for c in panels[pnl]]:
            loc = lab_dict.local(loinc)
            mean, sd, dec = values[loinc]
            if p.dm and loinc in ("14749-6", "4548-4"):
                mean = mean * 1.45
            v = max(mean * 0.05, r.gauss(mean, sd))
            factor = conv.get(f"{loinc}|{loc.unit}", 1.0)
            v = v * factor
            dec = 0 if factor != 1.0 else dec
            lo = float(loc.ref_low or natl[loinc]["ref_low"] or 0)
            hi = float(loc.ref_high or natl[loinc]["ref_high"] or 0)
            flag = "N"
            if hi and v > hi:
                flag = "HH" if v > 3 * hi else "H"
            elif lo and v < lo:
                flag = "LL" if v < 0.5 * lo else "L"
            obx.append({"item_code": loc.code, "item_name": loc.display,
                        "value": "" if status == "X" else f"{v:.{dec}f}", "unit": loc.unit,
                        "ref_range": f"{loc.ref_low}-{loc.ref_high}", "abnormal_flag": "" if status == "X" else flag,
                        "result_status": status, "author_type": author,
                        "device": f"{lab.serial}-AN{1 + h64(loinc) % 4:02d}", "reporting_institution": lab.code})
        n = self.lab_serial.get(lab.code, 0) + 1
        self.lab_serial[lab.code] = n
        report_no = f"LR{orderer.code[-8:]}{when:%Y%m%d}{k:06d}"
        header = {"institution_code": lab.code, **self.person_fields(p, orderer.code), "encounter_no": enc_no,
                  "order_no": f"OR{report_no[2:]}", "ordering_institution": orderer.code,
                  "report_no": report_no, "specimen_time": specimen, "report_time": report_time}
        f.write_message(header, obx, "ORU^R01", f"{lab.code}-{self.day:%Y%m%d}-{n:06d}",
                        {"ORC-1": "RE", "OBR-1": "1", "MSH-7": report_time.strftime("%Y%m%d%H%M%S"), "OBR-4.1": chosen[0], "PV1-2": "I" if inpatient else "O"})
        self.count("lab_result", len(obx))

    def exam(self, r: random.Random, inst: Institution, p: Person, enc_no: str, when: datetime, k: int,
             primary: bool) -> None:
        f = self.files.get("pacs", inst.code, "exam_report")
        if f is None:
            return
        exam_dict = dictionaries_for("pacs", inst.code)["exam"]
        items = ["EX-ECG-12", "EX-DR-CHEST"] if primary else \
            ["EX-CT-CHEST", "EX-CT-HEAD", "EX-DR-CHEST", "EX-US-ABD", "EX-US-THY", "EX-ECG-12", "EX-MR-HEAD", "EX-US-HEART"]
        item = r.choice(items)
        loc = exam_dict.local(item)
        reader = self.d.lab_for(inst.code, self.day) if primary else inst
        exam_time = when + timedelta(minutes=r.randint(15, 90))
        ai = r.random() < (0.3 if item == "EX-ECG-12" else 0.1)
        uid = f"1.2.156.112605.{h64(self.seed, 'uid', inst.code, enc_no, k) % 10**14}"
        normal = r.random() < 0.7
        f.write({"exam_no": f"EX{inst.serial}{when:%Y%m%d}{k + 1:06d}", "institution_code": inst.code,
                 "encounter_no": enc_no, **self.person_fields(p, inst.code), "ordering_institution": inst.code,
                 "reading_institution": reader.code, "author_type": "ai" if ai else "human",
                 "item_code": loc.code, "item_name": loc.display, "modality": codesystem("exam_items")[item]["modality"],
                 "study_uid": uid, "cloud_film_url": f"https://film.region.example.cn/v/{h64(uid):016x}",
                 "findings": "未见明显异常" if normal else "可见异常改变，详见影像",
                 "conclusion": "未见异常" if normal else "建议随诊复查",
                 "result_status": r.choices("FPC", [95, 3, 2])[0], "exam_time": exam_time,
                 "report_time": exam_time + timedelta(hours=r.uniform(0.5, 8 if primary else 4))})
        self.count("exam_report")

    # ---- referrals, public health, signing ----------------------------------------------
    def referral(self, r: random.Random, inst: Institution, p: Person, direction: str, when: datetime,
                 k: int, doctor: str, scenario: str = "outpatient") -> None:
        f = self.files.get("signing", inst.code, "referral")
        if f is None:
            return
        chc_pos = p.index % len(self.d.chcs)
        to = self.d.chcs[chc_pos] if direction == "down" else self.d.lab_for(inst.code, self.day)
        status = r.choices(["arrived", "lost", "cancelled", "issued"], [72, 18, 4, 6])[0]
        f.write({"referral_no": f"ZZ{inst.serial}{when:%Y%m%d}{k + 1:06d}", "institution_code": inst.code,
                 **self.person_fields(p, inst.code), "direction": direction, "to_institution": to.code,
                 "from_practitioner_id": doctor, "scenario": scenario,
                 "reason": "病情需要上级医院诊治" if direction == "up" else "病情稳定转社区康复",
                 "issued_time": when + timedelta(minutes=20),
                 "arrived_time": when + timedelta(days=r.randint(0, 3), hours=r.randint(1, 6)) if status == "arrived" else None,
                 "status": status})
        self.count("referral")

    def followups(self, chc: Institution) -> None:
        f = self.files.get("public_health", chc.code, "followup")
        if f is None:
            return
        catch = self.d.residents // len(self.d.chcs)
        n = self.volume(catch * 0.004, chc.code, "sf")
        teams = self.d.teams_by_chc[chc.code]
        for k in range(n):
            r = rng(self.seed, "sf", chc.code, self.day, k)
            for _ in range(30):
                p = self.person(self.catchment_index(r, chc))
                if p.htn or p.dm:
                    break
            else:
                continue
            disease = "dm" if p.dm and (not p.htn or r.random() < 0.5) else "htn"
            team = teams[(p.index // len(self.d.chcs)) % len(teams)]
            sbp = int(r.gauss(138 if disease == "htn" else 130, 14))
            f.write({"followup_no": f"SF{chc.serial}{self.day:%Y%m%d}{k + 1:05d}", "institution_code": chc.code,
                     **self.person_fields(p, chc.code), "disease": disease, "followup_date": self.day,
                     "mode": r.choices(["clinic", "home", "phone", "app", "device"], [55, 10, 20, 10, 5])[0],
                     "practitioner_id": team["lead_practitioner_id"], "sbp": sbp, "dbp": int(sbp * r.uniform(0.55, 0.68)),
                     "fasting_glucose": round(r.gauss(7.4, 1.6), 1) if disease == "dm" else None,
                     "management_grade": r.choice(["1", "2", "3"]), "is_standard": r.random() < 0.93})
            self.count("followup")

    def immunizations(self, chc: Institution) -> None:
        f = self.files.get("public_health", chc.code, "immunization")
        if f is None:
            return
        catch = self.d.residents // len(self.d.chcs)
        vacc = data_csv("vaccines.csv")
        for k in range(self.volume(catch * 0.0012, chc.code, "ym")):
            r = rng(self.seed, "ym", chc.code, self.day, k)
            for _ in range(60):
                p = self.person(self.catchment_index(r, chc))
                if p.age_on(self.day) <= 6:
                    break
            else:
                continue
            months = (self.day - p.birth_date).days // 30
            options = [v for v in vacc if int(v["age_months"]) <= months] or vacc[:1]
            v = r.choice(options)
            f.write({"vaccination_no": f"YM{chc.serial}{self.day:%Y%m%d}{k + 1:05d}", "institution_code": chc.code,
                     **self.person_fields(p, chc.code), "vaccine_code": v["cvx"], "vaccine_name": v["name_zh"],
                     "dose_number": r.randint(1, 3), "vaccination_date": self.day,
                     "lot_number": f"{self.day:%Y}{r.randrange(10**6):06d}", "route": v["route"]})
            self.count("immunization")

    def surveillance(self, chc: Institution) -> None:
        f = self.files.get("public_health", chc.code, "surveillance_report")
        if f is None:
            return
        units = [chc, *[s for s in self.d.stations if s.parent_code == chc.code]]
        for u in units:
            r = rng(self.seed, "jcrb", u.code, self.day)
            fever = r.choices([0, 1, 2, 3, 5], [55, 25, 10, 7, 3])[0]
            diar = r.choices([0, 1, 2], [75, 18, 7])[0]
            f.write({"institution_code": u.code, "report_date": self.day,
                     "report_kind": "explicit_zero" if fever == diar == 0 else "count",
                     "fever_count": fever, "diarrhoea_count": diar})
            self.count("surveillance_report")

    def health_records(self, chc: Institution) -> None:
        """Start day: full snapshots of records and contracts in one pass. Later: records touched today."""
        f = self.files.get("public_health", chc.code, "health_record")
        if f is None:
            return
        n = len(self.d.chcs)
        pos = self.d.chcs.index(chc)
        qy = self.files.get("signing", chc.code, "signing_contract") if self.day == self.start else None
        idxs = range(pos, self.d.residents, n) if self.day == self.start else sorted(self.seen.get(chc.code, ()))
        for i in idxs:
            p = self.person(i)
            if qy is not None and p.signed:  # one pass derives each resident once for both snapshots
                self._contract(qy, chc, p, p.contract_start, p.contract_years, f"QY{p.record_no}")
            if not p.has_record:
                continue
            active = self.day if self.day != self.start else max(p.record_created, self.day - timedelta(
                days=h64(self.seed, "active", i) % 700))
            f.write({"record_no": p.record_no, "institution_code": chc.code, **self.person_fields(p, chc.code),
                     "ethnicity_code": p.ethnicity, "marital_code": p.marital, "division_code": p.town_code,
                     "address_detail": p.address, "key_populations": "|".join(p.key_populations(self.day)),
                     "created_date": p.record_created, "last_active_date": active,
                     "is_open_to_resident": p.record_open})
            self.count("health_record")

    def contracts(self, chc: Institution) -> None:
        f = self.files.get("signing", chc.code, "signing_contract")
        if f is None:
            return
        if self.day == self.start and self.files.get("public_health", chc.code, "health_record") is None:
            n = len(self.d.chcs)
            for i in range(self.d.chcs.index(chc), self.d.residents, n):  # snapshot without health records
                p = self.person(i)
                if p.signed:
                    self._contract(f, chc, p, p.contract_start, p.contract_years, f"QY{p.record_no}")
        for k in range(self.volume(self.cfg["new_contracts_per_chc"], chc.code, "qy")):
            r = rng(self.seed, "qy", chc.code, self.day, k)
            p = self.person(self.catchment_index(r, chc))
            if p.signed:
                continue  # already signed: no overlapping active contract
            self._contract(f, chc, p, self.day, 1, f"QY{chc.serial}{self.day:%Y%m%d}{k + 1:04d}")

    def _contract(self, f, chc: Institution, p: Person, start: date, years: int, no: str) -> None:
        teams = self.d.teams_by_chc[chc.code]
        team = teams[(p.index // len(self.d.chcs)) % len(teams)]
        end = start + timedelta(days=365 * years - 1)
        grp_lead = self.d.lab_for(chc.code, start)
        support = next((m.institution_code for m in self.d.memberships
                        if m.group_code == self.d.group_of(chc.code, max(start, self.day)) and m.role == "supporting"), "")
        sig = "institution" if start.year < 2023 else ("team" if start.year < 2025 else "doctor")
        f.write({"contract_no": no, "institution_code": chc.code, "team_id": team["team_id"],
                 "doctor_id": team["lead_practitioner_id"], **self.person_fields(p, chc.code),
                 "signatory_type": sig, "start_date": start, "end_date": end,
                 "package_code": "PKG-KEY-2025" if p.key_populations(start) else "PKG-BASIC-2025",
                 "is_paid": p.paid, "key_populations": "|".join(p.key_populations(start)),
                 "status": "active" if end >= self.day else "expired",
                 "chosen_district_hospital": grp_lead.code, "chosen_municipal_hospital": support,
                 "signed_time": datetime.combine(start, time(9, 30))})
        self.count("signing_contract")


class _Nil:
    class profile:  # noqa: N801 - a stand-in with the attribute the caller reads
        format = ""


def _volume_on(seed: int, mean: float, inst: str, day: date) -> int:
    r = rng(seed, "volume", inst, "adm", day)
    factor = 0.6 if day.weekday() >= 5 else 1.0
    return int(round(mean * factor * r.uniform(0.85, 1.15)))


def run_district_day(ctx: Day) -> None:
    """All events of one district-day, institution by institution (files already open)."""
    cfg, d = ctx.cfg, ctx.d
    for i, h in enumerate(d.hospitals):
        for k in range(ctx.volume(cfg["outpatient_per_hospital"][i], h.code, "mz")):
            ctx.visit(h, k, "E" if rng(ctx.seed, "cls", h.code, ctx.day, k).random() < 0.12 else "O", None)
        ctx.inpatient(h, cfg["inpatient_discharges_per_hospital"][i])
    for chc in d.chcs:
        for k in range(ctx.volume(cfg["outpatient_per_chc"], chc.code, "mz")):
            ctx.visit(chc, k, "O", chc)
        for st in (s for s in d.stations if s.parent_code == chc.code):
            for k in range(ctx.volume(cfg["outpatient_per_station"], st.code, "mz")):
                ctx.visit(st, k, "O", chc)
        ctx.followups(chc)
        ctx.immunizations(chc)
        ctx.surveillance(chc)
        ctx.health_records(chc)
        ctx.contracts(chc)
