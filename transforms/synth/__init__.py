"""Deterministic synthetic region generator (landing-zone files in vendor formats).

``generate(out, start, days, scale, seed, defect_rate)`` or
``python -m transforms.synth --out DIR --start YYYY-MM-DD --days N --scale tiny --seed 42``.
"""

from transforms.synth.generate import generate

__all__ = ["generate"]
