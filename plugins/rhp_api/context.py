"""What a request handler needs: the warehouse engine, tokens, rules, policy and a clock.

Why lazy: an Airflow plugin is imported by every Airflow process; nothing may connect to a
database or read a secret at import time. The first request migrates the warehouse once.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from transforms.api_security.audit import AuditEvent, write_audit
from transforms.api_security.roles import AccessPolicy, default_policy
from transforms.api_security.tokens import (
    AuthError,
    Principal,
    TokenRecord,
    authenticate,
    load_tokens,
    tokens_file,
)
from transforms.recognition.catalogue import Rules, default_rules


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class ServiceContext:
    warehouse_url: str | None = None
    tokens_path: Path | None = None
    clock: Callable[[], datetime] = _utcnow
    # RHP_AUDIT_SYNC_COMMIT=off trades the durability of the last few hundred ms of lookup and
    # audit rows (PostgreSQL asynchronous commit) for not waiting on a WAL flush per lookup.
    sync_commit: bool = field(default_factory=lambda: os.environ.get("RHP_AUDIT_SYNC_COMMIT", "on") != "off")
    _engine: Engine | None = field(default=None, repr=False)
    _tokens: tuple[float, dict[str, TokenRecord]] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def engine(self) -> Engine:
        with self._lock:
            if self._engine is None:
                from transforms.settings import load_settings
                from transforms.warehouse.db import get_engine, migrate

                url = self.warehouse_url or load_settings().warehouse_url
                eng = get_engine(url)
                migrate(eng)
                self._engine = eng
            return self._engine

    @property
    def rules(self) -> Rules:
        return default_rules()

    @property
    def policy(self) -> AccessPolicy:
        return default_policy()

    def tokens(self) -> dict[str, TokenRecord]:
        """Token records, re-read when the tokens file changes (new tokens work without restart)."""
        path = self.tokens_path or tokens_file()
        mtime = path.stat().st_mtime if path.exists() else -1.0
        if self._tokens is None or self._tokens[0] != mtime:
            self._tokens = (mtime, load_tokens(path))
        return self._tokens[1]

    def authenticate(self, authorization: str | None, api_key: str | None) -> Principal:
        return authenticate(authorization, api_key, self.tokens())

    def audit(self, event: AuditEvent) -> str:
        return write_audit(self.engine, event)


__all__ = ["AuthError", "ServiceContext"]
