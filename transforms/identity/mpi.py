"""The regional master patient index: resolve person keys for a batch and keep the link table.

Why a link table: a resident without a valid ID (a newborn, a foreigner, a clerk's typo)
should still join the same person when the same name, sex, birth date and phone were seen
with a valid ID elsewhere. The table keeps only HMACs of the link values (never clear text),
the person key each resolves to, how that was decided, when it was first and last seen and
which institutions submitted it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow as pa
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
    values; ``known_links`` maps demographic link hashes to person keys from earlier batches
    (a ``KnownLinks`` fetches only the hashes this batch needs).
    Returns the identity columns (same index as ``df``) and the links this batch produced.

    Rows are resolved once per distinct (ID, name, phone, local id, sex, birth date): a lab
    batch repeats each person ~10x. Distinct rows are taken in order of first appearance, so
    which row registers a link first, and the links' order, are those of a row-by-row pass.
    """
    n = len(df)
    idx = df.index

    def col(c: str) -> pd.Series:
        return df[c] if c in df.columns else pd.Series([None] * n, index=idx, dtype=object)

    sex_std = sex_std if sex_std is not None else pd.Series([None] * n, index=idx, dtype=object)
    birth_submitted = birth_submitted if birth_submitted is not None else pd.Series([None] * n, index=idx)
    today = date.today()
    names, phones, local_ids = _values(col("patient_name")), _values(col("phone")), _values(col("patient_local_id"))
    ids, sexes, births = _values(col("id_number")), _values(sex_std), _values(birth_submitted)
    first: dict[tuple, int] = {}
    codes = np.fromiter((first.setdefault(r, len(first)) for r in zip(ids, names, phones, local_ids, sexes, births,
                                                                      strict=True)), dtype=np.intp, count=n)
    counts = np.bincount(codes, minlength=len(first)).tolist() if n else []
    m = len(first)
    produced: dict[str, LinkRecord] = {}

    def note(link_hash: str, link_type: str, person: str, method: str, times: int) -> None:
        rec = produced.get(link_hash)
        if rec is None:
            produced[link_hash] = LinkRecord(link_hash, link_type, person, method, {institution}, times)
        else:
            rec.n_records += times

    out = {k: [None] * m for k in ("person_key", "link_method", "id_valid", "id_issues", "sex_std",
                                    "birth_date_std")}
    demo: list[str | None] = [None] * m
    valid: list[bool] = [False] * m
    for j, (id_number, name, phone, _local, sex, birth) in enumerate(first):
        c = _checked(id_number, today)
        issues = list(c.issues) + list(rid.cross_check(c, sex, birth))
        valid[j] = c.valid
        out["id_valid"][j] = c.valid
        out["id_issues"][j] = ";".join(issues) or None
        out["sex_std"][j] = c.sex_code if c.valid else sex
        out["birth_date_std"][j] = c.birth_date if c.valid else birth
        demo[j] = _demo_hash(key, name, out["sex_std"][j], out["birth_date_std"][j], phone)
    links = _known_for(known_links, {h for h in demo if h})
    pending: list[int] = []
    for j, (id_number, _name, _phone, _local, _sex, _birth) in enumerate(first):
        c = _checked(id_number, today)
        if valid[j] and c.id18:
            person = _id_hash(key, c.id18)
            out["person_key"][j] = person
            out["link_method"][j] = "id_number_upgraded_15" if c.upgraded_from_15 else "id_number"
            note(person, "id_number", person, out["link_method"][j], counts[j])
            h = demo[j]
            if h:
                links.setdefault(h, person)
                note(h, "demographic", links[h], "id_number", counts[j])
        else:
            pending.append(j)
    locals_ = list(first)
    for j in pending:  # after every valid ID in the batch has registered its demographics
        h = demo[j]
        local = locals_[j][3]
        if h:
            person = links.setdefault(h, h)
            out["person_key"][j], out["link_method"][j] = person, "demographic"
            note(h, "demographic", person, "demographic" if person == h else "id_number", counts[j])
        elif local:
            person = pk.local_key(key, institution, str(local))
            out["person_key"][j], out["link_method"][j] = person, "local_id"
            note(person, "local_id", person, "local_id", counts[j])
        else:
            out["link_method"][j] = "unlinked"
    frame = pd.DataFrame({k: _spread(v, codes) for k, v in out.items()}, index=idx)
    frame["id_valid"] = frame["id_valid"].astype(bool).astype("boolean")
    for c in ("person_key", "link_method", "id_issues", "sex_std"):
        frame[c] = frame[c].astype("string")
    return frame, produced


def _spread(per_row: list, codes: np.ndarray) -> np.ndarray:
    """Per-distinct values back to one per row (object array)."""
    arr = np.empty(len(per_row), dtype=object)
    arr[:] = per_row
    return arr[codes]


@lru_cache(maxsize=1 << 18)
def _checked(id_number: str | None, today: date) -> rid.IdCheck:
    """``rid.check`` per (value, reference date): the same residents recur in every batch of a day."""
    return rid.check(id_number, today)


@lru_cache(maxsize=1 << 18)
def _id_hash(key: bytes, id18: str) -> str:
    return pk.id_key(key, id18)


@lru_cache(maxsize=1 << 18)
def _demo_hash(key: bytes, name: str | None, sex: str | None, birth: date | None, phone: str | None) -> str | None:
    demo = pk.demographic_link_value(name, sex, birth, phone)
    return pk.demographic_hash(key, demo) if demo else None


def _known_for(known_links: Mapping[str, str] | None, hashes: set[str]) -> dict[str, str]:
    """The known person key of each of ``hashes`` that has one (only those: the batch reads no others)."""
    if isinstance(known_links, KnownLinks):  # before the emptiness test: an empty one still fetches
        return known_links.lookup(hashes) if hashes else {}
    if not known_links or not hashes:
        return {}
    return {h: known_links[h] for h in hashes if h in known_links}


def _values(s: pd.Series) -> list:
    """Plain Python values with every NA spelled None."""
    return [None if v is None or (not isinstance(v, str) and pd.isna(v)) else v for v in s.tolist()]


class KnownLinks(dict):
    """Demographic link hash → person key, filled from the warehouse only for the hashes batches ask.

    Why: loading the whole demographic link table per partition does not scale (25 M residents
    at city scale). ``fetch`` queries a list of hashes (``known_demographic_links(conn, hashes)``);
    hashes added with ``setdefault`` (links earlier batches produced) are never fetched.
    """

    def __init__(self, fetch: Callable[[list[str]], dict[str, str]]) -> None:
        super().__init__()
        self._fetch = fetch
        self._asked: set[str] = set()

    def lookup(self, hashes: Iterable[str]) -> dict[str, str]:
        """Known person key of each hash that has one, fetching the ones not asked before."""
        hashes = list(hashes)
        missing = [h for h in hashes if h not in self and h not in self._asked]
        if missing:
            self._asked.update(missing)
            for h, p in self._fetch(missing).items():
                self.setdefault(h, p)
        return {h: self[h] for h in hashes if h in self}


def known_demographic_links(conn: Connection, hashes: Sequence[str] | None = None) -> dict[str, str]:
    """Demographic link hash → person key, from the warehouse link table.

    With ``hashes``, only those are looked up (DuckDB joins a registered Arrow table, PostgreSQL
    uses the primary key with ``= ANY``): the whole table is too big to load at city scale.
    On DuckDB the rows are fetched by the driver in bulk (SQLAlchemy's row-by-row fetch is slow).
    """
    sql = "SELECT link_hash, person_key FROM person_link WHERE link_type = 'demographic'"
    duck = conn.dialect.name.startswith("duckdb")
    if hashes is not None:
        if not hashes:
            return {}
        if duck:
            raw = conn.connection.driver_connection
            raw.register("_demo_keys", pa.table({"link_hash": pa.array(list(hashes), pa.string())}))
            try:
                cols = raw.execute(sql.replace("FROM person_link", "FROM person_link JOIN _demo_keys USING (link_hash)")
                                   ).fetchnumpy()
            finally:
                raw.unregister("_demo_keys")
            return dict(zip(cols["link_hash"].tolist(), cols["person_key"].tolist(), strict=True))
        out: dict[str, str] = {}
        hs = list(hashes)
        for start in range(0, len(hs), 10000):
            rows = conn.execute(sa.text(sql + " AND link_hash = ANY(:h)"), {"h": hs[start:start + 10000]})
            out.update({h: p for h, p in rows})
        return out
    if duck:
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
    if conn.dialect.name == "postgresql":
        return _upsert_links_pg(conn, links, day, source, institution)
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


# One statement merges a partition's links on PostgreSQL: the stored total moves by this
# partition's new count minus the count it had before (a rerun replaces, never adds), the
# first/last seen dates widen and the institutions are unioned in code-point order (as sorted()).
_PG_MERGE = """
INSERT INTO person_link AS p (link_hash, link_type, person_key, link_method, first_seen, last_seen,
                              institutions, n_records)
SELECT i.link_hash, i.link_type, i.person_key, i.link_method, %(d)s, %(d)s, i.institutions, i.n_records
FROM _link_in i
ON CONFLICT (link_hash) DO UPDATE SET
    link_type = EXCLUDED.link_type,
    first_seen = LEAST(p.first_seen, EXCLUDED.first_seen),
    last_seen = GREATEST(p.last_seen, EXCLUDED.last_seen),
    institutions = (SELECT string_agg(x, '|' ORDER BY x COLLATE "C")
                    FROM (SELECT DISTINCT unnest(string_to_array(p.institutions, '|')
                                                 || string_to_array(EXCLUDED.institutions, '|')) AS x) u),
    n_records = p.n_records + EXCLUDED.n_records
                - COALESCE((SELECT o.n_records FROM _link_old o WHERE o.link_hash = EXCLUDED.link_hash), 0)
"""


def _upsert_links_pg(conn: Connection, links: dict[str, LinkRecord], day: date, source: str | None,
                     institution: str | None) -> int:
    """PostgreSQL: COPY the partition's links into a temporary table and merge them in set-based SQL.

    Why: on a city day (1,344 partitions, millions of links) the per-500-key SELECT/DELETE/INSERT
    round trips and the re-summing of every link's per-partition counts, all under the advisory
    lock, serialised the workers (standardise 25 min, PostgreSQL as busy as the workers). Same
    result as the generic path (tests/test_person_link_merge.py compares the two).
    """
    raw = conn.connection.driver_connection
    with raw.cursor() as cur:
        cur.execute("CREATE TEMP TABLE _link_in (link_hash text PRIMARY KEY, link_type text, person_key text, "
                    "link_method text, institutions text, n_records integer) ON COMMIT DROP")
        with cur.copy("COPY _link_in FROM STDIN") as copy:
            for h, rec in links.items():
                copy.write_row((h, rec.link_type, rec.person_key, rec.link_method,
                                "|".join(sorted(rec.institutions)), rec.n_records))
        cur.execute("CREATE TEMP TABLE _link_old (link_hash text PRIMARY KEY, n_records integer) ON COMMIT DROP")
        if source and institution:
            part = {"s": source, "i": institution, "d": day}
            cur.execute("WITH gone AS (DELETE FROM person_link_partition WHERE source = %(s)s "
                        "AND institution_code = %(i)s AND partition_date = %(d)s RETURNING link_hash, n_records) "
                        "INSERT INTO _link_old SELECT link_hash, n_records FROM gone", part)
            cur.execute("INSERT INTO person_link_partition (link_hash, source, institution_code, partition_date, "
                        "n_records) SELECT link_hash, %(s)s, %(i)s, %(d)s, n_records FROM _link_in", part)
        cur.execute("ANALYZE _link_in")
        cur.execute("ANALYZE _link_old")
        cur.execute(_PG_MERGE, {"d": day})
        cur.execute("DROP TABLE _link_in")
        cur.execute("DROP TABLE _link_old")
    return len(links)
