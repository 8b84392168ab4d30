"""SIGKILL the pipeline part-way (inside the load transaction, or mid lake write) and rerun.

Property: after the rerun the warehouse is IDENTICAL to a clean run over the same landing
files — per table the same row count and the same order-independent digest of its rows
(``bench.soak.fingerprint``; wall-clock and run-id columns in ``VOLATILE_COLUMNS`` are left out,
and the append-only ``load_log`` is compared as its set of loaded partitions).

The pipeline runs in a child process (a small driver over ``transforms.pipeline.run_stage``)
that pauses at a chosen point and writes a marker file; the test then kills it with SIGKILL,
so nothing in the child gets to clean up — the same as a worker lost to the OOM killer.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from bench.soak import diff_fingerprints, fingerprint, table_fingerprint

REPO = Path(__file__).resolve().parent.parent
DAY = date(2026, 11, 1)
# Registry first (the others refer to it), then one HIS (CSV) and one LIS (HL7) partition.
PARTS = "registry/310114,his/H31011400101,lis/H31011400001"

# The child: run every stage of PARTS; optionally pause (marker + sleep) at one point.
#   RHP_TEST_PAUSE=load:N   after the marts of the N-th load are refreshed, before its COMMIT
#   RHP_TEST_PAUSE=write:N  at the N-th Parquet write of the run (ingest, standardise, validate, fhir)
# Nothing is left out: person_link.n_records is a sum over partitions (person_link_partition),
# so a rerun no longer inflates it (test_standardise_rerun_keeps_person_link below).
KNOWN_BUG_SKIP: dict[str, set[str]] = {}

DRIVER = r"""
import os, sys, time
from datetime import date
from pathlib import Path
import pyarrow.parquet as pq
import transforms.warehouse.load as load
from transforms.pipeline import PARTITION_STAGES, run_stage
from transforms.settings import load_settings

kind, _, nth = os.environ.get("RHP_TEST_PAUSE", ":0").partition(":")
nth = int(nth or 0)
marker = Path(os.environ["RHP_TEST_MARKER"])
calls = {"load": 0, "write": 0}

def hit(what):
    calls[what] += 1
    if what == kind and calls[what] == nth:
        marker.write_text(f"{what}:{nth}")
        time.sleep(600)

orig_refresh = load.refresh_marts
def refresh(*a, **k):
    out = orig_refresh(*a, **k)
    hit("load")
    return out
load.refresh_marts = refresh

orig_write = pq.ParquetWriter.write_table
def write(self, *a, **k):
    hit("write")
    return orig_write(self, *a, **k)
pq.ParquetWriter.write_table = write

settings = load_settings()
day = date.fromisoformat(sys.argv[1])
for part in sys.argv[2].split(","):
    src, inst = part.split("/")
    for stage in PARTITION_STAGES:
        run_stage(stage, settings, src, inst, day)
print("writes", calls["write"], "loads", calls["load"])
"""


def _env(home: Path, landing: Path, url: str | None, pause: str = "") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RHP_")}
    env.update(RHP_HOME=str(home), RHP_LANDING=str(landing), RHP_PSEUDONYM_KEY="test-key-not-a-secret",
               RHP_TEST_MARKER=str(home / "_paused"), RHP_TEST_PAUSE=pause, PYTHONPATH=str(REPO))
    if url:
        env["RHP_WAREHOUSE_URL"] = url
    return env


def run_driver(home: Path, landing: Path, url: str | None = None) -> str:
    """Run PARTS to completion; returns the driver's stdout (call counts)."""
    home.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([sys.executable, "-c", DRIVER, DAY.isoformat(), PARTS], cwd=REPO, timeout=240,
                          env=_env(home, landing, url), capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def run_and_kill(home: Path, landing: Path, pause: str, url: str | None = None) -> None:
    """Start the driver, wait until it reaches ``pause``, SIGKILL it, and check it really died."""
    home.mkdir(parents=True, exist_ok=True)
    marker = home / "_paused"
    marker.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, DAY.isoformat(), PARTS], cwd=REPO,
                            env=_env(home, landing, url, pause), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 240
    try:
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"driver ended (rc {proc.returncode}) before pause {pause}: "
                                     f"{proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"driver did not reach pause {pause} within 240 s")
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        proc.stderr.close()


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    """One tiny generated day, shared read-only by every run in this module."""
    from transforms.synth import generate

    out = tmp_path_factory.mktemp("kill_input")
    generate(out, DAY, 1, "tiny", 11, 0.03)
    return out / "landing"


@pytest.fixture(scope="module")
def clean_duckdb(tmp_path_factory, landing) -> tuple[dict, int]:
    """Fingerprint of an uninterrupted run, and how many Parquet writes that run made."""
    home = tmp_path_factory.mktemp("clean")
    out = run_driver(home, landing)
    writes = int(out.split()[1])
    fp = fingerprint(f"duckdb:///{home / 'warehouse.duckdb'}", KNOWN_BUG_SKIP)
    assert fp["fhir_resource"][0] > 0 and fp["fact_encounter"][0] > 0, fp  # the subset really loads data
    return fp, writes


@pytest.mark.local
@pytest.mark.parametrize("where", ["load:2", "write:mid"])
def test_kill9_then_rerun_equals_clean_run_duckdb(tmp_path, landing, clean_duckdb, where):
    clean, writes = clean_duckdb
    pause = f"write:{writes // 2}" if where == "write:mid" else where
    home = tmp_path / "faulted"
    url = f"duckdb:///{home / 'warehouse.duckdb'}"
    run_and_kill(home, landing, pause)
    if where.startswith("load"):
        # The killed transaction must not be visible: only the registry partition (committed
        # before the kill) is in the store, not the HIS partition that was being loaded.
        after_kill = fingerprint(url)
        loaded = after_kill["load_log"][0]
        assert loaded == 1, f"expected only the registry load committed, load_log has {loaded} partitions"
    run_driver(home, landing)
    assert diff_fingerprints(clean, fingerprint(url, KNOWN_BUG_SKIP)) == []


@pytest.mark.postgres
def test_kill9_in_load_then_rerun_equals_clean_run_postgres(tmp_path, landing, pg_url):
    import sqlalchemy as sa

    run_driver(tmp_path / "clean", landing, pg_url)
    clean = fingerprint(pg_url, KNOWN_BUG_SKIP)
    eng = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:  # empty the database again for the faulted run
        c.exec_driver_sql("DROP SCHEMA public CASCADE")
        c.exec_driver_sql("CREATE SCHEMA public")
    eng.dispose()
    home = tmp_path / "faulted"
    run_and_kill(home, landing, "load:2", pg_url)
    assert fingerprint(pg_url)["load_log"][0] == 1
    run_driver(home, landing, pg_url)
    assert diff_fingerprints(clean, fingerprint(pg_url, KNOWN_BUG_SKIP)) == []


@pytest.mark.local
def test_standardise_rerun_keeps_person_link(rhp_home, monkeypatch, landing):
    from transforms.pipeline import run_stage
    from transforms.settings import load_settings
    from transforms.warehouse.db import get_engine

    monkeypatch.setenv("RHP_LANDING", str(landing))
    settings = load_settings()
    run_stage("ingest", settings, "his", "H31011400101", DAY)

    def person_link() -> tuple[int, str]:
        run_stage("standardise", settings, "his", "H31011400101", DAY)
        with get_engine(settings.warehouse_url).connect() as conn:
            return table_fingerprint(conn, "person_link")

    first = person_link()
    assert first[0] > 0
    assert person_link() == first
