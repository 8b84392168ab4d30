"""Platform value domains mapped to FHIR codes, read from mappings/fhir/value_maps.yaml.

The YAML is the single place where a local code meets a FHIR code; code here only looks up.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import yaml

from transforms.settings import MAPPINGS_DIR

VALUE_MAPS_FILE = MAPPINGS_DIR / "fhir" / "value_maps.yaml"


@lru_cache(maxsize=1)
def value_maps() -> dict[str, Any]:
    """The whole value-map file (cached: it is read once per process)."""
    return yaml.safe_load(VALUE_MAPS_FILE.read_text(encoding="utf-8"))


def lookup(domain: str, code: object) -> Any:
    """Map ``code`` in ``domain``; None when the code is absent or not in the map."""
    if code is None or code == "":
        return None
    return value_maps()[domain].get(str(code))


def reverse(domain: str) -> dict[str, str]:
    """FHIR code -> first platform code, for reading FHIR-native submissions back."""
    out: dict[str, str] = {}
    for local, fhir in value_maps()[domain].items():
        key = fhir["code"] if isinstance(fhir, dict) else fhir
        out.setdefault(str(key), str(local))
    return out


def required_bindings() -> dict[str, dict[str, list[str]]]:
    return value_maps()["required_bindings"]
