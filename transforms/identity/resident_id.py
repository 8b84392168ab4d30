"""Resident ID numbers (公民身份号码, GB 11643-1999): normalise, upgrade, validate.

Why our own checks on top of ``stdnum.cn.ric``: the MPI needs every reason an ID fails
(checksum, date, sex digit, division), not a single exception, and it must accept what
clerks actually type (full-width digits, a lower-case x, a legacy 15-digit number).
The division check uses python-stdnum's year-tagged GB/T 2260 history, because an ID keeps
the county code that was valid when it was issued.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Literal

IdIssue = Literal[
    "missing", "length", "format", "checksum", "birth_date", "birth_date_future",
    "division", "upgraded_15", "sex_mismatch", "birth_date_mismatch",
]

WEIGHTS: tuple[int, ...] = tuple(pow(2, 17 - i, 11) for i in range(17))
CHECK_CHARS = "10X98765432"


def normalise(raw: str | None) -> str | None:
    """Full-width to ASCII (NFKC), drop spaces and separators, upper-case the check x."""
    if raw is None:
        return None
    text = unicodedata.normalize("NFKC", str(raw))
    text = "".join(ch for ch in text if not ch.isspace() and ch not in "-_")
    return text.upper() or None


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def upgrade_15(id15: str) -> str:
    """Legacy 15-digit ID → 18 digits: insert '19' before the 2-digit year, append the check."""
    if len(id15) != 15 or not id15.isdigit():
        raise ValueError(f"not a 15-digit resident ID: {id15!r}")
    body = id15[:6] + "19" + id15[6:]
    return body + check_char(body)


@lru_cache(maxsize=1)
def _division_db():  # noqa: ANN202 - stdnum's numdb object
    from stdnum import numdb

    return numdb.get("cn/loc")


@lru_cache(maxsize=65536)
def division_valid(code6: str, year: int) -> bool:
    """True when ``code6`` was a GB/T 2260 county code in ``year`` (python-stdnum history)."""
    results = _division_db().info(code6)
    info = {k: v for _, props in results for k, v in props.items()}
    if not info.get("county"):
        return False
    for county in info["county"].split(","):
        if not county.startswith("["):
            return True
        span = county[1:].split("]")[0]
        start, _, end = span.partition("-")
        if (not start or year >= int(start)) and (not end or year <= int(end)):
            return True
    return False


@dataclass(frozen=True)
class IdCheck:
    """The outcome of checking one submitted ID. ``id18`` is set only when the ID is usable."""

    submitted: str | None
    id18: str | None
    valid: bool
    upgraded_from_15: bool = False
    birth_date: date | None = None
    sex_code: str | None = None  # GB/T 2261.1 from the sequence digit: '1' male, '2' female
    division: str | None = None
    issues: tuple[IdIssue, ...] = field(default_factory=tuple)


def check(raw: str | None, today: date | None = None) -> IdCheck:
    """Validate one resident ID; every failed rule is listed in ``issues``."""
    number = normalise(raw)
    if not number:
        return IdCheck(raw, None, False, issues=("missing",))
    issues: list[IdIssue] = []
    upgraded = False
    if len(number) == 15:
        if not number.isdigit():
            return IdCheck(raw, None, False, issues=("format",))
        number = upgrade_15(number)
        upgraded = True
        issues.append("upgraded_15")
    if len(number) != 18:
        return IdCheck(raw, None, False, issues=("length",))
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return IdCheck(raw, None, False, issues=("format",))
    if check_char(number[:17]) != number[17]:
        issues.append("checksum")
    birth: date | None
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        birth = None
        issues.append("birth_date")
    if birth and birth > (today or date.today()):
        issues.append("birth_date_future")
    if birth and not division_valid(number[:6], birth.year):
        issues.append("division")
    sex = "1" if int(number[16]) % 2 == 1 else "2"
    hard = {"checksum", "birth_date", "birth_date_future", "division"}
    ok = not hard.intersection(issues)
    return IdCheck(
        raw, number if ok else None, ok, upgraded, birth, sex, number[:6], tuple(issues)
    )


def cross_check(result: IdCheck, sex_std: str | None, birth_date: date | None) -> tuple[IdIssue, ...]:
    """Disagreements between what the ID encodes and the submitted sex and birth date."""
    out: list[IdIssue] = []
    if result.sex_code and sex_std in ("1", "2") and sex_std != result.sex_code:
        out.append("sex_mismatch")
    if result.birth_date and birth_date and birth_date != result.birth_date:
        out.append("birth_date_mismatch")
    return tuple(out)
