"""The code set in the warehouse: concepts, concept maps and the unmapped-code report.

Why tables: SQL consumers (marts, 互认, quality report) join and expand codes in the
database instead of re-reading CSVs, and the unmapped report ranks what reviewers should
map next by how many records each local code holds back, overall and per institution.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.terminology.codeset import CodeSet, load_codeset


@contextmanager
def own_transaction(url: str) -> Iterator[Connection]:
    """A transaction on a warehouse migrated up to this module's range (0001-0199).

    Why not ``db.transaction``: standardise runs before the later modules, and must keep
    working while one of their migrations is mid-edit; later stages apply the rest in order.
    """
    from transforms.warehouse.db import get_engine, migrate

    engine = get_engine(url)
    migrate(engine, below="0200")
    with engine.begin() as conn:
        yield conn


def load_code_systems(conn: Connection, codeset: CodeSet | None = None) -> dict[str, int]:
    """Replace ``cs_concept``, ``cs_designation`` and ``cm_concept_map`` from the mappings folder.

    ``conn`` must be on a migrated warehouse (``transforms.warehouse.db.transaction``).
    Returns row counts per table.
    """
    cs = codeset or load_codeset()
    concepts, designations, maps = [], [], []
    for name, system in cs.systems.items():
        for c in system.concepts:
            concepts.append({
                "system": system.system, "code": c.code, "display": c.display, "display_en": c.display_en or None,
                "code_system_name": name, "version": system.version, "kind": system.kind,
                "properties": json.dumps(c.properties, ensure_ascii=False, sort_keys=True),
            })
            designations += [{"system": system.system, "code": c.code, "alias": a} for a in c.alias_list]
    for (kind, dictionary), rows in cs.maps.items():
        for r in rows.values():
            maps.append({
                "map_id": r.map_id, "map_version": r.map_version, "kind": kind, "dictionary": dictionary,
                "source_code": r.source_code, "source_display": r.source_display,
                "target_system": r.target_system, "target_code": r.target_code,
                "target_display": r.target_display, "equivalence": r.equivalence, "unit": r.unit,
                "ref_low": r.ref_low, "ref_high": r.ref_high, "hr_item_code": r.hr_item_code,
                "reviewed_by": r.reviewed_by,
            })
    out = {}
    for table, rows in (("cs_concept", concepts), ("cs_designation", designations), ("cm_concept_map", maps)):
        conn.execute(sa.text(f"DELETE FROM {table}"))
        if rows:
            cols = list(rows[0])
            conn.execute(sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                                 f"({', '.join(':' + c for c in cols)})"), rows)
        out[table] = len(rows)
    return out


def record_unmapped(conn: Connection, source: str, institution: str, day: date, rows: list[dict]) -> int:
    """Replace this partition's ``unmapped_code`` rows (idempotent per partition)."""
    conn.execute(
        sa.text("DELETE FROM unmapped_code WHERE source = :s AND institution_code = :i AND partition_date = :d"),
        {"s": source, "i": institution, "d": day},
    )
    now = datetime.now().replace(microsecond=0)
    full = [{**r, "source": source, "institution_code": institution, "partition_date": day, "recorded_at": now}
            for r in rows]
    if full:
        cols = list(full[0])
        conn.execute(sa.text(f"INSERT INTO unmapped_code ({', '.join(cols)}) VALUES "
                             f"({', '.join(':' + c for c in cols)})"), full)
    return len(full)


def unmapped_report(conn: Connection) -> pd.DataFrame:
    """Unmapped local codes ranked by records held back, with the per-institution breakdown.

    One row per (kind, dictionary, local_code, institution): ``n_records`` for that institution,
    ``total_records`` and ``n_institutions`` for the code, ``rank`` of the code overall (1 = most
    records) and ``rank_in_institution`` within the institution.
    """
    df = pd.read_sql(sa.text(
        "SELECT kind, dictionary, local_code, MAX(local_display) AS local_display, institution_code, "
        "SUM(n_records) AS n_records, MIN(partition_date) AS first_date, MAX(partition_date) AS last_date "
        "FROM unmapped_code GROUP BY kind, dictionary, local_code, institution_code"
    ), conn)
    if df.empty:
        return df.assign(total_records=pd.Series(dtype="int64"), n_institutions=pd.Series(dtype="int64"),
                         rank=pd.Series(dtype="int64"), rank_in_institution=pd.Series(dtype="int64"))
    df["dictionary"] = df["dictionary"].fillna("")
    df["n_records"] = df["n_records"].astype("int64")
    key = ["kind", "dictionary", "local_code"]
    df["total_records"] = df.groupby(key)["n_records"].transform("sum")
    df["n_institutions"] = df.groupby(key)["institution_code"].transform("nunique")
    totals = df.drop_duplicates(key)[key + ["total_records"]].sort_values(
        ["total_records", "kind", "dictionary", "local_code"], ascending=[False, True, True, True])
    totals["rank"] = range(1, len(totals) + 1)
    df = df.merge(totals[key + ["rank"]], on=key)
    df["rank_in_institution"] = df.groupby("institution_code")["n_records"].rank(
        method="min", ascending=False).astype("int64")
    return df.sort_values(["rank", "n_records", "institution_code"], ascending=[True, False, True]).reset_index(
        drop=True)
