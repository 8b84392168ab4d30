"""Feed data contracts: schema, grain, refresh time and version, checked on every run.

A contract (``mappings/feeds/<name>.yaml``) declares the columns the consuming team may rely
on. The schema's fingerprint is pinned per major version in ``mappings/feeds/contracts.lock.json``:
changing a column's name or type without bumping the major version fails the run (and the
test that compares the lock), so a breaking change can never ship silently. Adding a
nullable column is a minor change and bumps ``version`` ``x.y`` → ``x.y+1``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from transforms.settings import MAPPINGS_DIR
from transforms.yamlio import load_yaml

FEEDS_DIR = MAPPINGS_DIR / "feeds"
LOCK_FILE = FEEDS_DIR / "contracts.lock.json"
ColumnType = Literal["string", "date", "integer", "decimal", "boolean"]


class Column(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    type: ColumnType
    description: str
    role: Literal["dimension", "count", "measure", "flag"] = "measure"


class FeedContract(BaseModel):
    """One feed for one module of the decision system."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: str = Field(pattern=r"^\d+\.\d+$")
    module: str
    title_zh: str
    description: str
    grain: str
    refresh: str = Field(description="when it is refreshed, e.g. 'daily after rhp_indicators'")
    k_min: int = Field(5, ge=1, description="cells whose count columns are below k are suppressed")
    columns: list[Column]
    sql: str

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    @property
    def table(self) -> str:
        return f"feed_{self.name}_v{self.major}"

    def schema_fingerprint(self) -> str:
        """Names, types and order of the columns: what a consumer's code depends on."""
        cols = [(c.name, c.type) for c in self.columns]
        return hashlib.sha256(json.dumps(cols).encode()).hexdigest()[:16]


def load_contracts(directory: Path = FEEDS_DIR) -> dict[str, FeedContract]:
    out: dict[str, FeedContract] = {}
    for path in sorted(directory.glob("*.yaml")):
        try:
            c = FeedContract.model_validate(load_yaml(path))
        except Exception as exc:
            raise ValueError(f"{path}: invalid feed contract: {exc}") from exc
        out[c.name] = c
    return out


def read_lock(path: Path = LOCK_FILE) -> dict[str, str]:
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def check_against_lock(contracts: dict[str, FeedContract], lock: dict[str, str]) -> list[str]:
    """Breaking changes: a pinned ``name@major`` whose schema fingerprint changed."""
    problems = []
    for c in contracts.values():
        key = f"{c.name}@{c.major}"
        if key in lock and lock[key] != c.schema_fingerprint():
            problems.append(f"feed {c.name} v{c.version}: columns changed but major version {c.major} is pinned "
                            f"to another schema; bump the major version (breaking change)")
    return problems


def write_lock(contracts: dict[str, FeedContract], path: Path = LOCK_FILE) -> None:
    """Pin the current schemas (run when a new major version is released on purpose)."""
    lock = read_lock(path)
    for c in contracts.values():
        lock.setdefault(f"{c.name}@{c.major}", c.schema_fingerprint())
    path.write_text(json.dumps(lock, indent=2, sort_keys=True) + "\n", encoding="utf-8")
