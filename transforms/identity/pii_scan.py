"""Scan a warehouse for direct identifiers in clear text (DuckDB or PostgreSQL).

Why a scanner and not only a column allow-list: identifiers leak through free text, JSON
blobs and mis-mapped columns. Every text-like column of every table is read and matched
against resident-ID patterns that pass the MOD 11-2 check and carry a real birth date
(18-digit) or a real date and known division (15-digit), mainland mobile numbers, and any
names the caller knows (e.g. the synthetic residents of a test run).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.identity import resident_id as rid

FindingKind = Literal["resident_id", "phone", "name"]

_ID18 = re.compile(r"(?<![0-9A-Za-z])(\d{17}[\dXx])(?![0-9A-Za-z])")
_ID15 = re.compile(r"(?<![0-9A-Za-z])(\d{15})(?![0-9A-Za-z])")
_PHONE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[- ]?)?(1[3-9]\d[- ]?\d{4}[- ]?\d{4})(?![0-9A-Za-z])")
_HASH = re.compile(r"[0-9a-fA-F]{32,}")  # person keys, checksums: digit runs inside them are not identifiers
_TEXT_TYPES = ("char", "text", "string", "json", "varchar")


@dataclass(frozen=True)
class Finding:
    table: str
    column: str
    kind: FindingKind
    n_values: int  # distinct values in the column that matched
    example: str  # masked: first 3 and last 2 characters


def _mask(v: str) -> str:
    return v[:3] + "*" * max(len(v) - 5, 0) + v[-2:] if len(v) > 5 else "*" * len(v)


def _is_id(token: str) -> bool:
    if len(token) == 18:
        c = rid.check(token)
        return "checksum" not in c.issues and "birth_date" not in c.issues
    c = rid.check(token)
    return c.valid


def _columns(conn: Connection, schema: str | None) -> list[tuple[str, str]]:
    rows = conn.execute(sa.text(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = :s ORDER BY table_name, ordinal_position"
    ), {"s": schema}).all()
    return [(t, c) for t, c, typ in rows if any(k in str(typ).lower() for k in _TEXT_TYPES)]


def scan_warehouse(
    conn: Connection, known_names: list[str] | tuple[str, ...] = (), exclude_tables: set[str] | None = None,
    max_values: int = 200_000,
) -> list[Finding]:
    """Every (table, column, kind) holding a clear-text identifier; empty list = clean."""
    schema = "main" if conn.dialect.name.startswith("duckdb") else "public"
    names = [n for n in {n.strip() for n in known_names} if len(n) >= 2]
    findings: list[Finding] = []
    prep = sa.sql.compiler.IdentifierPreparer(conn.dialect)
    for table, column in _columns(conn, schema):
        if exclude_tables and table in exclude_tables:
            continue
        q = sa.text(f"SELECT DISTINCT CAST({prep.quote(column)} AS VARCHAR) FROM {prep.quote(table)} "
                    f"WHERE {prep.quote(column)} IS NOT NULL LIMIT {int(max_values)}")
        values = [v for (v,) in conn.execute(q) if v]
        hits: dict[FindingKind, list[str]] = {"resident_id": [], "phone": [], "name": []}
        for v in values:
            v = _HASH.sub(" ", v)
            if any(_is_id(m) for m in _ID18.findall(v)) or any(_is_id(m) for m in _ID15.findall(v)):
                hits["resident_id"].append(v)
            if _PHONE.search(v):
                hits["phone"].append(v)
            if names and any(n in v for n in names):
                hits["name"].append(v)
        for kind, vals in hits.items():
            if vals:
                findings.append(Finding(table, column, kind, len(vals), _mask(vals[0])))
    return findings
