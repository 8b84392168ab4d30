"""The pseudonymous person key and the deterministic links that produce it.

Why a keyed HMAC and not a plain hash: resident IDs have so little entropy (division ×
birth date × 1000) that an unkeyed SHA-256 can be reversed by enumeration in minutes. With
the key held outside the repository (``transforms.settings.pseudonym_key``), the key is
stable across institutions and sources, yet useless to anyone without the key.

Link methods, strongest first: a valid 18-digit ID; a legacy 15-digit ID upgraded to 18
(the same key as its 18-digit form, so both link); demographics (normalised name + sex +
birth date + phone digits, all four required); the institution's own patient id (links
only inside that institution); otherwise unlinked (no key).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from datetime import date
from typing import Literal

LinkMethod = Literal["id_number", "id_number_upgraded_15", "demographic", "local_id", "unlinked"]


def hmac_hex(key: bytes, namespace: str, value: str) -> str:
    """HMAC-SHA256 of ``namespace:value`` as 64 hex characters."""
    return hmac.new(key, f"{namespace}:{value}".encode(), hashlib.sha256).hexdigest()


def id_key(key: bytes, id18: str) -> str:
    """The person key of a validated 18-digit resident ID."""
    return hmac_hex(key, "id", id18)


def norm_name(name: str | None) -> str | None:
    """Name for matching: NFKC, no spaces or middle dots, upper-cased Latin letters."""
    if not isinstance(name, str) or not name:  # None, NaN from a blank cell, numbers
        return None
    text = unicodedata.normalize("NFKC", name)
    text = re.sub(r"[\s·•.\-]", "", text).upper()
    return text or None


def norm_phone(phone: str | None) -> str | None:
    """Phone digits only, without a leading +86/0086 country code."""
    if not isinstance(phone, str) or not phone:
        return None
    digits = re.sub(r"\D", "", unicodedata.normalize("NFKC", phone))
    digits = re.sub(r"^(0086|86)(?=1\d{10}$)", "", digits)
    return digits or None


def demographic_link_value(
    name: str | None, sex: str | None, birth: date | None, phone: str | None
) -> str | None:
    """The deterministic demographic match string, or None when any part is missing."""
    parts = [norm_name(name), sex if sex in ("1", "2") else None, birth.isoformat() if birth else None,
             norm_phone(phone)]
    if any(p is None for p in parts):
        return None
    return "|".join(parts)  # type: ignore[arg-type]


def demographic_hash(key: bytes, value: str) -> str:
    """Hash of the demographic match string (the link table's key, never the clear text)."""
    return hmac_hex(key, "demo", value)


def local_key(key: bytes, institution: str, local_id: str) -> str:
    """A key scoped to one institution's patient id (no cross-institution linking)."""
    return hmac_hex(key, "local", f"{institution}|{local_id}")


def mask_name(name: str | None) -> str | None:
    """张三明 → 张*明, 张三 → 张*, 欧阳娜娜 → 欧**娜; Latin names keep the first letter only."""
    if not isinstance(name, str) or not name:
        return None
    text = unicodedata.normalize("NFKC", name).strip()
    if not text:
        return None
    if text.isascii():
        return text[0] + "***"
    if len(text) == 1:
        return "*"
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


def age_at(birth: date | None, when: date | None) -> int | None:
    """Completed years at ``when``."""
    if birth is None or when is None:
        return None
    return when.year - birth.year - ((when.month, when.day) < (birth.month, birth.day))
