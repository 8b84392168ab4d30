"""Runtime settings, read from the environment once, with embedded defaults.

Why environment variables: the same code runs in `make demo` (DuckDB file, local folders),
in CI (PostgreSQL on localhost) and in docker-compose (secrets injected), and none of those
should need an edited file. Nothing here reads a secret from the repository: the
pseudonymisation key must come from ``RHP_PSEUDONYM_KEY`` or a key file outside git.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
MAPPINGS_DIR = REPO_ROOT / "mappings"
EXPECTATIONS_DIR = REPO_ROOT / "expectations"


@dataclass(frozen=True)
class Settings:
    """Where things live. Every path is derived from ``home`` unless overridden."""

    home: Path
    landing: Path
    lake: Path
    warehouse_url: str
    key_file: Path

    @property
    def raw(self) -> Path:
        return self.lake / "raw"

    @property
    def quarantine(self) -> Path:
        return self.lake / "quarantine"

    @property
    def standard(self) -> Path:
        return self.lake / "standard"

    @property
    def fhir(self) -> Path:
        return self.lake / "fhir"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def exports(self) -> Path:
        return self.home / "exports"


def load_settings(home: str | Path | None = None) -> Settings:
    """Build settings from ``RHP_*`` variables; ``home`` wins over ``RHP_HOME``."""
    base = Path(home or os.environ.get("RHP_HOME") or REPO_ROOT / "var").resolve()
    landing = Path(os.environ.get("RHP_LANDING") or base / "landing")
    lake = Path(os.environ.get("RHP_LAKE") or base / "lake")
    url = os.environ.get("RHP_WAREHOUSE_URL") or f"duckdb:///{base / 'warehouse.duckdb'}"
    key_file = Path(os.environ.get("RHP_PSEUDONYM_KEY_FILE") or base / "secrets" / "pseudonym.key")
    return Settings(home=base, landing=landing, lake=lake, warehouse_url=url, key_file=key_file)


def pseudonym_key(settings: Settings | None = None) -> bytes:
    """The HMAC key for person keys.

    Order: ``RHP_PSEUDONYM_KEY`` (hex or text), then the key file. For the embedded demo
    only, a random key is created in the key file (under ``var/``, which git ignores), so
    a newcomer needs no set-up and no key ever sits in the repository.
    """
    env = os.environ.get("RHP_PSEUDONYM_KEY")
    if env:
        return env.encode("utf-8")
    s = settings or load_settings()
    if s.key_file.exists():
        return s.key_file.read_bytes().strip()
    if os.environ.get("RHP_REQUIRE_KEY") == "1":
        raise RuntimeError(
            f"no pseudonymisation key: set RHP_PSEUDONYM_KEY or create {s.key_file} (production requires one)"
        )
    s.key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    s.key_file.write_bytes(key)
    s.key_file.chmod(0o600)
    return key
