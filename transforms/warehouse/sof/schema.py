"""FHIR R4B element cardinality and types, read from the fhir.resources (R4B) models.

Why: knowing that ``Encounter.period`` and ``Period.start`` are single-valued lets the
compiler emit a plain JSON path instead of iterating a collection (several times faster),
and lets it reject at compile time a non-collection column whose path is 0..* (the spec's
"collection must be true" error) or a where() path that is not boolean. Unknown types or
elements return None and the compiler falls back to the schema-free, always-correct form.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

_COMPLEX = re.compile(r"\b(?:abc|fhirtypes)\.(\w+?)Type\b")
_PRIMITIVE_MARK = re.compile(r"Annotated\[[\w.]+, (\w+)\(")
_PYTHON_PRIMITIVE = {"str": "string", "bool": "boolean", "int": "integer", "float": "decimal", "Decimal": "decimal"}


@dataclass(frozen=True)
class Element:
    is_list: bool
    type: str  # FHIR type name: 'Period', 'string', 'dateTime', 'EncounterParticipant', ...


@lru_cache(maxsize=512)
def _fields(type_name: str) -> dict[str, object] | None:
    if not type_name[:1].isupper():
        return None  # primitives have no child elements
    try:
        from fhir.resources.R4B import get_fhir_model_class

        model = get_fhir_model_class(type_name)
    except Exception:  # unknown type name: no schema knowledge, not an error
        return None
    return {(f.alias or name): f.annotation for name, f in model.model_fields.items()}


def _type_of(annotation: object) -> str | None:
    text = str(annotation)
    m = _COMPLEX.search(text)
    if m:
        return m.group(1)
    m = _PRIMITIVE_MARK.search(text)
    if m:
        mark = m.group(1)
        return mark[0].lower() + mark[1:]
    for py, fhir in _PYTHON_PRIMITIVE.items():
        if re.search(rf"\b{py}\b", text):
            return fhir
    return None


@lru_cache(maxsize=4096)
def element(type_name: str | None, name: str) -> Element | None:
    """Cardinality and type of ``type_name.name`` in FHIR R4B, or None when not known."""
    if not type_name:
        return None
    fields = _fields(type_name)
    if not fields or name not in fields:
        return None
    ann = fields[name]
    child = _type_of(ann)
    if child is None:
        return None
    return Element(is_list="List[" in str(ann), type=child)


def choice_types(type_name: str | None, name: str) -> list[str]:
    """The typed forms of a choice element (``value`` → ['valueQuantity', ...]); [] when not a choice."""
    fields = _fields(type_name) if type_name else None
    if not fields or name in fields:
        return []
    return sorted(f for f in fields if f.startswith(name) and f[len(name):][:1].isupper())
