"""Code columns: local codes → the unified code set, never dropping what does not map.

For every coded field ``<f>``: ``<f>_std``, ``<f>_std_system``, ``<f>_std_display``,
``<f>_map_status`` (mapped | unmapped | missing) and ``<f>_dictionary``. The local code stays
in ``<f>`` so a later mapping can re-map the record (``transforms.terminology.remap``).
"""

from __future__ import annotations

import pandas as pd

from transforms.terminology.codeset import CodeSet


def _status(local: pd.Series, std: pd.Series) -> pd.Series:
    blank = local.isna() | (local.astype("string").str.strip() == "")
    out = pd.Series("unmapped", index=local.index, dtype="string")
    out[std.notna()] = "mapped"
    out[blank] = "missing"
    return out


def map_concept(local: pd.Series, cs: CodeSet, kind: str, dictionary: str | None) -> pd.DataFrame:
    """Columns for one field mapped through ``mappings/concept_maps/<kind>/<dictionary>.csv``."""
    cmap = cs.concept_map(kind, dictionary) if dictionary else {}
    key = local.astype("string").str.strip()
    std = key.map({k: r.target_code for k, r in cmap.items()})
    return pd.DataFrame({
        "std": std.astype("string"),
        "std_system": key.map({k: r.target_system for k, r in cmap.items()}).astype("string"),
        "std_display": key.map({k: r.target_display for k, r in cmap.items()}).astype("string"),
        "map_status": _status(local, std),
        "dictionary": pd.Series(dictionary, index=local.index, dtype="string"),
    }, index=local.index)


def map_domain(local: pd.Series, cs: CodeSet, domain: str) -> pd.DataFrame:
    """Columns for one field normalised against a value domain (code, display or alias)."""
    system = cs.domain(domain)
    uniq = {v: cs.lookup_domain(domain, v) for v in local.dropna().unique()}
    std = local.map({v: c.code for v, c in uniq.items() if c})
    return pd.DataFrame({
        "std": std.astype("string"),
        "std_system": pd.Series(system.system, index=local.index, dtype="string").where(std.notna()),
        "std_display": local.map({v: c.display for v, c in uniq.items() if c}).astype("string"),
        "map_status": _status(local, std),
        "dictionary": pd.Series(domain, index=local.index, dtype="string"),
    }, index=local.index)


def map_multi_domain(local: pd.Series, cs: CodeSet, domain: str, sep: str = "|") -> pd.DataFrame:
    """A '|'-separated multi-valued field (key populations): each element normalised."""
    def one(v: object) -> tuple[str | None, bool]:
        if v is None or pd.isna(v) or not str(v).strip():
            return None, True
        parts = [p.strip() for p in str(v).replace("，", sep).replace(",", sep).split(sep) if p.strip()]
        found = [cs.lookup_domain(domain, p) for p in parts]
        codes = sorted({c.code for c in found if c})
        return (sep.join(codes) or None), all(found)

    pairs = local.map(one)
    std = pairs.map(lambda t: t[0]).astype("string")
    status = _status(local, std)
    status[(status == "mapped") & ~pairs.map(lambda t: t[1]).astype(bool)] = "unmapped"
    return pd.DataFrame({
        "std": std,
        "std_system": pd.Series(cs.domain(domain).system, index=local.index, dtype="string").where(std.notna()),
        "std_display": pd.Series(pd.NA, index=local.index, dtype="string"),
        "map_status": status,
        "dictionary": pd.Series(domain, index=local.index, dtype="string"),
    }, index=local.index)


def add_code_columns(df: pd.DataFrame | dict[str, pd.Series], field: str, cols: pd.DataFrame) -> None:
    """Add the five code columns of ``field`` to a frame or to a dict of columns being built."""
    for suffix in ("std", "std_system", "std_display", "map_status", "dictionary"):
        df[f"{field}_{suffix}"] = cols[suffix]
