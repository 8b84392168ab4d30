"""Residents, derived lazily from (seed, district, index): nothing is held in memory.

A resident's demographics, ID number, health record and signing contract are pure
functions of the key, so any visit on any day can re-derive the same person.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from transforms.synth.refdata import data_csv
from transforms.synth.rng import Weighted, h64, rng

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# age band (start) -> weight, roughly the shape of Shanghai's registered population
_AGE_BANDS = Weighted([0, 7, 15, 25, 35, 45, 55, 65, 75, 85],
                      [5.5, 6, 8, 12, 14, 14, 15, 14, 8, 3.5])
_ETHNIC = Weighted(["01", "03", "04", "05", "08", "11", "02"], [95.5, 1, 0.8, 0.6, 0.5, 0.8, 0.8])
_MARITAL = ["10", "20", "30", "40"]  # GB/T 2261.2: 未婚, 已婚, 丧偶, 离婚


def check_char(body17: str) -> str:
    """ISO 7064 MOD 11-2 check character of an 18-digit resident ID (DOMAIN §4.3)."""
    return "10X98765432"[sum(int(c) * w for c, w in zip(body17, _WEIGHTS, strict=True)) % 11]


@cache
def _surnames() -> Weighted:
    rows = data_csv("surnames.csv")
    return Weighted([r["surname"] for r in rows], [float(r["weight"]) for r in rows])


@cache
def _given(sex: str) -> Weighted:
    rows = data_csv("given_chars.csv")
    col = "male" if sex == "1" else "female"
    rows = [r for r in rows if float(r[col]) > 0]
    return Weighted([r["char"] for r in rows], [float(r[col]) for r in rows])


def chinese_name(r: random.Random, sex: str) -> str:
    g = _given(sex)
    given = g.pick(r) + (g.pick(r) if r.random() < 0.7 else "")
    return _surnames().pick(r) + given


@cache
def _birthplaces(year: int) -> Weighted:
    """Birth-place codes valid in ``year`` (python-stdnum's GB/T 2260 history)."""
    from stdnum import numdb

    items, weights = [], []
    for row in data_csv("birthplaces.csv"):
        county = numdb.get("cn/loc").info(row["code"])[-1][1].get("county", "")
        ok = False
        for part in county.split(","):
            if not part.startswith("["):
                ok = True
                break
            start, end = part[1:].split("]")[0].split("-")
            if (not start or year >= int(start)) and (not end or year <= int(end)):
                ok = True
                break
        if ok:
            items.append(row["code"])
            weights.append(float(row["weight"]))
    return Weighted(items, weights)


@dataclass(frozen=True)
class Person:
    seed: int
    district: str
    index: int
    sex: str  # GB/T 2261.1: 1 male, 2 female
    birth_date: date
    id_number: str
    name: str
    phone: str
    ethnicity: str
    marital: str
    town_code: str
    address: str
    htn: bool
    dm: bool
    pregnant: bool
    rare_flag: str  # tb | smi | disabled | ""
    has_record: bool
    record_created: date
    record_open: bool
    signed: bool
    contract_start: date
    contract_years: int
    paid: bool

    def age_on(self, day: date) -> int:
        return day.year - self.birth_date.year - ((day.month, day.day) < (self.birth_date.month, self.birth_date.day))

    def key_populations(self, day: date) -> list[str]:
        age = self.age_on(day)
        out = []
        if age <= 6:
            out.append("child0_6")
        if age >= 65:
            out.append("elderly65")
        if self.pregnant:
            out.append("pregnant")
        if self.htn:
            out.append("htn")
        if self.dm:
            out.append("dm")
        if self.rare_flag:
            out.append(self.rare_flag)
        return out

    @property
    def record_no(self) -> str:
        """17-digit health-record number: 6-digit district + 11-digit serial."""
        return f"{self.district}{self.index:011d}"

    def local_id(self, institution: str) -> str:
        """The institution's own patient id for this resident (differs per institution)."""
        return f"P{h64(self.seed, 'pid', institution, self.district, self.index) % 10**10:010d}"

    def contract_end(self) -> date:
        return self.contract_start.replace(year=self.contract_start.year + self.contract_years) - timedelta(days=1)


def person(seed: int, district: str, index: int, ref: date, towns: list[dict[str, str]]) -> Person:
    """Derive resident ``index`` of ``district``; ``ref`` (the run's start date) anchors ages."""
    r = rng(seed, "person", district, index)
    sex = "1" if r.random() < 0.49 else "2"
    band = _AGE_BANDS.pick(r)
    width = {0: 7, 85: 15}.get(band, 8 if band == 7 else 10)
    age_days = int((band + r.random() * width) * 365.25)
    birth = ref - timedelta(days=max(1, age_days))
    seq = r.randrange(0, 499) * 2 + (1 if sex == "1" else 2)
    body = f"{_birthplaces(birth.year).pick(r)}{birth:%Y%m%d}{seq:03d}"
    idn = body + check_char(body)
    age = age_days // 365
    htn = age >= 35 and r.random() < min(0.6, (age - 30) / 90)
    dm = age >= 35 and r.random() < min(0.25, (age - 30) / 220)
    pregnant = sex == "2" and 20 <= age <= 40 and r.random() < 0.04
    rare = r.choices(["", "tb", "smi", "disabled"], [97, 0.3, 0.7, 2])[0]
    town = towns[index % len(towns)]
    addr = f"{town['name']}{r.choice('东西南北')}{r.choice(['环路', '大街', '公路', '路'])}{r.randint(1, 999)}弄{r.randint(1, 60)}号{r.randint(101, 1802)}室"
    key = age >= 65 or age <= 6 or htn or dm or pregnant or bool(rare)
    has_record = r.random() < (0.97 if key else 0.88)
    created = ref - timedelta(days=r.randint(30, min(5000, max(31, age_days))))
    signed = r.random() < (0.75 if key else 0.25)
    years = r.choice([1, 1, 2, 3])
    start = ref - timedelta(days=r.randint(0, 365 * years - 1))
    return Person(seed, district, index, sex, birth, idn, chinese_name(r, sex),
                  f"1{r.choice('3456789')}{r.randrange(10**9):09d}", _ETHNIC.pick(r),
                  _MARITAL[0] if age < 24 else r.choices(_MARITAL, [8, 80, 7, 5])[0],
                  town["code"], addr, htn, dm, pregnant, rare, has_record, created,
                  r.random() < 0.6, signed, start, years, r.random() < 0.27)
