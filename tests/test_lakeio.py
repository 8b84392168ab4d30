"""lakeio.staged_partition: whole-or-nothing publishing, and the sweep of a killed run's leftovers."""

from __future__ import annotations

import subprocess
import sys

import pytest

from transforms.lakeio import staged_partition


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_staging_sweeps_leftovers_of_dead_processes_only(tmp_path):
    out = tmp_path / "date=2026-11-02"
    out.mkdir()
    (out / "old.parquet").write_text("old")
    dead, live = _dead_pid(), subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = [tmp_path / f".{out.name}.staging-{dead}-abc123", tmp_path / f".{out.name}.retired-{dead}-def456"]
        kept = [tmp_path / f".{out.name}.staging-{live.pid}-0a0b0c",  # another live writer's staging
                tmp_path / f".date=2026-11-03.staging-{dead}-abc123",  # another partition's
                tmp_path / f".{out.name}.staging-notapid"]  # not ours to judge
        for d in stale + kept:
            d.mkdir()
            (d / "x.parquet").write_text("x")
        with staged_partition(out) as staging:
            assert not any(d.exists() for d in stale)
            (staging / "new.parquet").write_text("new")
        assert all(d.exists() for d in kept)
        assert [p.name for p in out.iterdir()] == ["new.parquet"]
        leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(f".{out.name}."))
        assert leftovers == sorted(d.name for d in kept if d.name.startswith(f".{out.name}."))
    finally:
        live.kill()
        live.wait()


def test_failed_staging_keeps_the_published_partition(tmp_path):
    out = tmp_path / "p"
    out.mkdir()
    (out / "a.parquet").write_text("a")
    with pytest.raises(RuntimeError), staged_partition(out) as staging:
        (staging / "b.parquet").write_text("b")
        raise RuntimeError("disk full")
    assert [p.name for p in tmp_path.iterdir()] == ["p"] and [p.name for p in out.iterdir()] == ["a.parquet"]
