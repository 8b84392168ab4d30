"""Reading YAML configuration: one loader, cached by file identity.

Why: mappings and expectations are looked up once per partition by every stage, and
pure-Python PyYAML costs milliseconds per file; libyaml's ``CSafeLoader`` (when PyYAML
was built with it) is ~10x faster, and an unchanged file need not be parsed again at all.
The cache key is (path, mtime_ns, size), so an edited file is re-read on the next call.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available; both are safe


def load_yaml(path: str | Path) -> Any:
    """The parsed document at ``path`` (safe loader), re-parsed only when the file changed.

    Returns a deep copy, so a caller that mutates its result cannot corrupt the cache.
    """
    p = Path(path)
    st = p.stat()
    return copy.deepcopy(_load_cached(str(p.resolve()), st.st_mtime_ns, st.st_size))


def loads_yaml(text: str) -> Any:
    """Parse YAML text with the same (fast, safe) loader; not cached."""
    return yaml.load(text, Loader=SAFE_LOADER)  # noqa: S506 - a safe loader


@lru_cache(maxsize=512)
def _load_cached(path: str, _mtime_ns: int, _size: int) -> Any:
    return loads_yaml(Path(path).read_text(encoding="utf-8"))
