"""The synthetic region: districts, institutions, medical groups (SCD-2), staff and teams.

Institution codes are <type letter><GB/T 2260 district><5-digit serial>: H..00001-00003
hospitals, H..001NN CHCs, H..002NN stations, D..00001 the district CDC, and H..9xxxx the
out-of-district municipal tertiary hospitals that support the groups. District codes are
real GB/T 2260 codes; the 9-digit town codes in data/towns_310114.csv are SYNTHETIC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property

from transforms.synth.refdata import data_csv, scales
from transforms.synth.rng import rng

DISTRICT_NAMES = {
    "310101": "黄浦区", "310104": "徐汇区", "310105": "长宁区", "310106": "静安区", "310107": "普陀区",
    "310109": "虹口区", "310110": "杨浦区", "310112": "闵行区", "310113": "宝山区", "310114": "嘉定区",
    "310115": "浦东新区", "310116": "金山区", "310117": "松江区", "310118": "青浦区", "310120": "奉贤区",
    "310151": "崇明区",
}
JIADING_HOSPITALS = ["上海市嘉定区中心医院", "上海市嘉定区南翔医院", "上海市嘉定区江桥医院"]
JIADING_CHCS = ["嘉定镇街道", "南翔镇", "真新街道", "菊园新区", "江桥镇", "马陆镇", "徐行镇", "华亭镇",
                "外冈镇", "安亭镇", "工业区", "安亭镇黄渡"]
MUNICIPAL = [  # (code, name, division) out-of-district supporting tertiary hospitals
    ("H31010190001", "上海交通大学医学院附属瑞金医院", "310101"),
    ("H31010990001", "上海市第一人民医院", "310109"),
    ("H31011590001", "上海交通大学医学院附属仁济医院", "310115"),
]
# group template: (suffix, Jiading name, aliases, direction, lead hospital serial, supporting code)
GROUPS = [
    ("01", "仁济嘉定", "仁济嘉定中心", "north", "00001", "H31011590001"),
    ("02", "瑞金南翔", "瑞金嘉定（南翔）", "east", "00002", "H31010190001"),
    ("03", "市一江桥", "市一嘉定（江桥）|市—江桥", "south", "00003", "H31010990001"),
    ("04", "瑞金安亭", "瑞金嘉定（安亭）", "west", "", "H31010190001"),
]
# CHC position -> group suffix (Jiading table, DOMAIN §1.3); 真新 (position 2) moves 01 -> 03
CHC_GROUP = ["01", "02", "01", "01", "03", "02", "01", "01", "04", "04", "02", "04"]
MOVING_CHC, MOVE_FROM, MOVE_TO = 2, "01", "03"
FORMED = date(2021, 1, 1)


def uscc(division: str, serial: int) -> str:
    """A valid 统一社会信用代码 (12 = public institution) with a synthetic org code."""
    from stdnum.cn import uscc as _uscc

    body = f"12{division}{serial:09d}"[:17]
    body = body[:8] + "".join("0123456789ABCDEFGHJKLMNPQRTUWXY"[int(c)] for c in body[8:])
    return body + _uscc.calc_check_digit(body)


@dataclass(frozen=True)
class Institution:
    code: str
    name: str
    inst_type: str  # hospital | chc | station | public_health | lab_centre
    district: str
    division_code: str
    level: str = ""
    grade: str = ""
    parent_code: str = ""
    beds: int = 0
    uscc: str = ""

    @property
    def is_primary_care(self) -> bool:
        return self.inst_type in ("chc", "station")

    @property
    def serial(self) -> str:
        return self.code[-5:]

    def as_row(self) -> dict[str, str]:
        return {"institution_code": self.code, "inst_type": self.inst_type}


@dataclass(frozen=True)
class Membership:
    institution_code: str
    group_code: str
    role: str
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class Practitioner:
    practitioner_id: str
    name: str
    sex_code: str
    institution_code: str
    title: str
    is_gp: bool
    team_id: str = ""
    team_role: str = ""


@dataclass
class District:
    code: str
    name: str
    hospitals: list[Institution]
    chcs: list[Institution]
    stations: list[Institution]
    cdc: Institution
    groups: list[dict[str, str]]
    memberships: list[Membership]
    practitioners: list[Practitioner] = field(default_factory=list)
    teams: list[dict[str, str]] = field(default_factory=list)
    residents: int = 0

    @property
    def institutions(self) -> list[Institution]:
        return [*self.hospitals, *self.chcs, *self.stations, self.cdc]

    @cached_property
    def teams_by_chc(self) -> dict[str, list[dict[str, str]]]:
        out: dict[str, list[dict[str, str]]] = {}
        for t in self.teams:
            out.setdefault(t["institution_code"], []).append(t)
        return out

    @cached_property
    def staff_by_inst(self) -> dict[str, list[Practitioner]]:
        out: dict[str, list[Practitioner]] = {}
        for p in self.practitioners:
            out.setdefault(p.institution_code, []).append(p)
        return out

    @cached_property
    def staff_by_team(self) -> dict[str, list[Practitioner]]:
        out: dict[str, list[Practitioner]] = {}
        for p in self.practitioners:
            if p.team_id:
                out.setdefault(p.team_id, []).append(p)
        return out

    def group_of(self, inst_code: str, day: date) -> str | None:
        """The institution's group as of ``day`` (registry rule, never the file's label)."""
        for m in self.memberships:
            if m.institution_code == inst_code and m.valid_from <= day and (m.valid_to is None or day < m.valid_to):
                return m.group_code
        return None

    def lab_for(self, chc_code: str, day: date) -> Institution:
        """Where a CHC's samples are tested: its group's in-district lead hospital, else hospital 1."""
        grp = self.group_of(chc_code, day)
        for m in self.memberships:
            if m.group_code == grp and m.role == "lead":
                for h in self.hospitals:
                    if h.code == m.institution_code:
                        return h
        return self.hospitals[0]


def _person_name(seed: int, key: str, sex: str) -> str:
    from transforms.synth.people import chinese_name

    return chinese_name(rng(seed, "staff-name", key), sex)


def build_district(seed: int, code: str, scale: str, move_date: date) -> District:
    """One district from the scale template; deterministic for (seed, code, scale, move_date)."""
    cfg = scales()[scale]
    dname = DISTRICT_NAMES[code]
    jd = code == "310114"
    hospitals = []
    for k in range(cfg["hospitals"]):
        name = JIADING_HOSPITALS[k] if jd else f"上海市{dname}{['中心医院', '第二人民医院', '第三人民医院'][k]}"
        level, grade, beds = (("3", "乙", 800) if k == 0 else ("2", "甲", 500 - 100 * k))
        hospitals.append(Institution(f"H{code}{k + 1:05d}", name, "hospital", code, code, level, grade,
                                     "", beds, uscc(code, k + 1)))
    chcs, stations = [], []
    for k in range(cfg["chcs"]):
        base = JIADING_CHCS[k] if jd else f"{dname}第{k + 1}"
        chc = Institution(f"H{code}{101 + k:05d}", f"{base}社区卫生服务中心", "chc", code, code, "1", "",
                          "", 40, uscc(code, 101 + k))
        chcs.append(chc)
        for s in range(cfg["stations_per_chc"]):
            serial = 201 + k * cfg["stations_per_chc"] + s
            stations.append(Institution(f"H{code}{serial:05d}", f"{base}社区卫生服务中心第{s + 1}服务站",
                                        "station", code, code, "", "", chc.code, 0, ""))
    cdc = Institution(f"D{code}00001", f"上海市{dname}疾病预防控制中心", "public_health", code, code,
                      uscc=uscc(code, 90001))
    groups, memberships = [], []
    hosp_by_serial = {h.serial: h for h in hospitals}
    for suffix, jname, aliases, direction, lead_serial, supporting in GROUPS:
        gcode = f"G{code}{suffix}"
        groups.append({"group_code": gcode, "name": jname if jd else f"{dname}第{int(suffix)}医疗集团",
                       "aliases": aliases if jd else "", "group_types": "urban_group",
                       "tightness": "tight", "direction": direction})
        if lead_serial in hosp_by_serial:
            memberships.append(Membership(hosp_by_serial[lead_serial].code, gcode, "lead", FORMED, None))
        memberships.append(Membership(supporting, gcode, "supporting", FORMED, None))
    for k, chc in enumerate(chcs):
        g = CHC_GROUP[k % len(CHC_GROUP)]
        if k == MOVING_CHC:
            memberships.append(Membership(chc.code, f"G{code}{MOVE_FROM}", "member", FORMED, move_date))
            memberships.append(Membership(chc.code, f"G{code}{MOVE_TO}", "member", move_date, None))
        else:
            memberships.append(Membership(chc.code, f"G{code}{g}", "member", FORMED, None))
    d = District(code, dname, hospitals, chcs, stations, cdc, groups, memberships,
                 residents=cfg["residents_per_district"])
    _staff(seed, d, cfg)
    return d


def _staff(seed: int, d: District, cfg: dict) -> None:
    titles = ["主任医师", "副主任医师", "主治医师", "住院医师"]
    per_hosp = max(6, cfg["outpatient_per_hospital"][0] // 60)
    for h in d.hospitals:
        for n in range(per_hosp):
            pid = f"{h.code}D{n + 1:04d}"
            r = rng(seed, "staff", pid)
            sex = r.choice("12")
            d.practitioners.append(Practitioner(pid, _person_name(seed, pid, sex), sex, h.code,
                                                titles[n % 4], False))
    teams_per_chc = max(2, d.residents // len(d.chcs) // 2500)
    roles = [("doctor", "主治医师", True), ("nurse", "主管护师", False),
             ("public_health", "公卫医师", False), ("assistant", "助理", False)]
    for chc in d.chcs:
        for t in range(teams_per_chc):
            tid = f"{chc.code}T{t + 1:03d}"
            lead = f"{chc.code}D{t * 4 + 1:04d}"
            d.teams.append({"team_id": tid, "institution_code": chc.code,
                            "name": f"{chc.name.replace('社区卫生服务中心', '')}家庭医生团队{t + 1}",
                            "lead_practitioner_id": lead})
            for j, (role, title, gp) in enumerate(roles):
                pid = f"{chc.code}D{t * 4 + j + 1:04d}"
                sex = rng(seed, "staff", pid).choice("12")
                d.practitioners.append(Practitioner(pid, _person_name(seed, pid, sex), sex, chc.code,
                                                    title, gp, tid, role))
    for st in d.stations:
        pid = f"{st.code}D0001"
        sex = rng(seed, "staff", pid).choice("12")
        d.practitioners.append(Practitioner(pid, _person_name(seed, pid, sex), sex, st.code, "主治医师", True))


def municipal_hospitals() -> list[Institution]:
    return [Institution(c, n, "hospital", div[:6], div, "3", "甲", "", 1500, uscc(div, 90000 + i))
            for i, (c, n, div) in enumerate(MUNICIPAL)]


def towns(district: str) -> list[dict[str, str]]:
    """9-digit town/street codes (SYNTHETIC below the real 6-digit district code)."""
    if district == "310114":
        return data_csv("towns_310114.csv")
    return [{"code": f"{district}{k:03d}", "name": f"{DISTRICT_NAMES[district]}第{k}街道", "chc": ""}
            for k in range(1, 13)]
