"""Validate each resource once: our required-binding check, then the R4B pydantic model.

Why both: fhir.resources checks structure and datatypes but not code bindings (it accepts
``status="bogus"``). Why ``model_validate`` on the dict: the builders already produce JSON
dicts, so one validation pass is all that is needed; we write our own dict afterwards rather
than construct + serialise the model (which would roughly double the cost).

Sampling: ``RHP_FHIR_VALIDATE_SAMPLE`` (a fraction in (0, 1], default 1 = every resource).
The binding check always runs; only the model pass is sampled, by a hash of the resource
id so that the same resources are checked on a rerun. The stage report states the rate.
"""

from __future__ import annotations

import os
import zlib
from functools import lru_cache
from typing import Any

from transforms.fhir.errors import InvalidResource
from transforms.fhir.values import required_bindings

SAMPLE_ENV = "RHP_FHIR_VALIDATE_SAMPLE"


@lru_cache(maxsize=64)
def model_class(resource_type: str) -> Any:
    """The R4B model class (never the package-default R5 one)."""
    from fhir.resources.R4B import get_fhir_model_class

    return get_fhir_model_class(resource_type)


def sample_rate() -> float:
    """The configured model-validation sample rate; a bad value is an error, not a silent 1."""
    raw = os.environ.get(SAMPLE_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        rate = float(raw)
    except ValueError:
        raise ValueError(f"{SAMPLE_ENV}={raw!r} is not a number in (0, 1]") from None
    if not 0 < rate <= 1:
        raise ValueError(f"{SAMPLE_ENV}={raw!r} must be in (0, 1]")
    return rate


def selected(resource_id: str, rate: float) -> bool:
    """Deterministic sampling by id (crc32), so reruns validate the same resources."""
    return rate >= 1 or (zlib.crc32(resource_id.encode()) % 10_000) < rate * 10_000


def check_bindings(resource: dict[str, Any]) -> None:
    rtype = resource.get("resourceType", "?")
    for element, allowed in required_bindings().get(rtype, {}).items():
        v = resource.get(element)
        if v is not None and v not in allowed:
            raise InvalidResource(f"fhir.{rtype}.binding.{element}", rtype, resource.get("id"),
                                  f"{element}={v!r} is not in the required value set {allowed}")


def validate_resource(resource: dict[str, Any], rate: float = 1.0) -> bool:
    """Raise InvalidResource naming the resource and the error; return whether the model ran."""
    rtype = resource.get("resourceType")
    if not rtype:
        raise InvalidResource("fhir.no_resource_type", "?", resource.get("id"), "resource has no resourceType")
    check_bindings(resource)
    if not selected(str(resource.get("id", "")), rate):
        return False
    try:
        model_class(rtype).model_validate(resource)
    except Exception as exc:  # pydantic.ValidationError or unknown resource type
        msg = " ".join(str(exc).split())[:500]
        raise InvalidResource(f"fhir.{rtype}.invalid", rtype, resource.get("id"), msg) from None
    return True
