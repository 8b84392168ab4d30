"""Precision@1 / @5 of the mapping suggester on held-back rows of the reviewed concept maps.

Why three query modes: the demo maps' local displays equal the national ones, so scoring
them as-is only shows the exact-name ceiling. ``perturbed`` drops a middle character or adds
a local prefix (typing noise); ``abbreviated`` keeps the first and last two characters; ``synonym`` swaps in a local synonym from
``synonyms.csv``, scored with and without the suggester knowing that list (the "with" figure is
circular by construction: it shows what a reviewed synonym list buys, not generalisation).

    python -m transforms.terminology.suggest_eval [--holdout 0.3]
"""

from __future__ import annotations

import argparse
import hashlib
import math
from dataclasses import dataclass
from typing import Literal

from transforms.terminology.codeset import CodeSet, load_codeset
from transforms.terminology.suggest import load_synonyms, suggest, target_system

Mode = Literal["exact", "perturbed", "abbreviated", "synonym"]


@dataclass(frozen=True)
class EvalResult:
    mode: str
    synonyms_used: bool
    n: int
    p_at_1: float
    p_at_5: float


def _h(text: str) -> int:
    return int(hashlib.sha1(text.encode()).hexdigest(), 16)


def holdout_rows(cs: CodeSet, fraction: float) -> list[tuple[str, str, str, str]]:
    """(kind, dictionary, local display, gold target code): a deterministic ``fraction`` of each map."""
    out = []
    for (kind, dictionary), rows in sorted(cs.maps.items()):
        ordered = sorted(rows.values(), key=lambda r: _h(f"{dictionary}:{r.source_code}"))
        k = math.ceil(len(ordered) * fraction)
        out += [(kind, dictionary, r.source_display, r.target_code) for r in ordered[:k]]
    return out


def perturb(display: str, kind: str) -> str:
    """A deterministic abbreviation or noise edit of a display name."""
    if len(display) >= 4:
        cut = len(display) // 2
        return display[:cut] + display[cut + 1:]
    return ("血清" if kind == "lab" else "") + display + "(测定)"


def abbreviate(display: str) -> str:
    """A harsher local abbreviation: first two and last two characters (高密度脂蛋白胆固醇 → 高密固醇)."""
    return display[:2] + display[-2:] if len(display) >= 5 else display[1:] if len(display) >= 3 else display


def synonym_of(display: str, synonyms: list[tuple[str, str]]) -> str | None:
    for term, syn in synonyms:
        if term and term in display:
            return display.replace(term, syn)
    return None


def evaluate(cs: CodeSet | None = None, fraction: float = 0.3, mode: Mode = "exact",
             use_synonyms: bool = True) -> EvalResult:
    """Score the suggester on the held-back rows in one mode."""
    cs = cs or load_codeset()
    synonyms = load_synonyms(cs.root / "codesystems" / "synonyms.csv")
    known = synonyms if use_synonyms else []
    n = hit1 = hit5 = 0
    for kind, _dictionary, display, gold in holdout_rows(cs, fraction):
        if mode == "exact":
            query = display
        elif mode == "perturbed":
            query = perturb(display, kind)
        elif mode == "abbreviated":
            query = abbreviate(display)
        else:
            query = synonym_of(display, synonyms)
            if query is None:
                continue
        cands = suggest(query, target_system(cs, kind), known, top=5)
        n += 1
        hit1 += bool(cands) and cands[0].code == gold
        hit5 += any(c.code == gold for c in cands)
    return EvalResult(mode, use_synonyms, n, hit1 / n if n else 0.0, hit5 / n if n else 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m transforms.terminology.suggest_eval")
    ap.add_argument("--holdout", type=float, default=0.3)
    args = ap.parse_args(argv)
    cs = load_codeset()
    print("| query mode | synonym list | n | precision@1 | precision@5 |")
    print("|---|---|---|---|---|")
    for mode in ("exact", "perturbed", "abbreviated", "synonym"):
        for use in (False, True):
            r = evaluate(cs, args.holdout, mode, use)  # type: ignore[arg-type]
            print(f"| {r.mode} | {'yes' if use else 'no'} | {r.n} | {r.p_at_1:.2f} | {r.p_at_5:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
