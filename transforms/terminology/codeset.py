"""The unified code set in memory: target code systems, value domains, concept maps, units.

Everything is read from a mappings folder (``RHP_MAPPINGS`` or the repo's ``mappings/``), so
tests and the re-map run can work on a copy. The loaded set is cached per folder and file
fingerprint: a concept map edited by ``suggest --accept`` is picked up on the next call.
"""

from __future__ import annotations

import os
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

from transforms.settings import MAPPINGS_DIR
from transforms.terminology.models import (
    CodeSystem,
    Concept,
    ConceptMapRow,
    load_code_system_files,
    load_concept_map,
)
from transforms.terminology.units import UnitTable, load_units


def mappings_dir() -> Path:
    """The mappings folder in use: ``RHP_MAPPINGS`` (tests, staging) or the repository's."""
    return Path(os.environ.get("RHP_MAPPINGS") or MAPPINGS_DIR)


def _token(value: str) -> str:
    return unicodedata.normalize("NFKC", value).strip().casefold()


@dataclass(frozen=True)
class CodedField:
    table: str
    field: str
    kind: str
    display: str | None


@dataclass
class CodeSet:
    """Lookups over one mappings folder."""

    root: Path
    systems: dict[str, CodeSystem]
    maps: dict[tuple[str, str], dict[str, ConceptMapRow]]  # (kind, dictionary) -> local code -> row
    map_versions: dict[tuple[str, str], str]
    coded_fields: list[CodedField]
    units: UnitTable
    _domain_index: dict[str, dict[str, Concept]] = field(default_factory=dict)
    _target_index: dict[tuple[str, str], Concept] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, cs in self.systems.items():
            if cs.kind == "value_domain":
                idx: dict[str, Concept] = {}
                for c in cs.concepts:  # code wins over display, display over alias
                    for tok in c.alias_list:
                        idx.setdefault(_token(tok), c)
                for c in cs.concepts:
                    idx[_token(c.display)] = c
                for c in cs.concepts:
                    idx[_token(c.code)] = c
                self._domain_index[name] = idx
            for c in cs.concepts:
                self._target_index[(cs.system, c.code)] = c

    def domain(self, name: str) -> CodeSystem:
        return self.systems[name]

    def lookup_domain(self, name: str, value: str | None) -> Concept | None:
        """A local value (code, display or alias, any case/width) → the domain concept."""
        if value is None or not str(value).strip():
            return None
        return self._domain_index[name].get(_token(str(value)))

    def target(self, system: str, code: str) -> Concept | None:
        return self._target_index.get((system, code))

    def domain_fields(self) -> dict[tuple[str, str], str]:
        """(table, field) → value-domain name."""
        out = {}
        for name, cs in self.systems.items():
            for tf in cs.fields:
                t, _, f = tf.partition(".")
                out[(t, f)] = name
        return out

    def concept_map(self, kind: str, dictionary: str) -> dict[str, ConceptMapRow]:
        return self.maps.get((kind, dictionary), {})

    def map_path(self, kind: str, dictionary: str) -> Path:
        return self.root / "concept_maps" / kind / f"{dictionary}.csv"


def _fingerprint(root: Path) -> tuple:
    files = sorted(list(root.glob("concept_maps/*/*.csv")) + list(root.glob("codesystems/**/*"))
                   + [root / "units.csv"])
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.is_file())


def load_codeset(root: Path | None = None) -> CodeSet:
    """The code set of ``root`` (default: ``mappings_dir()``), cached until a file changes."""
    root = Path(root or mappings_dir()).resolve()
    return _load(root, _fingerprint(root))


@lru_cache(maxsize=4)
def _load(root: Path, _fp: tuple) -> CodeSet:
    systems = load_code_system_files(root / "codesystems")
    maps: dict[tuple[str, str], dict[str, ConceptMapRow]] = {}
    versions: dict[tuple[str, str], str] = {}
    for path in sorted(root.glob("concept_maps/*/*.csv")):
        kind, dictionary = path.parent.name, path.stem
        rows = load_concept_map(path)
        maps[(kind, dictionary)] = {r.source_code: r for r in rows}
        versions[(kind, dictionary)] = max((r.map_version for r in rows),
                                           key=lambda v: tuple(int(x) for x in v.split(".")), default="")
    spec = yaml.safe_load((root / "codesystems" / "coded_fields.yaml").read_text(encoding="utf-8")) or {}
    coded = []
    for tf, meta in spec.items():
        t, _, f = tf.partition(".")
        coded.append(CodedField(t, f, meta["kind"], meta.get("display")))
    return CodeSet(root, systems, maps, versions, coded, load_units(root / "units.csv"))
