"""Mapping suggestions for unmapped local codes, and the reviewed ``--accept`` that lands one.

Why characters + pinyin: local dictionaries abbreviate, reorder and mistype Chinese names;
character-level fuzzy matching catches reordering and dropped characters, pinyin catches
homophone typos (e.g. 肌酐 / 肌干), and a small reviewed synonym list
(``mappings/codesystems/synonyms.csv``) catches names that share no characters (血糖 ↔ 葡萄糖).
A suggestion is never applied automatically: a reviewer accepts it, which appends a row to the
concept-map CSV with a bumped ``map_version`` and the reviewer's name.

    python -m transforms.terminology.suggest --dictionary lis_c --kind lab [--top 5]
    python -m transforms.terminology.suggest --dictionary lis_c --kind lab --accept C205=2823-3 --reviewer wang
"""

from __future__ import annotations

import argparse
import csv
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from transforms.terminology.codeset import CodeSet, load_codeset
from transforms.terminology.models import CodeSystem, ConceptMapRow, TerminologyFileError, load_concept_map


@dataclass(frozen=True)
class Candidate:
    code: str
    display: str
    score: float  # 0-100


def load_synonyms(path: Path) -> list[tuple[str, str]]:
    if not path.is_file():
        return []
    with path.open(encoding="utf-8-sig", newline="") as fh:
        return [(r["term"].strip(), r["synonym"].strip()) for r in csv.DictReader(fh) if r.get("term")]


def _norm(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().upper()


@lru_cache(maxsize=4096)
def _pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text))


def _variants(display: str, synonyms: list[tuple[str, str]]) -> list[str]:
    """The display plus every rewrite of a known synonym into its national term."""
    text = _norm(display)
    out = [text]
    for term, syn in synonyms:
        s = _norm(syn)
        if s and s in text:
            out.append(text.replace(s, _norm(term)))
    return out


def score(query: str, target: str) -> float:
    """0.6 × character similarity + 0.4 × pinyin similarity (rapidfuzz WRatio, 0-100)."""
    from rapidfuzz import fuzz

    q, t = _norm(query), _norm(target)
    return 0.6 * fuzz.WRatio(q, t) + 0.4 * fuzz.WRatio(_pinyin(q), _pinyin(t))


def suggest(display: str, system: CodeSystem, synonyms: list[tuple[str, str]], top: int = 5) -> list[Candidate]:
    """Top candidates of ``system`` for a local display name, best first."""
    variants = _variants(display, synonyms)
    scored = []
    for c in system.concepts:
        best = max(score(v, c.display) for v in variants)
        scored.append(Candidate(c.code, c.display, round(best, 1)))
    scored.sort(key=lambda c: (-c.score, c.code))
    return scored[:top]


def target_system(cs: CodeSet, kind: str) -> CodeSystem:
    for system in cs.systems.values():
        if system.kind == kind:
            return system
    raise KeyError(f"no target code system for kind {kind!r} in {cs.root / 'codesystems' / '_index.yaml'}")


def bump_version(version: str) -> str:
    """'2026.1' → '2026.2'."""
    year, _, minor = version.partition(".")
    return f"{year}.{int(minor or 0) + 1}"


def accept(cs: CodeSet, kind: str, dictionary: str, local_code: str, target_code: str, reviewer: str,
           local_display: str = "", equivalence: str = "equivalent") -> ConceptMapRow:
    """Append one reviewed mapping to ``concept_maps/<kind>/<dictionary>.csv`` (validated first)."""
    path = cs.map_path(kind, dictionary)
    system = target_system(cs, kind)
    concept = system.by_code().get(target_code)
    if concept is None:
        raise ValueError(f"{target_code!r} is not a code of {system.name} ({system.system})")
    rows = load_concept_map(path) if path.is_file() else []
    if any(r.source_code == local_code for r in rows):
        raise ValueError(f"{path}: {local_code!r} is already mapped; edit the row under review instead")
    version = max((r.map_version for r in rows), key=lambda v: tuple(int(x) for x in v.split(".")),
                  default="2026.0")
    props = concept.properties
    row = ConceptMapRow(
        map_id=rows[0].map_id if rows else f"{kind}-{dictionary}", map_version=bump_version(version),
        source_system=dictionary, source_code=local_code, source_display=local_display,
        target_system=system.system, target_code=target_code, target_display=props.get("display_en") or
        concept.display_en or concept.display, equivalence=equivalence, unit=props.get("unit"),
        ref_low=props.get("ref_low"), ref_high=props.get("ref_high"), hr_item_code=props.get("hr_item_code"),
        reviewed_by=reviewer, source="accepted via transforms.terminology.suggest",
    )
    fields = list(ConceptMapRow.model_fields)
    new = not path.is_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "" if new else path.read_text(encoding="utf-8")
    with path.open("a", encoding="utf-8", newline="") as fh:
        if text and not text.endswith("\n"):
            fh.write("\n")
        w = csv.DictWriter(fh, fieldnames=fields, lineterminator="\n")
        if new:
            w.writeheader()
        w.writerow({k: ("" if v is None else v) for k, v in row.model_dump().items()})
    try:
        load_concept_map(path)
    except TerminologyFileError:
        path.write_text(text, encoding="utf-8")  # leave the reviewed file as it was
        raise
    return row


def unmapped_for(settings, kind: str, dictionary: str) -> list[tuple[str, str, int]]:  # noqa: ANN001
    """(local_code, local_display, records) held back in the warehouse for one dictionary."""
    import sqlalchemy as sa

    from transforms.terminology.warehouse import own_transaction as transaction

    with transaction(settings.warehouse_url) as conn:
        rows = conn.execute(sa.text(
            "SELECT local_code, MAX(local_display), SUM(n_records) FROM unmapped_code "
            "WHERE kind = :k AND dictionary = :d GROUP BY local_code ORDER BY SUM(n_records) DESC, local_code"
        ), {"k": kind, "d": dictionary}).all()
    return [(c, d or "", int(n)) for c, d, n in rows]


def main(argv: list[str] | None = None) -> int:
    from transforms.settings import load_settings

    ap = argparse.ArgumentParser(prog="python -m transforms.terminology.suggest", description=__doc__.splitlines()[0])
    ap.add_argument("--dictionary", required=True)
    ap.add_argument("--kind", required=True, choices=["lab", "diagnosis", "drug", "exam"])
    ap.add_argument("--top", type=int, default=5)
    ap.add_argument("--accept", action="append", default=[], metavar="LOCAL=TARGET")
    ap.add_argument("--reviewer", help="required with --accept")
    ap.add_argument("--display", default="", help="local display for --accept when the warehouse has none")
    args = ap.parse_args(argv)
    cs = load_codeset()
    settings = load_settings()
    held = {c: d for c, d, _ in unmapped_for(settings, args.kind, args.dictionary)}
    if args.accept:
        if not args.reviewer:
            ap.error("--accept needs --reviewer")
        for item in args.accept:
            local, _, target = item.partition("=")
            row = accept(cs, args.kind, args.dictionary, local, target, args.reviewer,
                         args.display or held.get(local, ""))
            print(f"accepted {local} -> {target} ({row.target_display}) map_version {row.map_version}")
        return 0
    system = target_system(cs, args.kind)
    synonyms = load_synonyms(cs.root / "codesystems" / "synonyms.csv")
    for code, display, n in unmapped_for(settings, args.kind, args.dictionary):
        print(f"{code}\t{display}\t({n} records)")
        for cand in suggest(display or code, system, synonyms, args.top):
            print(f"    {cand.score:5.1f}  {cand.code}\t{cand.display}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
