"""Validate each resource once: our required-binding check, then the R4B pydantic model.

Why both: fhir.resources checks structure and datatypes but not code bindings (it accepts
``status="bogus"``). Why ``model_validate`` on the dict: the builders already produce JSON
dicts, so one validation pass is all that is needed; we write our own dict afterwards rather
than construct + serialise the model (which would roughly double the cost).

Sampling: ``RHP_FHIR_VALIDATE_SAMPLE`` (a fraction in (0, 1], default 1 = every resource).
The binding check always runs; only the model pass is sampled, by a hash of the resource
id so that the same resources are checked on a rerun. The stage report states the rate.

Speed (``ElementCache``): most of the model pass is spent in fhir.resources' Python validators
of the small complex elements (Reference, Coding, Extension, ...), and a partition repeats the
same elements over and over (the institution reference four times per lab Observation, the
same codes, the batch and file of the lineage). fhir.resources validates a complex element
on its own (``Type.model_validate(element_dict)``, independent of where it sits) and accepts
an instance of the element's model class as already validated. So each distinct element is
validated once and its model instance reused for equal content (same model class, same JSON
text); the resource-level model pass still runs for every resource. A failing resource is
validated again the plain way, so its error message is exactly the plain one.
"""

from __future__ import annotations

import json
import os
import types
import typing
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


def _complex_field(annotation: Any) -> tuple[Any, bool] | None:
    """(model class, is a list) for a field typed as one FHIR complex element type, else None.

    Fields typed as any Resource (``contained``) are left to the model: their class depends
    on the value.
    """
    from fhir_core.types import FhirBase, FhirElementOrResourceBase

    t, is_list = annotation, False
    for _ in range(4):
        origin = typing.get_origin(t)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not type(None)]
            if len(args) != 1:
                return None
            t = args[0]
        elif origin is list:
            t, is_list = typing.get_args(t)[0], True
        else:
            break
    if isinstance(t, type) and issubclass(t, FhirBase) and not issubclass(t, FhirElementOrResourceBase):
        return t.get_model_klass(), is_list
    return None


@lru_cache(maxsize=512)
def element_fields(cls: Any) -> dict[str, tuple[Any, bool]]:
    """JSON name -> (element model class, is a list) for every complex-typed field of ``cls``."""
    out = {}
    for name, f in cls.model_fields.items():
        spec = _complex_field(f.annotation)
        if spec is not None:
            out[f.alias or name] = spec
    return out


_key = json.JSONEncoder(check_circular=False, separators=(",", ":")).encode  # bool/int/float stay distinct


class ElementCache:
    """Validated complex elements by (model class, JSON text), per process (bounded).

    A field whose elements hardly repeat (ids, line numbers) stops being looked up after
    ``PROBE`` elements, so unique content neither costs a key nor fills the cache; its
    children (e.g. the batch inside a Provenance entity) are still cached.
    """

    PROBE, MIN_HIT_RATE = 2_000, 0.05

    def __init__(self, max_entries: int = 50_000) -> None:
        self.max_entries = max_entries
        self.elements: dict[tuple[Any, str], Any] = {}
        self.lookups: dict[tuple[Any, str], list[int]] = {}  # (parent class, field) -> [lookups, hits]
        self.hits = self.misses = 0

    def prepare(self, cls: Any, data: dict[str, Any]) -> dict[str, Any]:
        """A shallow copy of ``data`` with each complex element replaced by its validated instance."""
        fields = element_fields(cls)
        out = None
        for k, v in data.items():
            spec = fields.get(k)
            if spec is None:
                continue
            sub, is_list = spec
            if is_list:
                if type(v) is not list:
                    continue
                nv: Any = [self.element(cls, k, sub, x) if type(x) is dict else x for x in v]
            elif type(v) is dict:
                nv = self.element(cls, k, sub, v)
            else:
                continue
            if out is None:
                out = dict(data)
            out[k] = nv
        return data if out is None else out

    def element(self, parent: Any, field: str, sub: Any, item: dict[str, Any]) -> Any:
        stat = self.lookups.get((parent, field))
        if stat is None:
            stat = self.lookups[(parent, field)] = [0, 0]
        if stat[0] >= self.PROBE and stat[1] < self.MIN_HIT_RATE * stat[0]:
            return sub.model_validate(self.prepare(sub, item))  # unique content: validate, keep nothing
        stat[0] += 1
        key = (sub, _key(item))
        m = self.elements.get(key)
        if m is not None:
            stat[1] += 1
            self.hits += 1
            return m
        self.misses += 1
        m = sub.model_validate(self.prepare(sub, item))
        if len(self.elements) >= self.max_entries:
            self.elements.clear()
        self.elements[key] = m
        return m


_SHARED: ElementCache | None = None


def shared_cache() -> ElementCache:
    """The ElementCache of this process, kept across partitions (bounded by ``max_entries``).

    Why per process: a city day has ~1,300 partitions, many of them small, and a cache per
    partition started cold in each; the elements (institution references, codes, lineage
    batches) repeat across partitions of the same worker just as much.
    """
    global _SHARED
    if _SHARED is None:
        _SHARED = ElementCache()
    return _SHARED


def _model_pass(rtype: str, resource: dict[str, Any], cache: ElementCache | None) -> None:
    cls = model_class(rtype)
    if cache is not None:
        try:
            cls.model_validate(cache.prepare(cls, resource))
            return
        except Exception:  # noqa: S110 - validated again below, for the plain error message
            pass
    cls.model_validate(resource)


def validate_resource(resource: dict[str, Any], rate: float = 1.0, cache: ElementCache | None = None) -> bool:
    """Raise InvalidResource naming the resource and the error; return whether the model ran.

    With ``cache``, repeated complex elements are validated once (see ``ElementCache``).
    """
    rtype = resource.get("resourceType")
    if not rtype:
        raise InvalidResource("fhir.no_resource_type", "?", resource.get("id"), "resource has no resourceType")
    check_bindings(resource)
    if not selected(str(resource.get("id", "")), rate):
        return False
    try:
        _model_pass(rtype, resource, cache)
    except Exception as exc:  # pydantic.ValidationError or unknown resource type
        msg = " ".join(str(exc).split())[:500]
        raise InvalidResource(f"fhir.{rtype}.invalid", rtype, resource.get("id"), msg) from None
    return True
