"""The regional master patient index: resolve person keys for a batch and keep the link table.

Why a link table: a resident without a valid ID (a newborn, a foreigner, a clerk's typo)
should still join the same person when the same name, sex, birth date and phone were seen
with a valid ID elsewhere. The table keeps only HMACs of the link values (never clear text),
the person key each resolves to, how that was decided, when it was first and last seen and
which institutions submitted it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.identity import person_key as pk
from transforms.identity import resident_id as rid
from transforms.warehouse.db import advisory_lock


@dataclass
class LinkRecord:
    link_hash: str
    link_type: str
    person_key: str
    link_method: str
    institutions: set[str]
    n_records: int


def resolve(
    df: pd.DataFrame,
    key: bytes,
    institution: str,
    known_links: dict[str, str] | None = None,
    sex_std: pd.Series | None = None,
    birth_submitted: pd.Series | None = None,
) -> tuple[pd.DataFrame, dict[str, LinkRecord]]:
    """Identity columns for every row of ``df`` (canonical person fields as strings).

    ``sex_std`` (GB/T 2261.1) and ``birth_submitted`` (dates) are the already-typed submitted
    values; ``known_links`` maps demographic link hashes to person keys from earlier batches.
    Returns the identity columns (same index as ``df``) and the links this batch produced.
    """
    n = len(df)
    idx = df.index

    def col(c: str) -> pd.Series:
        return df[c] if c in df.columns else pd.Series([None] * n, index=idx, dtype=object)

    sex_std = sex_std if sex_std is not None else pd.Series([None] * n, index=idx, dtype=object)
    birth_submitted = birth_submitted if birth_submitted is not None else pd.Series([None] * n, index=idx)
    checks = {v: rid.check(v) for v in col("id_number").dropna().unique()}
    links = dict(known_links or {})
    produced: dict[str, LinkRecord] = {}

    def note(link_hash: str, link_type: str, person: str, method: str) -> None:
        rec = produced.get(link_hash)
        if rec is None:
            produced[link_hash] = LinkRecord(link_hash, link_type, person, method, {institution}, 1)
        else:
            rec.n_records += 1

    out = {k: [None] * n for k in ("person_key", "link_method", "id_valid", "id_issues", "sex_std",
                                    "birth_date_std")}
    names, phones, local_ids = _values(col("patient_name")), _values(col("phone")), _values(col("patient_local_id"))
    ids, sexes, births = _values(col("id_number")), _values(sex_std), _values(birth_submitted)
    pending: list[int] = []
    memo: dict[tuple, str | None] = {}  # lab batches repeat each person ~10x: hash each link value once

    def demo_hash(name: str | None, sex: str | None, birth: date | None, phone: str | None) -> str | None:
        k = ("d", name, sex, birth, phone)
        if k not in memo:
            demo = pk.demographic_link_value(name, sex, birth, phone)
            memo[k] = pk.demographic_hash(key, demo) if demo else None
        return memo[k]

    def id_hash(id18: str) -> str:
        k = ("i", id18)
        if k not in memo:
            memo[k] = pk.id_key(key, id18)
        return memo[k]  # type: ignore[return-value]
    for i in range(n):
        c = checks[ids[i]] if ids[i] is not None else rid.check(None)
        issues = list(c.issues) + list(rid.cross_check(c, sexes[i], births[i]))
        out["id_valid"][i] = c.valid
        out["id_issues"][i] = ";".join(issues) or None
        out["sex_std"][i] = c.sex_code if c.valid else sexes[i]
        out["birth_date_std"][i] = c.birth_date if c.valid else births[i]
        if c.valid and c.id18:
            person = id_hash(c.id18)
            out["person_key"][i] = person
            out["link_method"][i] = "id_number_upgraded_15" if c.upgraded_from_15 else "id_number"
            note(person, "id_number", person, out["link_method"][i])
            h = demo_hash(names[i], out["sex_std"][i], out["birth_date_std"][i], phones[i])
            if h:
                links.setdefault(h, person)
                note(h, "demographic", links[h], "id_number")
        else:
            pending.append(i)
    for i in pending:  # after every valid ID in the batch has registered its demographics
        h = demo_hash(names[i], out["sex_std"][i], out["birth_date_std"][i], phones[i])
        local = local_ids[i]
        if h:
            person = links.setdefault(h, h)
            out["person_key"][i], out["link_method"][i] = person, "demographic"
            note(h, "demographic", person, "demographic" if person == h else "id_number")
        elif local:
            person = pk.local_key(key, institution, str(local))
            out["person_key"][i], out["link_method"][i] = person, "local_id"
            note(person, "local_id", person, "local_id")
        else:
            out["link_method"][i] = "unlinked"
    frame = pd.DataFrame(out, index=idx)
    frame["id_valid"] = frame["id_valid"].astype("boolean")
    for c in ("person_key", "link_method", "id_issues", "sex_std"):
        frame[c] = frame[c].astype("string")
    return frame, produced


def _values(s: pd.Series) -> list:
    """Plain Python values with every NA spelled None."""
    return [None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in s.tolist()]


def known_demographic_links(conn: Connection) -> dict[str, str]:
    """Demographic link hash → person key, from the warehouse link table.

    On DuckDB the rows are fetched by the driver in bulk: SQLAlchemy's row-by-row fetch of the
    whole table took ~0.2 s per partition on a district day and grows with the table.
    """
    sql = "SELECT link_hash, person_key FROM person_link WHERE link_type = 'demographic'"
    if conn.dialect.name.startswith("duckdb"):
        cols = conn.connection.driver_connection.execute(sql).fetchnumpy()
        return dict(zip(cols["link_hash"].tolist(), cols["person_key"].tolist(), strict=True))
    rows = conn.execute(sa.text(sql))
    return {h: p for h, p in rows}


def _existing(conn: Connection, hashes: list[str]) -> dict[str, tuple]:
    found: dict[str, tuple] = {}
    if conn.dialect.name.startswith("duckdb"):
        raw = conn.connection.driver_connection
        raw.register("_link_keys", pd.DataFrame({"link_hash": hashes}))
        try:
            rows = raw.execute(
                "SELECT p.link_hash, person_key, link_method, first_seen, last_seen, institutions, n_records "
                "FROM person_link p JOIN _link_keys k ON k.link_hash = p.link_hash").fetchall()
        finally:
            raw.unregister("_link_keys")
        return {r[0]: r for r in rows}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        params = {f"h{j}": h for j, h in enumerate(chunk)}
        q = sa.text("SELECT link_hash, person_key, link_method, first_seen, last_seen, institutions, n_records "
                    f"FROM person_link WHERE link_hash IN ({', '.join(':' + p for p in params)})")
        found.update({r[0]: r for r in conn.execute(q, params)})
    return found


def _replace_rows(conn: Connection, rows: list[dict]) -> None:
    """Delete then insert ``rows`` by link_hash; DuckDB goes through a registered frame (executemany is slow)."""
    if conn.dialect.name.startswith("duckdb"):
        raw = conn.connection.driver_connection
        frame = pd.DataFrame(rows)
        raw.register("_link_rows", frame)
        try:
            raw.execute("DELETE FROM person_link WHERE link_hash IN (SELECT link_hash FROM _link_rows)")
            raw.execute(f"INSERT INTO person_link ({', '.join(frame.columns)}) "
                        f"SELECT {', '.join(frame.columns)} FROM _link_rows")
        finally:
            raw.unregister("_link_rows")
        return
    hashes = [r["link_hash"] for r in rows]
    for start in range(0, len(hashes), 500):
        params = {f"h{j}": h for j, h in enumerate(hashes[start:start + 500])}
        conn.execute(sa.text(f"DELETE FROM person_link WHERE link_hash IN ({', '.join(':' + p for p in params)})"),
                     params)
    cols = list(rows[0])
    conn.execute(sa.text(f"INSERT INTO person_link ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})"),
                 rows)


def _partition_totals(conn: Connection, links: dict[str, LinkRecord], day: date, source: str,
                      institution: str) -> dict[str, int]:
    """Replace this partition's per-link counts; return each link's total over all partitions."""
    conn.execute(sa.text("DELETE FROM person_link_partition WHERE source = :s AND institution_code = :i "
                         "AND partition_date = :d"), {"s": source, "i": institution, "d": day})
    frame = pd.DataFrame({"link_hash": list(links), "source": source, "institution_code": institution,
                          "partition_date": day, "n_records": [r.n_records for r in links.values()]})
    if conn.dialect.name.startswith("duckdb"):
        raw = conn.connection.driver_connection
        raw.register("_link_counts", frame)
        try:
            raw.execute("INSERT INTO person_link_partition SELECT link_hash, source, institution_code, "
                        "CAST(partition_date AS DATE), n_records FROM _link_counts")
            totals = raw.execute("SELECT p.link_hash, SUM(p.n_records) FROM person_link_partition p "
                                 "JOIN _link_counts c USING (link_hash) GROUP BY 1").fetchall()
        finally:
            raw.unregister("_link_counts")
        return {h: int(n) for h, n in totals}
    conn.execute(sa.text("INSERT INTO person_link_partition VALUES (:link_hash, :source, :institution_code, "
                         ":partition_date, :n_records)"), frame.to_dict("records"))
    out: dict[str, int] = {}
    hashes = list(links)
    for start in range(0, len(hashes), 500):
        params = {f"h{j}": h for j, h in enumerate(hashes[start:start + 500])}
        q = sa.text("SELECT link_hash, SUM(n_records) FROM person_link_partition "
                    f"WHERE link_hash IN ({', '.join(':' + p for p in params)}) GROUP BY link_hash")
        out.update({h: int(n) for h, n in conn.execute(q, params)})
    return out


def upsert_links(conn: Connection, links: dict[str, LinkRecord], day: date, source: str | None = None,
                 institution: str | None = None) -> int:
    """Merge this partition's links into ``person_link`` (first_seen kept, institutions unioned).

    With ``source`` and ``institution`` (the stage always passes them) ``n_records`` is the sum
    over partitions, so rerunning a partition does not inflate it.
    """
    if not links:
        return 0
    advisory_lock(conn, "person_link")  # read-merge-write below: workers on PostgreSQL take turns
    totals = _partition_totals(conn, links, day, source, institution) if source and institution else None
    existing = _existing(conn, list(links))
    rows = []
    for h, rec in links.items():
        old = existing.get(h)
        if old:
            first = old[3] if isinstance(old[3], date) else date.fromisoformat(str(old[3]))
            last = old[4] if isinstance(old[4], date) else date.fromisoformat(str(old[4]))
            rows.append({"link_hash": h, "link_type": rec.link_type, "person_key": old[1], "link_method": old[2],
                         "first_seen": min(first, day), "last_seen": max(last, day),
                         "institutions": "|".join(sorted(set(old[5].split("|")) | rec.institutions)),
                         "n_records": totals[h] if totals else int(old[6]) + rec.n_records})
        else:
            rows.append({"link_hash": h, "link_type": rec.link_type, "person_key": rec.person_key,
                         "link_method": rec.link_method, "first_seen": day, "last_seen": day,
                         "institutions": "|".join(sorted(rec.institutions)),
                         "n_records": totals[h] if totals else rec.n_records})
    _replace_rows(conn, rows)
    return len(rows)
