"""Merge one FHIR lake partition into the warehouse store and refresh the marts it feeds.

Why a merge on (resource_type, id): FHIR ids are deterministic, so a resubmitted record
lands on the same key. One partition ``(source, institution, day)`` is loaded in ONE
transaction: unchanged resources (same content hash) are left alone, so a rerun changes
nothing; changed ones replace the stored version and leave a ``load_audit`` row naming the
old and new batch and the top-level elements that differ; resources the partition held
before but no longer sends are deleted (audited too). The marts are then refreshed for the
changed keys only (``marts.refresh_marts``), and dimension history gets a new version where a
tracked attribute changed (``history.apply_history``, effective the partition date).

Bulk paths: the partition goes into a temporary staging table by DuckDB's Arrow scan or
PostgreSQL's COPY; everything after that is set-based SQL shared by both engines.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from transforms.settings import Settings
from transforms.terminology import systems
from transforms.warehouse.db import analyze_if_stale, dialect, get_engine, migrate
from transforms.warehouse.history import apply_history
from transforms.warehouse.marts import drop_changed_keys, refresh_marts

PARQUET_COLUMNS = ["id", "resource_type", "person_key", "resource", "_batch_id", "_file", "_line",
                   "_message_id", "_source", "_institution", "_partition_date"]
STORE_COLUMNS = ["id", "resource_type", "person_key", "resource", "content_hash", "batch_id", "source_file",
                 "source_line", "message_id", "source", "institution_code", "partition_date", "loaded_at"]
_STAGE_DDL = ("CREATE TEMP TABLE {name} (id VARCHAR, resource_type VARCHAR, person_key VARCHAR, resource VARCHAR, "
              "content_hash VARCHAR, batch_id VARCHAR, source_file VARCHAR, source_line INTEGER, message_id VARCHAR, "
              "source VARCHAR, institution_code VARCHAR, partition_date DATE, loaded_at TIMESTAMP)")


@dataclass(frozen=True)
class LoadReport:
    """What one partition load read and changed."""

    source: str
    institution: str
    day: date
    files: tuple[str, ...]
    rows_read: int
    inserted: int
    updated: int
    deleted: int
    unchanged: int
    marts: tuple[str, ...]
    seconds_store: float = 0.0  # read, stage, diff, audit and merge into fhir_resource
    seconds_marts: float = 0.0  # view refresh and derivations

    @property
    def seconds(self) -> float:
        return self.seconds_store + self.seconds_marts

    @property
    def changed(self) -> int:
        return self.inserted + self.updated + self.deleted


def partition_files(settings: Settings, source: str, institution: str, day: date) -> list[Path]:
    """The partition's Parquet files, one per resource type."""
    base = settings.fhir / "parquet"
    name = f"source={source}/institution={institution}/date={day.isoformat()}.parquet"
    return sorted(p for p in base.glob(f"*/{name}") if p.is_file())


def read_partition(files: list[Path], source: str, institution: str, day: date, loaded_at: datetime):
    """The partition as one Arrow table in store shape; bad rows raise naming file and line."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    tables = []
    for path in files:
        t = pq.read_table(path)
        missing = [c for c in PARQUET_COLUMNS if c not in t.column_names]
        if missing:
            raise ValueError(f"{path}: FHIR parquet lacks columns {missing}")
        tables.append(t.select(PARQUET_COLUMNS).cast(pa.schema([
            (c, pa.int32() if c == "_line" else pa.date32() if c == "_partition_date" else pa.string())
            for c in PARQUET_COLUMNS])))
    if not tables:
        return pa.table({c: pa.array([], pa.string()) for c in STORE_COLUMNS})
    t = pa.concat_tables(tables)
    keep = _check_partition(t, source, institution, day)
    if len(keep) < t.num_rows:
        t = t.take(pa.array(keep, pa.int64()))
    n = t.num_rows
    return pa.table({
        "id": t.column("id"), "resource_type": t.column("resource_type"), "person_key": t.column("person_key"),
        "resource": t.column("resource"), "content_hash": pa.nulls(n, pa.string()),  # md5, set in SQL
        "batch_id": t.column("_batch_id"), "source_file": t.column("_file"), "source_line": t.column("_line"),
        "message_id": t.column("_message_id"), "source": t.column("_source"),
        "institution_code": t.column("_institution"), "partition_date": t.column("_partition_date"),
        "loaded_at": pa.array([loaded_at] * n, pa.timestamp("us")),
    })


def _check_partition(t, source: str, institution: str, day: date) -> list[int]:
    """Row indices to keep (exact repeats of a resource collapse); anything else wrong raises.

    Vectorised with Arrow: only offending rows are turned into Python objects, for the message.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    def where(i: int) -> str:
        r = t.slice(i, 1).select(["_file", "_line", "resource_type", "id"]).to_pylist()[0]
        return f"{r['_file']} line {r['_line']} ({r['resource_type']}/{r['id']})"

    part = f"FHIR partition {source}/{institution}/{day}"
    blank = pc.or_kleene(pc.or_kleene(pc.is_null(t["id"]), pc.is_null(t["resource_type"])), pc.is_null(t["resource"]))
    blank = pc.or_kleene(blank, pc.equal(pc.utf8_length(pc.fill_null(t["resource"], "")), 0))
    if pc.any(blank).as_py():
        raise ValueError(f"{part}: {where(pc.index(blank, True).as_py())} lacks id, type or resource")
    wrong = pc.or_kleene(pc.or_kleene(pc.not_equal(t["_source"], source), pc.not_equal(t["_institution"], institution)),
                         pc.not_equal(t["_partition_date"], pa.scalar(day, pa.date32())))
    wrong = pc.fill_null(pc.or_kleene(wrong, pc.is_null(t["_partition_date"])), True)
    if pc.any(wrong).as_py():
        i = pc.index(wrong, True).as_py()
        r = t.slice(i, 1).select(["_source", "_institution", "_partition_date"]).to_pylist()[0]
        raise ValueError(f"{part}: {where(i)} is labelled {r['_source']}/{r['_institution']}/{r['_partition_date']}")
    keys = pc.binary_join_element_wise(t["resource_type"], t["id"], "/")
    if len(pc.unique(keys)) == t.num_rows:
        return list(range(t.num_rows))
    seen: dict[str, int] = {}
    keep: list[int] = []
    resources = t["resource"]
    for i, key in enumerate(keys.to_pylist()):
        if key not in seen:
            seen[key] = i
            keep.append(i)
        elif resources[seen[key]].as_py() != resources[i].as_py():
            raise ValueError(f"{part}: {key} appears twice with different content "
                             f"({where(seen[key])} and {where(i)})")
    return keep


def _stage(conn: Connection, table, name: str) -> None:
    """Bulk-copy an Arrow table into a fresh temporary table ``name``."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    ddl = _STAGE_DDL.format(name=name)
    if dialect(conn) == "postgresql":  # md5 filled as rows arrive: an UPDATE would rewrite the whole table
        ddl = ddl.replace("content_hash VARCHAR", "content_hash VARCHAR GENERATED ALWAYS AS (md5(resource)) STORED")
    conn.exec_driver_sql(ddl)
    if table.num_rows == 0:
        return
    raw = conn.connection.dbapi_connection
    # content_hash = md5 of the resource text: same spelling and value on both engines; it only
    # detects change (an unchanged resource is skipped), it protects nothing.
    if dialect(conn) == "duckdb":
        cols = ", ".join("md5(resource)" if c == "content_hash" else c for c in STORE_COLUMNS)
        raw.register("_arrow_stage", table)
        try:
            conn.exec_driver_sql(f"INSERT INTO {name} SELECT {cols} FROM _arrow_stage")
        finally:
            raw.unregister("_arrow_stage")
        return
    _copy_csv(raw, table, name)
    # Why: the store's statistics lag its growth (a partition just loaded is estimated at one row),
    # and the planner then ran the delete check ("in the store, not in this partition") as a
    # nested loop scanning this table once per stored row: a rerun of a 34 k-resource partition
    # took 5 minutes. With a key index that plan is an index probe, and the statistics make it rare.
    conn.exec_driver_sql(f"CREATE INDEX ON {name} (resource_type, id)")
    conn.exec_driver_sql(f"ANALYZE {name} (resource_type, id, content_hash)")


# Rows per CSV chunk sent to PostgreSQL's COPY: bounds the text held in Python at once.
COPY_CHUNK_ROWS = 20_000


def _copy_csv(raw, table, name: str) -> None:
    """PostgreSQL: COPY the Arrow table as CSV written by Arrow, chunk by chunk.

    Why: a Python tuple per row (``copy.write_row``) cost most of the stage. Arrow's CSV quotes
    every string (an empty string is ``""``) and leaves a NULL unquoted-empty, which is exactly
    PostgreSQL's CSV reading of the two; quotes and newlines in the JSON stay inside quotes, and
    CSV has no backslash escapes. content_hash is the stage's generated md5(resource).
    """
    import io

    import pyarrow.csv as pacsv

    copy_cols = [c for c in STORE_COLUMNS if c != "content_hash"]
    opts = pacsv.WriteOptions(include_header=False)
    with raw.cursor() as cur:
        with cur.copy(f"COPY {name} ({', '.join(copy_cols)}) FROM STDIN WITH (FORMAT csv)") as copy:
            for batch in table.select(copy_cols).to_batches(max_chunksize=COPY_CHUNK_ROWS):
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, opts)
                copy.write(buf.getbuffer())


def _changed_elements(old: object, new: object) -> str:
    """Top-level elements that differ; extensions by URL tail; the lineage extension as 'lineage'."""
    a = old if isinstance(old, dict) else json.loads(old)  # type: ignore[arg-type]
    b = new if isinstance(new, dict) else json.loads(new)  # type: ignore[arg-type]
    changed = {k for k in set(a) | set(b) if k != "extension" and a.get(k) != b.get(k)}

    def by_url(res: dict) -> dict[str, list]:
        out: dict[str, list] = {}
        for e in res.get("extension", []):
            out.setdefault(e.get("url", ""), []).append(e)
        return out

    ea, eb = by_url(a), by_url(b)
    for url in set(ea) | set(eb):
        if ea.get(url) != eb.get(url):
            changed.add("lineage" if url == systems.EXT_LINEAGE else f"extension[{url.rsplit('/', 1)[-1]}]")
    return ";".join(sorted(changed))


def merge_partition(conn: Connection, staged, source: str, institution: str, day: date,
                    loaded_at: datetime) -> tuple[int, int, int, int, list[str], float]:
    """Merge the staged partition into ``fhir_resource`` and refresh marts; caller owns the transaction."""
    json_type = "JSON" if dialect(conn) == "duckdb" else "JSONB"
    if dialect(conn) == "postgresql":
        # The view and derive SQL is estimated costly enough to trigger JIT compilation, which costs
        # more than it saves on a partition's rows; SET LOCAL ends with the transaction.
        conn.exec_driver_sql("SET LOCAL jit = off")
    _stage(conn, staged, "_load_stage")
    part = {"s": source, "i": institution, "d": day, "t": loaded_at}
    q = conn.exec_driver_sql
    q("DROP TABLE IF EXISTS _load_diff")
    q("CREATE TEMP TABLE _load_diff (resource_type VARCHAR, id VARCHAR, action VARCHAR)")
    q("INSERT INTO _load_diff SELECT s.resource_type, s.id, "
      "CASE WHEN f.id IS NULL THEN 'insert' ELSE 'update' END FROM _load_stage s "
      "LEFT JOIN fhir_resource f ON f.resource_type = s.resource_type AND f.id = s.id "
      "WHERE f.id IS NULL OR f.content_hash <> s.content_hash")
    conn.execute(sa.text(
        "INSERT INTO _load_diff SELECT f.resource_type, f.id, 'delete' FROM fhir_resource f "
        "WHERE f.source = :s AND f.institution_code = :i AND f.partition_date = :d AND NOT EXISTS "
        "(SELECT 1 FROM _load_stage s WHERE s.resource_type = f.resource_type AND s.id = f.id)"), part)
    if dialect(conn) == "postgresql":  # the deletes and old-version reads below join it to the store
        q("ANALYZE _load_diff")
    counts = dict(conn.execute(sa.text("SELECT action, COUNT(*) FROM _load_diff GROUP BY action")).all())
    ins, upd, dele = (int(counts.get(a, 0)) for a in ("insert", "update", "delete"))
    q("DROP TABLE IF EXISTS _load_old")
    # Only updates and deletes have an old version; with none (a first load, new resources only)
    # the store, which holds every loaded day, is not read at all.
    replaced = "d.action IN ('update', 'delete')" if upd + dele else "1 = 0"
    q("CREATE TEMP TABLE _load_old AS SELECT f.* FROM fhir_resource f JOIN _load_diff d "
      f"ON d.resource_type = f.resource_type AND d.id = f.id WHERE {replaced}")
    _audit(conn, part)
    if upd + dele:
        q("DELETE FROM fhir_resource WHERE EXISTS (SELECT 1 FROM _load_diff d WHERE d.action IN ('update', 'delete') "
          "AND d.resource_type = fhir_resource.resource_type AND d.id = fhir_resource.id)")
    cols = ", ".join(STORE_COLUMNS)
    sel = ", ".join(f"CAST(s.resource AS {json_type}) AS resource" if c == "resource" else f"s.{c}"
                    for c in STORE_COLUMNS)
    # The new versions as a temporary table, which fills the store and feeds the marts: a view
    # over fhir_resource made every mart scan the whole store (growing with every day) again.
    q("DROP TABLE IF EXISTS _load_new")
    q(f"CREATE TEMP TABLE _load_new AS SELECT {sel} FROM _load_stage s JOIN _load_diff d "
      "ON d.resource_type = s.resource_type AND d.id = s.id WHERE d.action IN ('insert', 'update')")
    q("DROP TABLE _load_stage")  # the partition's text is not needed any more: free it before the marts
    q(f"INSERT INTO fhir_resource ({cols}) SELECT {cols} FROM _load_new")
    types = {r[0] for r in conn.execute(sa.text("SELECT DISTINCT resource_type FROM _load_diff"))}
    started = time.perf_counter()
    drop_changed_keys(conn)  # left over only if an earlier load on this connection rolled back
    marts = refresh_marts(conn, types, "_load_new", "_load_old") if types else []
    marts += apply_history(conn, set(marts), day)
    drop_changed_keys(conn)
    for t in ("_load_new", "_load_diff", "_load_old"):
        q(f"DROP TABLE IF EXISTS {t}")
    analyze_if_stale(conn, ["fhir_resource", *marts])
    return ins, upd, dele, staged.num_rows - ins - upd, marts, time.perf_counter() - started


def _audit(conn: Connection, part: dict) -> None:
    """One load_audit row per inserted, updated or deleted resource, written once.

    Why the changed elements first and one INSERT: load_audit only grows (every load of every
    day) and has no key, so an UPDATE per changed resource afterwards scanned the whole table
    each time, quadratic over a city day (found loading one: 70 updates of a small partition took 6 s).
    """
    updates = conn.execute(sa.text(
        "SELECT o.resource_type, o.id, o.resource, s.resource FROM _load_old o JOIN _load_stage s "
        "ON s.resource_type = o.resource_type AND s.id = o.id")).all()
    conn.exec_driver_sql("DROP TABLE IF EXISTS _load_changes")
    conn.exec_driver_sql("CREATE TEMP TABLE _load_changes (resource_type VARCHAR, id VARCHAR, changed_elements VARCHAR)")
    if updates:
        conn.execute(sa.text("INSERT INTO _load_changes VALUES (:rt, :id, :c)"),
                     [{"rt": rt, "id": rid, "c": _changed_elements(old, new)} for rt, rid, old, new in updates])
    conn.execute(sa.text(
        "INSERT INTO load_audit (resource_type, id, action, old_batch_id, new_batch_id, old_hash, new_hash, "
        "changed_elements, source, institution_code, partition_date, changed_at) "
        "SELECT d.resource_type, d.id, d.action, o.batch_id, s.batch_id, o.content_hash, s.content_hash, "
        "CASE WHEN d.action = 'update' THEN c.changed_elements END, :s, :i, :d, :t FROM _load_diff d "
        "LEFT JOIN _load_old o ON o.resource_type = d.resource_type AND o.id = d.id "
        "LEFT JOIN _load_stage s ON s.resource_type = d.resource_type AND s.id = d.id "
        "LEFT JOIN _load_changes c ON c.resource_type = d.resource_type AND c.id = d.id"), part)
    conn.exec_driver_sql("DROP TABLE _load_changes")


def load_partition(settings: Settings, source: str, institution: str, day: date) -> LoadReport:
    """Merge the FHIR Parquet of one partition into the warehouse, in one transaction."""
    started = time.perf_counter()
    files = partition_files(settings, source, institution, day)
    loaded_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    staged = read_partition(files, source, institution, day, loaded_at)
    engine = get_engine(settings.warehouse_url)
    migrate(engine)
    with engine.begin() as conn:
        ins, upd, dele, same, marts, mart_seconds = merge_partition(conn, staged, source, institution, day, loaded_at)
        conn.execute(sa.text(
            "INSERT INTO load_log VALUES (:s, :i, :d, :n, :ins, :upd, :del, :same, :m, :t)"),
            {"s": source, "i": institution, "d": day, "n": staged.num_rows, "ins": ins, "upd": upd, "del": dele,
             "same": same, "m": ";".join(marts), "t": loaded_at})
    total = time.perf_counter() - started
    return LoadReport(source, institution, day, tuple(str(f) for f in files), staged.num_rows,
                      ins, upd, dele, same, tuple(marts), total - mart_seconds, mart_seconds)
