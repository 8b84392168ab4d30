"""API tokens: stored hashed, outside git, created by a command.

Why SHA-256 and not a password hash: tokens are 256-bit random strings made by
``create_token``, so a slow hash adds nothing against guessing, while every request must
verify one in microseconds. Only the hash is stored; the clear token is printed once.

Where: ``RHP_API_TOKENS_FILE`` or ``<RHP_HOME>/secrets/api_tokens.json`` (``var/`` is ignored
by git), plus ``RHP_API_TOKENS`` (a JSON list of the same records, for injected secrets).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from transforms.api_security.roles import Role
from transforms.settings import load_settings

HASH_PREFIX = "rhp-api-token-v1:"


class TokenRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token_id: str
    sha256: str
    principal: str
    role: Role
    institution_code: str | None = None
    created_at: str
    disabled: bool = False


@dataclass(frozen=True)
class Principal:
    """Who is calling, as established by a valid token."""

    principal: str
    role: Role
    institution_code: str | None
    token_id: str


class AuthError(Exception):
    """Authentication failed; the message says why without echoing the token."""


def hash_token(token: str) -> str:
    return hashlib.sha256((HASH_PREFIX + token).encode("utf-8")).hexdigest()


def tokens_file() -> Path:
    env = os.environ.get("RHP_API_TOKENS_FILE")
    return Path(env) if env else load_settings().home / "secrets" / "api_tokens.json"


def load_tokens(path: Path | None = None) -> dict[str, TokenRecord]:
    """All enabled token records keyed by hash, from the file and ``RHP_API_TOKENS``."""
    records: list[dict] = []
    p = path or tokens_file()
    if p.exists():
        records += json.loads(p.read_text(encoding="utf-8"))
    if os.environ.get("RHP_API_TOKENS"):
        records += json.loads(os.environ["RHP_API_TOKENS"])
    out = {}
    for i, rec in enumerate(records):
        try:
            r = TokenRecord.model_validate(rec)
        except Exception as exc:
            raise ValueError(f"token record #{i} in {p} or RHP_API_TOKENS is invalid: {exc}") from exc
        if not r.disabled:
            out[r.sha256] = r
    return out


def create_token(principal: str, role: Role | str, institution_code: str | None = None,
                 path: Path | None = None) -> str:
    """Append a new token record (hash only) and return the clear token, which is not stored."""
    role = Role(role)
    if role is Role.clinician and not institution_code:
        raise ValueError("a clinician token needs --institution (access is scoped to its residents)")
    p = path or tokens_file()
    p.parent.mkdir(parents=True, exist_ok=True)
    records = json.loads(p.read_text(encoding="utf-8")) if p.exists() else []
    token_id = secrets.token_hex(6)
    token = f"rhp_{token_id}_{secrets.token_urlsafe(32)}"
    records.append(TokenRecord(token_id=token_id, sha256=hash_token(token), principal=principal, role=role,
                               institution_code=institution_code,
                               created_at=datetime.now(UTC).isoformat(timespec="seconds")).model_dump(mode="json"))
    p.write_text(json.dumps(records, ensure_ascii=False, indent=1), encoding="utf-8")
    p.chmod(0o600)
    return token


def authenticate(authorization: str | None, api_key: str | None, tokens: dict[str, TokenRecord]) -> Principal:
    """Resolve ``Authorization: Bearer <token>`` or ``X-API-Key: <token>`` to a principal."""
    token: str | None = None
    if authorization:
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            raise AuthError(f"unsupported authorization scheme {scheme[:20]!r}; use 'Bearer <token>'")
        token = value.strip()
        if not token:
            raise AuthError("empty bearer token")
    elif api_key:
        token = api_key.strip()
    if not token:
        raise AuthError("missing credentials: send 'Authorization: Bearer <token>' or 'X-API-Key'")
    rec = tokens.get(hash_token(token))
    if rec is None:
        raise AuthError("invalid or disabled token")
    return Principal(rec.principal, rec.role, rec.institution_code, rec.token_id)


def main(argv: list[str] | None = None) -> int:
    """``python -m transforms.api_security.tokens create --principal dr_li --role clinician --institution HOSP-A``."""
    ap = argparse.ArgumentParser(prog="python -m transforms.api_security.tokens")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create", help="create a token and print it once")
    c.add_argument("--principal", required=True)
    c.add_argument("--role", required=True, choices=[r.value for r in Role])
    c.add_argument("--institution")
    c.add_argument("--file", type=Path)
    args = ap.parse_args(argv)
    token = create_token(args.principal, args.role, args.institution, args.file)
    print(token)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
