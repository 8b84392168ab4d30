"""Cell values as read: null, not applicable, or a string; and PII masking for quarantine.

Why a marker for "/": DOMAIN §7.2 keeps three states apart — a value, *not applicable*
(e.g. a CHC without beds) and *missing*. Coercing "/" to 0 or to empty would erase the
difference, so ingest writes every spelling of it as the ``NOT_APPLICABLE`` marker and
standardise decides.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from transforms.canonical import table as canonical_table
from transforms.sources.profile import FileSpec

# Raw-layer marker for every ``not_applicable_values`` spelling ("/", "不适用", ...): the
# canonical "/" that standardise (``transforms.standardise.casting.NOT_APPLICABLE``) reads as
# *not applicable* — never 0, never null.
NOT_APPLICABLE = "/"


def clean(value: object, spec: FileSpec) -> str | None:
    """One vendor cell → ``None`` (missing), ``NOT_APPLICABLE`` or the stripped string."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    text = text.strip()
    if text in spec.not_applicable_values:
        return NOT_APPLICABLE
    if text in spec.null_values:
        return None
    return text


def canonical_values(spec: FileSpec, vendor: Mapping[str, object]) -> dict[str, str | None]:
    """Map vendor key → canonical field through ``spec.columns``, then apply constants."""
    return ColumnMapper(spec).from_mapping(vendor)


class ColumnMapper:
    """``canonical_values`` compiled once per file: the per-row hot path of every reader."""

    def __init__(self, spec: FileSpec, header: list[str] | None = None):
        self.fields = canonical_table(spec.table).field_names
        self.columns = list(spec.columns.items())
        self.constants = dict(spec.constants)
        self.na, self.null = frozenset(spec.not_applicable_values), frozenset(spec.null_values)
        idx = {h: i for i, h in enumerate(header or [])}
        self.positions = [(idx[k], t) for k, t in self.columns if k in idx]

    def _clean(self, value: object) -> str | None:
        if value is None:
            return None
        text = (value if isinstance(value, str) else str(value)).strip()
        if text in self.na:
            return NOT_APPLICABLE
        return None if text in self.null else text

    def from_mapping(self, vendor: Mapping[str, object]) -> dict[str, str | None]:
        out: dict[str, str | None] = dict.fromkeys(self.fields)
        na, null = self.na, self.null
        for key, target in self.columns:  # ``_clean`` inlined: this runs per field of every JSON/HL7 row
            if key in vendor:
                v = vendor[key]
                if v is None:
                    out[target] = None
                    continue
                text = (v if isinstance(v, str) else str(v)).strip()
                out[target] = NOT_APPLICABLE if text in na else (None if text in null else text)
        out.update(self.constants)
        return out

    def from_cells(self, cells: list) -> dict[str, str | None]:
        """Positional variant for CSV/XLSX rows laid out as ``header``."""
        out: dict[str, str | None] = dict.fromkeys(self.fields)
        na, null = self.na, self.null
        for i, target in self.positions:
            v = cells[i]
            if v is None:
                continue
            text = (v if isinstance(v, str) else str(v)).strip()
            out[target] = NOT_APPLICABLE if text in na else (None if text in null else text)
        out.update(self.constants)
        return out


def pii_keys(spec: FileSpec) -> set[str]:
    """Vendor keys that feed a PII canonical field (masked in quarantine)."""
    tab = canonical_table(spec.table)
    return {k for k, target in spec.columns.items() if tab.get(target).pii}


def mask(text: str) -> str:
    """Keep the first and last character, star the rest (``张*明``, ``1*******X``)."""
    if len(text) <= 1:
        return "*" * len(text)
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


def masked_json(record: Mapping[str, object], pii: Iterable[str]) -> str:
    """The raw record as JSON with PII values masked (the quarantine ``raw_record``)."""
    hidden = set(pii)
    out = {}
    for k, v in record.items():
        out[k] = mask(str(v)) if (k in hidden and v not in (None, "")) else v
    return json.dumps(out, ensure_ascii=False, default=str)
