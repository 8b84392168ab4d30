"""Engine and migrations: one code path for DuckDB and PostgreSQL.

Why SQLAlchemy Core and plain SQL files: the marts are set-based SQL, and the two engines
differ only in a few spellings, which ``dialect`` exposes so callers can branch in one place.
Migrations are numbered SQL files in ``migrations/`` applied in order, each in its own
transaction, and recorded in ``schema_migrations``: a warehouse built by an older version
upgrades in place by applying only what it lacks.

Number ranges, one per module, so parallel work never collides:
0001-0099 core (submission log, quarantine, batches) · 0100 identity/terminology ·
0200 FHIR store · 0300 validation · 0400 marts · 0500 indicators · 0600 recognition ·
0700 quality report · 0800 operations feed.

A migration file holds statements separated by ``;``; comments are stripped first. Lines starting ``-- duckdb:`` or ``-- postgresql:``
are only run on that engine (the prefix is stripped), for the few places they differ.
"""

from __future__ import annotations

import os
import re
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


# DuckDB's defaults are 80 % of the machine's RAM and every core: a big partition or a growing
# warehouse would then take whatever memory there is. A fixed cap keeps the load's process well
# under 4 GB at any size (DuckDB spills joins, sorts and temporary tables to <database>.tmp/
# beyond it); override with RHP_DUCKDB_MEMORY_LIMIT / RHP_DUCKDB_THREADS.
DUCKDB_MEMORY_LIMIT = "2GB"
# DuckDB checkpoints (moves the WAL into the database file) after any commit that leaves more than
# checkpoint_threshold (16 MiB by default) in the WAL: with a district partition's JSON that was
# every load transaction, and a checkpoint rewrites the touched tables' row groups and the
# fhir_resource key index (~40 % of the store merge on a district day). The WAL is fsynced at every commit
# either way (a crash loses nothing committed; the WAL is replayed on open), and closing the
# database checkpoints; a larger threshold only checkpoints less often. RHP_DUCKDB_CHECKPOINT_THRESHOLD.
DUCKDB_CHECKPOINT_THRESHOLD = "1GB"


def duckdb_config() -> dict[str, str]:
    """Settings every DuckDB warehouse connection opens with (memory cap, checkpoint threshold, threads)."""
    config = {"memory_limit": os.environ.get("RHP_DUCKDB_MEMORY_LIMIT", DUCKDB_MEMORY_LIMIT),
              "checkpoint_threshold": os.environ.get("RHP_DUCKDB_CHECKPOINT_THRESHOLD", DUCKDB_CHECKPOINT_THRESHOLD)}
    if os.environ.get("RHP_DUCKDB_THREADS"):
        config["threads"] = os.environ["RHP_DUCKDB_THREADS"]
    return config


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    if url.startswith("duckdb:///"):
        Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(url, future=True, connect_args={"config": duckdb_config()})
    return sa.create_engine(url, future=True)


def get_engine(url: str) -> Engine:
    """A cached engine per URL (DuckDB allows one writer process per file)."""
    return _engine_for(url)


def dialect(engine_or_conn: Engine | Connection) -> str:
    """'duckdb' or 'postgresql'."""
    name = engine_or_conn.dialect.name
    return "duckdb" if name.startswith("duckdb") else name


def split_statements(sql: str, dialect_name: str) -> list[str]:
    """Split a SQL file into statements, keeping only this engine's ``-- <dialect>:`` lines."""
    lines = []
    for line in sql.splitlines():
        m = re.match(r"\s*--\s*(duckdb|postgresql):\s?(.*)$", line)
        if m:
            if m.group(1) == dialect_name:
                lines.append(m.group(2))
            continue
        if line.strip().startswith("--"):
            continue
        lines.append(re.sub(r"\s--\s.*$", "", line))  # trailing comment (migrations hold no '--' literals)
    text = "\n".join(lines)
    return [s.strip() for s in text.split(";") if s.strip()]


def applied_migrations(conn: Connection) -> set[str]:
    conn.execute(sa.text(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR PRIMARY KEY, applied_at TIMESTAMP)"
    ))
    return {r[0] for r in conn.execute(sa.text("SELECT version FROM schema_migrations"))}


def migrate(engine: Engine, directory: Path = MIGRATIONS_DIR, below: str | None = None) -> list[str]:
    """Apply every migration not yet applied; returns the versions applied now.

    ``below`` (e.g. ``"0100"``) applies only the versions that sort before it: early stages
    (ingest, standardise) need only their own tables and must keep working while a later
    module's migration is broken or mid-edit.
    """
    key = _memo_key(engine, directory, below)
    remembered = _MIGRATED.setdefault(engine.pool, set()) if key is not None else set()
    if key is not None and key in remembered:
        return []
    with _session_lock(engine, "migrate"):
        done = _apply_migrations(engine, directory, below)
    if key is not None:
        remembered.add(_memo_key(engine, directory, below))  # a new DuckDB file exists now
    return done


# Warehouses this process has brought up to date, per connection pool. Why: every partition of
# every stage opens a migrated transaction, and the check costs a transaction (~10 ms), hundreds
# of times a day. Keyed weakly by the pool, so ``engine.dispose()`` (a new pool) forgets it.
_MIGRATED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _memo_key(engine: Engine, directory: Path, below: str | None) -> tuple | None:
    """What must stay the same for a remembered migrate to hold, or None to never remember.

    The migration files (name, mtime, size) and, for DuckDB, the database file's identity: a
    new or edited migration, or a recreated warehouse file, runs the check again. An in-memory
    DuckDB is new per connection: never remembered.
    """
    url = engine.url
    identity = None
    if url.get_backend_name().startswith("duckdb"):
        if url.database in (None, "", ":memory:"):
            return None
        try:
            st = Path(url.database).stat()
            identity = (st.st_dev, st.st_ino)
        except OSError:
            identity = None
    files = tuple((p.name, st.st_mtime_ns, st.st_size) for p in sorted(directory.glob("*.sql"))
                  if below is None or p.stem < below for st in [p.stat()])
    return (str(directory), below, files, identity)


def _apply_migrations(engine: Engine, directory: Path, below: str | None) -> list[str]:
    done: list[str] = []
    with engine.begin() as conn:
        have = applied_migrations(conn)
    for path in sorted(directory.glob("*.sql")):
        version = path.stem
        if version in have or (below is not None and version >= below):
            continue
        with engine.begin() as conn:
            for stmt in split_statements(path.read_text(encoding="utf-8"), dialect(conn)):
                conn.exec_driver_sql(stmt)
            conn.execute(
                sa.text("INSERT INTO schema_migrations VALUES (:v, CURRENT_TIMESTAMP)"), {"v": version}
            )
        done.append(version)
    return done


def _lock_key(name: str) -> str:
    return f"rhp:{name}"


@contextmanager
def _session_lock(engine: Engine, name: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock for the block (no-op on DuckDB: one writer process).

    Why: two Celery workers starting on a fresh warehouse both run the migrations, and
    PostgreSQL's ``CREATE TABLE IF NOT EXISTS`` is not safe against a concurrent twin.
    """
    if dialect(engine) != "postgresql":
        yield
        return
    with engine.connect() as lock:
        lock.execute(sa.text("SELECT pg_advisory_lock(hashtext(:k))"), {"k": _lock_key(name)})
        lock.commit()
        try:
            yield
        finally:
            lock.execute(sa.text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": _lock_key(name)})
            lock.commit()


def advisory_lock(conn: Connection, name: str) -> None:
    """Serialise a read-modify-write on shared rows across worker processes, until the transaction ends.

    Why: partitions run at once on several workers, and a step that reads rows, merges in
    Python and writes them back (the person-link table) would otherwise lose updates or hit a
    unique key. PostgreSQL only: DuckDB allows one writer process, so it has nothing to race.
    """
    if dialect(conn) == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": _lock_key(name)})


def analyze_if_stale(conn: Connection, tables: list[str], fraction: float = 0.1, minimum: int = 10_000) -> list[str]:
    """ANALYZE each of ``tables`` changed by more than ``fraction`` of its rows since its last analyze.

    Why: the planner's row estimates of a table filled by bulk loads lag behind it unless
    autovacuum keeps up (it is off on some servers, and slow behind a day's bulk load): on a city
    day with a stale store every partition's diff against ``fhir_resource`` became a scan of
    the whole store. The threshold makes this a few ANALYZEs per table as it grows ×10, not one
    per partition. PostgreSQL only (DuckDB keeps its statistics itself); returns the tables analysed.
    """
    if dialect(conn) != "postgresql" or not tables:
        return []
    rows = conn.execute(sa.text(
        "SELECT s.relname, s.n_mod_since_analyze, GREATEST(c.reltuples, 0) FROM pg_stat_user_tables s "
        "JOIN pg_class c ON c.oid = s.relid WHERE s.relname = ANY(:t)"), {"t": list(tables)}).all()
    stale = sorted(name for name, mods, tuples in rows if mods > max(minimum, fraction * tuples))
    for name in stale:
        conn.exec_driver_sql(f'ANALYZE "{name}"')
    return stale


@contextmanager
def transaction(url: str) -> Iterator[Connection]:
    """A connection inside one transaction on a migrated warehouse."""
    engine = get_engine(url)
    migrate(engine)
    with engine.begin() as conn:
        yield conn


def replace_partition(conn: Connection, table: str, where: dict[str, object], rows: list[dict]) -> int:
    """Delete the partition named by ``where`` and insert ``rows``, in the caller's transaction.

    This is the idempotent write every stage uses: a rerun of the same partition replaces
    it, never appends. Column names come from code, values are bound parameters.
    """
    cond = " AND ".join(f"{k} = :w_{k}" for k in where) or "1=1"
    conn.execute(sa.text(f"DELETE FROM {table} WHERE {cond}"), {f"w_{k}": v for k, v in where.items()})
    if rows:
        cols = list(rows[0])
        stmt = sa.text(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join(':' + c for c in cols)})")
        conn.execute(stmt, rows)
    return len(rows)
