"""互认 lookup latency and throughput on DuckDB and PostgreSQL, as ratios to a floor.

Usage (full size, what the issue asks for):
  PYTHONPATH=. .venv/bin/python -m bench.bench_lookup --engine both --rows 10000000 --persons 1000000
Smaller: ``--rows 1000000 --persons 100000``. PostgreSQL admin URL: ``RHP_TEST_PG_URL``
(default postgresql+psycopg://postgres@localhost:5432/postgres); a database ``rhp_bench_lookup``
is (re)created. DuckDB goes to ``/tmp/rhp_bench_lookup.duckdb``.

What it does per engine:
1. migrate, then generate ``--rows`` lab results for ``--persons`` residents straight into
   ``recognition_index`` with generate_series / range (17 catalogued LOINC items, 3 labs, 5 %
   preliminary), one encounter per resident at HOSP-A, the demo group memberships;
2. in-process: ``--requests`` lookups (access check + index read + rules + lookup row) against
   a ``SELECT 1`` floor;
3. over loopback: the service under uvicorn in its own process, a client in a second process
   (httpx, threads) sending lookups sequentially (latency) and with ``--concurrency`` workers
   (throughput), against the ``/health`` floor. Every request is authenticated and audited.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ITEMS = ["14749-6", "4548-4", "718-7", "6690-2", "777-3", "789-8", "14682-9", "1742-6", "1920-8", "14647-2",
         "14927-8", "14646-4", "22748-8", "2951-2", "2823-3", "14933-6", "1988-5"]
PG_ADMIN = os.environ.get("RHP_TEST_PG_URL", "postgresql+psycopg://postgres@localhost:5432/postgres")
DUCK_PATH = Path(tempfile.gettempdir()) / "rhp_bench_lookup.duckdb"
AT = datetime(2026, 10, 10, 12, 0)

_GEN = """
INSERT INTO recognition_index (result_id, item_kind, item_code, hr_item_code, person_key, result_time,
    report_time, performing_institution, reporting_institution, ordering_institution, status, value_num,
    value_text, unit, ref_low, ref_high, abnormal_flag, report_id, modality, study_uid, cloud_film_url,
    loaded_at, indexed_at)
SELECT 'B' || CAST(g AS VARCHAR), 'lab', ({items})[1 + CAST((g / {persons}) % 17 AS INTEGER)], NULL,
       md5(CAST(g % {persons} AS VARCHAR)) || md5(CAST(g % {persons} + 1 AS VARCHAR)),
       TIMESTAMP '2026-01-01 08:00:00' + CAST((g * 37) % 280 AS INTEGER) * INTERVAL '1 day',
       TIMESTAMP '2026-01-01 10:00:00' + CAST((g * 37) % 280 AS INTEGER) * INTERVAL '1 day',
       ({insts})[1 + CAST(g % 3 AS INTEGER)], ({insts})[1 + CAST(g % 3 AS INTEGER)], 'HOSP-A',
       CASE WHEN g % 20 = 0 THEN 'preliminary' ELSE 'final' END, CAST(g % 100 AS DOUBLE PRECISION) / 10,
       NULL, 'mmol/L', 3.9, 6.1, NULL, 'R' || CAST(g AS VARCHAR), NULL, NULL, NULL,
       TIMESTAMP '2026-10-01 00:00:00', TIMESTAMP '2026-10-01 00:00:00'
FROM {series}
{order}
"""
_ENC = """
INSERT INTO fact_encounter (encounter_id, person_key, institution_code, encounter_class, start_time)
SELECT 'E' || CAST(g AS VARCHAR), md5(CAST(g AS VARCHAR)) || md5(CAST(g + 1 AS VARCHAR)), 'HOSP-A', 'O',
       TIMESTAMP '2026-03-01 09:00:00'
FROM {series}
"""


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _person(i: int) -> str:
    import hashlib

    return hashlib.md5(str(i).encode()).hexdigest() + hashlib.md5(str(i + 1).encode()).hexdigest()


def setup(engine_name: str, rows: int, persons: int) -> tuple[str, dict]:
    import sqlalchemy as sa

    from transforms.recognition.demo_data import MEMBERSHIPS
    from transforms.warehouse.db import get_engine, migrate

    if engine_name == "postgresql":
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(sa.text('DROP DATABASE IF EXISTS "rhp_bench_lookup" WITH (FORCE)'))
            c.execute(sa.text('CREATE DATABASE "rhp_bench_lookup"'))
        admin.dispose()
        url = PG_ADMIN.rsplit("/", 1)[0] + "/rhp_bench_lookup"
    else:
        for p in (DUCK_PATH, Path(str(DUCK_PATH) + ".wal")):
            p.unlink(missing_ok=True)
        url = f"duckdb:///{DUCK_PATH}"
    eng = get_engine(url)
    migrate(eng)
    pg = engine_name == "postgresql"
    arr = (lambda xs: "ARRAY[" + ", ".join(f"'{x}'" for x in xs) + "]") if pg else \
        (lambda xs: "[" + ", ".join(f"'{x}'" for x in xs) + "]")
    series = "generate_series(0, {n}) AS t(g)" if pg else "range(0, {n}) AS t(g)"
    timings = {}
    t0 = time.perf_counter()
    with eng.begin() as c:
        if pg:  # bulk load without indexes, then build them (what a reload would do)
            c.exec_driver_sql("DROP INDEX IF EXISTS recognition_index_lookup")
            c.exec_driver_sql("ALTER TABLE recognition_index DROP CONSTRAINT IF EXISTS recognition_index_pkey")
        c.execute(sa.text(_GEN.format(items=arr(ITEMS), insts=arr(["LAB-C", "HOSP-A", "HOSP-B"]), persons=persons,
                                      series=series.format(n=rows - 1 if pg else rows),
                                      order="" if pg else "ORDER BY 5, 3")))  # as a full refresh_index writes
        c.execute(sa.text(_ENC.format(series=series.format(n=persons - 1 if pg else persons))))
        c.execute(sa.text("INSERT INTO dim_group_membership (institution_code, group_code, role, valid_from, valid_to) "
                          "VALUES (:a, :b, :c, :d, :e)"), [dict(zip("abcde", m, strict=True)) for m in MEMBERSHIPS])
    timings["load_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    with eng.begin() as c:
        if pg:
            c.exec_driver_sql("ALTER TABLE recognition_index ADD PRIMARY KEY (result_id)")
            c.exec_driver_sql("CREATE INDEX recognition_index_lookup ON recognition_index "
                              "(person_key, item_code, result_time)")
    if pg:
        with eng.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("ANALYZE")
    timings["index_s"] = time.perf_counter() - t0
    with eng.connect() as c:
        timings["rows"] = c.execute(sa.text("SELECT COUNT(*) FROM recognition_index")).scalar()
    return url, timings


def existing(engine_name: str, rows: int) -> tuple[str, dict] | None:
    """The URL of a bench database already holding ``rows`` index rows (``--reuse``), else None."""
    import sqlalchemy as sa

    url = (PG_ADMIN.rsplit("/", 1)[0] + "/rhp_bench_lookup") if engine_name == "postgresql" \
        else f"duckdb:///{DUCK_PATH}"
    try:
        eng = sa.create_engine(url)
        with eng.connect() as c:
            n = c.execute(sa.text("SELECT COUNT(*) FROM recognition_index WHERE result_id LIKE 'B%'")).scalar()
        eng.dispose()
    except Exception:
        return None
    if n != rows:
        return None
    from transforms.warehouse.db import get_engine, migrate

    migrate(get_engine(url))
    with get_engine(url).begin() as c:  # forget earlier runs' lookups
        c.execute(sa.text("DELETE FROM recognition_lookup"))
    return url, {"reused": True, "rows": n}


def in_process(url: str, persons: int, n: int) -> dict:
    """Three paths: read only; read + lookup rows with a durable commit; the same with async commit."""
    import sqlalchemy as sa

    from transforms.api_security.access import relationship_basis
    from transforms.recognition.lookup import lookup
    from transforms.warehouse.db import get_engine

    eng = get_engine(url)
    pg = eng.dialect.name == "postgresql"
    floor: list[float] = []
    for _ in range(n):
        t = time.perf_counter()
        with eng.begin() as c:
            c.execute(sa.text("SELECT 1")).scalar()
        floor.append(time.perf_counter() - t)
    out = {"floor_p50_ms": statistics.median(floor) * 1e3}
    for label, record, sync in [("read_only", False, True), ("durable_commit", True, True),
                                ("async_commit", True, False)]:
        if not pg and not sync:
            continue
        rnd = random.Random(7)
        lat, found = [], 0
        for _ in range(n):
            pk = _person(rnd.randrange(persons))
            items = rnd.sample(ITEMS, 3)
            t = time.perf_counter()
            with eng.begin() as c:
                if not sync:
                    c.exec_driver_sql("SET LOCAL synchronous_commit = off")
                assert relationship_basis(c, pk, "HOSP-A", AT.date()) == "encounter"
                found += len(lookup(c, pk, items, "HOSP-A", at=AT, record=record).results)
            lat.append(time.perf_counter() - t)
        out[label] = {"p50_ms": statistics.median(lat) * 1e3, "p99_ms": _pct(lat, 0.99) * 1e3,
                      "results_per_lookup": found / n}
    eng.dispose()
    return out


def client(base: str, token: str, persons: int, n: int, concurrency: int, path: str) -> dict:
    """Runs in its own process: n requests, ``concurrency`` threads; returns latencies and throughput."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    rnd = random.Random(11)
    reqs = [(_person(rnd.randrange(persons)), ",".join(rnd.sample(ITEMS, 3))) for _ in range(n)]
    headers = {"Authorization": f"Bearer {token}", "X-Purpose-Of-Use": "treatment"}

    def one(c: httpx.Client, req: tuple[str, str]) -> float:
        t = time.perf_counter()
        r = c.get(path, params={"person_key": req[0], "items": req[1]}) if path.endswith("lookup") else c.get(path)
        if r.status_code != 200:
            raise RuntimeError(f"{r.status_code}: {r.text[:200]}")
        return time.perf_counter() - t

    clients = [httpx.Client(base_url=base, headers=headers, timeout=30) for _ in range(concurrency)]
    for c in clients:
        one(c, reqs[0])  # warm connections
    t0 = time.perf_counter()
    if concurrency == 1:
        lat = [one(clients[0], r) for r in reqs]
    else:
        with ThreadPoolExecutor(concurrency) as ex:
            lat = list(ex.map(lambda ir: one(clients[ir[0] % concurrency], ir[1]), enumerate(reqs)))
    wall = time.perf_counter() - t0
    return {"n": n, "concurrency": concurrency, "p50_ms": statistics.median(lat) * 1e3,
            "p99_ms": _pct(lat, 0.99) * 1e3, "rps": n / wall}


def over_http(url: str, persons: int, n: int, concurrency: int, port: int, sync_commit: bool = True) -> dict:
    from transforms.api_security.tokens import create_token

    tokens = Path(tempfile.mkdtemp()) / "tokens.json"
    token = create_token("bench", "clinician", "HOSP-A", tokens)
    env = {**os.environ, "RHP_API_TOKENS_FILE": str(tokens), "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
           "RHP_AUDIT_SYNC_COMMIT": "on" if sync_commit else "off"}
    server = subprocess.Popen([sys.executable, "-m", "plugins.rhp_api.serve", "--app", "recognition", "--port",
                               str(port), "--warehouse-url", url], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        import httpx

        for _ in range(200):
            try:
                if httpx.get(base + "/rhp-recognition/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        out = {}
        for label, path, conc in [("floor_health", "/rhp-recognition/health", 1),
                                  ("sequential", "/rhp-recognition/lookup", 1),
                                  ("concurrent", "/rhp-recognition/lookup", concurrency)]:
            cmd = [sys.executable, "-m", "bench.bench_lookup", "client", "--base", base, "--token", token,
                   "--persons", str(persons), "--requests", str(n), "--concurrency", str(conc), "--path", path]
            res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
            out[label] = json.loads(res.stdout.strip().splitlines()[-1])
        return out
    finally:
        server.terminate()
        server.wait(10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.bench_lookup")
    ap.add_argument("mode", nargs="?", default="run", choices=["run", "client"])
    ap.add_argument("--engine", default="both", choices=["duckdb", "postgresql", "both"])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--persons", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--port", type=int, default=8088)
    ap.add_argument("--base")
    ap.add_argument("--token")
    ap.add_argument("--path", default="/rhp-recognition/lookup")
    ap.add_argument("--reuse", action="store_true", help="keep an already loaded database of the same size")
    a = ap.parse_args(argv)
    if a.mode == "client":
        print(json.dumps(client(a.base, a.token, a.persons, a.requests, a.concurrency, a.path)))
        return 0
    engines = ["duckdb", "postgresql"] if a.engine == "both" else [a.engine]
    report = {"machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu, {platform.python_version()}",
              "date": datetime.now().isoformat(timespec="minutes"), "rows": a.rows, "persons": a.persons,
              "requests": a.requests, "concurrency": a.concurrency, "engines": {}}
    for name in engines:
        url, timings = (existing(name, a.rows) if a.reuse else None) or setup(name, a.rows, a.persons)
        from transforms.warehouse.db import _engine_for

        report["engines"][name] = {"setup": timings, "in_process": in_process(url, a.persons, a.requests)}
        _engine_for.cache_clear()  # release the DuckDB file for the server process
        report["engines"][name]["http"] = over_http(url, a.persons, a.requests, a.concurrency, a.port)
        if name == "postgresql":
            report["engines"][name]["http_async_commit"] = over_http(url, a.persons, a.requests, a.concurrency,
                                                                     a.port, sync_commit=False)
        print(json.dumps({name: report["engines"][name]}, indent=1), file=sys.stderr)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
