"""Stable, keyed randomness: every draw is a pure function of (seed, key parts).

Why not one global RNG: streaming generation must be able to derive resident #123456 or
hospital H's 7th visit on day D without replaying everything before it, and the same seed
must give byte-identical files whatever order or scale the caller uses.
"""

from __future__ import annotations

import hashlib
import random
from bisect import bisect
from collections.abc import Sequence
from itertools import accumulate
from typing import TypeVar

T = TypeVar("T")


def h64(*parts: object) -> int:
    """A 64-bit stable hash of the parts (Python's hash() is salted per process)."""
    data = "\x1f".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


def unit(*parts: object) -> float:
    """A stable uniform number in [0, 1) for the parts."""
    return h64(*parts) / 2**64


def rng(*parts: object) -> random.Random:
    """A private generator for one entity (a resident, a visit, a file)."""
    return random.Random(h64(*parts))


class Weighted:
    """Weighted choice with precomputed cumulative weights (fast for repeated draws)."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        if len(items) != len(weights) or not items:
            raise ValueError("Weighted needs equally long, non-empty items and weights")
        self.items = list(items)
        self.cum = list(accumulate(float(w) for w in weights))

    def pick(self, r: random.Random) -> T:
        return self.items[bisect(self.cum, r.random() * self.cum[-1])]
