"""ingest_partition: submission log states, raw Parquet, quarantine, reconciliation, reruns."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import yaml

from transforms.canonical import LINEAGE_FIELDS, table
from transforms.ingest.run import discover_partitions, ingest_partition, submission_rows
from transforms.settings import MAPPINGS_DIR, load_settings
from transforms.warehouse.db import get_engine

DAY = date(2026, 3, 1)
SYNTHEA = ["patients", "encounters", "conditions", "observations", "medications", "immunizations",
           "organizations"]
HEADER = "流水号,机构,身份证号,姓名,类型,时间"
XLSX = {"id": "t_xlsx", "source": "his", "vendor": "t", "format": "xlsx",
        "files": [{"pattern": "mz_*.xlsx", "table": "encounter", "columns": {"流水号": "encounter_no"}}]}
PROFILE = {"id": "t_csv", "source": "his", "vendor": "t", "format": "csv", "encoding": "auto",
           "files": [{"pattern": "mz_*.csv", "table": "encounter", "columns": {
               "流水号": "encounter_no", "机构": "institution_code", "身份证号": "id_number",
               "姓名": "patient_name", "类型": "encounter_class", "时间": "start_time"}}]}


@pytest.fixture()
def env(rhp_home, tmp_path):
    pdir = tmp_path / "profiles"
    pdir.mkdir()
    (pdir / "t_csv.yaml").write_text(yaml.safe_dump(PROFILE, allow_unicode=True), encoding="utf-8")
    (pdir / "t_xlsx.yaml").write_text(yaml.safe_dump(XLSX, allow_unicode=True), encoding="utf-8")
    shutil.copy(MAPPINGS_DIR / "sources" / "synthea_csv.yaml", pdir)
    settings = load_settings()
    folder = settings.landing / "his" / "H1" / DAY.isoformat()
    folder.mkdir(parents=True)
    return settings, folder, pdir


SHANGHAI = ZoneInfo("Asia/Shanghai")  # the calendar's zone: deadlines are wall-clock times there


def _ts(when: datetime) -> float:
    return when.replace(tzinfo=SHANGHAI).timestamp()


def _write(folder: Path, name: str, rows: list[str], when: datetime = datetime(2026, 3, 1, 23, 0)) -> Path:
    p = folder / name
    p.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    os.utime(p, (_ts(when), _ts(when)))
    return p


def _log(settings) -> dict[str, dict]:
    return {Path(r["file_path"]).name: r for r in submission_rows(settings)}


def _quarantine(settings) -> list[dict]:
    with get_engine(settings.warehouse_url).connect() as c:
        return [dict(r._mapping) for r in c.execute(sa.text("SELECT * FROM quarantine ORDER BY line_no"))]


ROW1 = "E1,H1,110101199003071234,张三明,门诊,2026-03-01 08:00"
ROW2 = "E2,H1,110101199003075678,李四,门诊,2026-03-01 09:00"
BAD = "E3,H1,110101199003079999,王五"


@pytest.mark.local
def test_land_reconcile_quarantine_and_rerun(env):
    settings, folder, pdir = env
    _write(folder, "mz_0301.csv", [ROW1, BAD, ROW2])
    (folder / "_manifest.json").write_text(json.dumps({"files": {"mz_0301.csv": {"declared_count": 3}}}))
    rep = ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    f = rep.files[0]
    assert (f.status, f.rows_read, f.rows_landed, f.rows_quarantined, f.reconciled) == ("new", 3, 2, 1, True)
    raw = list((settings.raw / "encounter" / "source=his" / "institution=H1" / "date=2026-03-01").glob("*.parquet"))
    assert [p.stem for p in raw] == [f.batch_id]
    tab = pq.read_table(raw[0])
    assert tab.column_names == table("encounter").field_names + [x.name for x in LINEAGE_FIELDS]
    d = tab.to_pylist()
    assert [r["_line"] for r in d] == [2, 4] and d[0]["_file"] == "his/H1/2026-03-01/mz_0301.csv"
    assert len({r["_record_hash"] for r in d}) == 2 and d[0]["_profile"] == "t_csv"
    q = _quarantine(settings)
    assert len(q) == 1 and q[0]["check_id"] == "ingest.csv.column_count" and q[0]["line_no"] == 3
    assert "mz_0301.csv" in q[0]["reason"]
    assert "110101199003079999" not in q[0]["raw_record"] and "王五" not in q[0]["raw_record"]
    log = _log(settings)["mz_0301.csv"]
    assert (log["declared_count"], log["rows_read"], log["reconciled"], log["is_zero_report"]) == (3, 3, True, False)
    first_seen = log["first_seen_at"]
    # rerun: same partition replaced, nothing duplicated
    ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    assert len(submission_rows(settings)) == 1 and len(_quarantine(settings)) == 1
    assert len(list(raw[0].parent.glob("*.parquet"))) == 1
    assert _log(settings)["mz_0301.csv"]["first_seen_at"] == first_seen
    assert discover_partitions(settings) == [("his", "H1", DAY)]
    assert discover_partitions(settings, date(2026, 3, 2)) == []


@pytest.mark.local
def test_duplicate_late_zero_rejected(env):
    settings, folder, pdir = env
    _write(folder, "mz_0301.csv", [ROW1])
    shutil.copy(folder / "mz_0301.csv", folder / "mz_0301 (1).csv")
    os.utime(folder / "mz_0301 (1).csv", (_ts(datetime(2026, 3, 1, 23, 30)),) * 2)
    _write(folder, "mz_zero.csv", [])
    _write(folder, "mz_late.csv", [ROW2], when=datetime(2026, 3, 2, 7, 0))
    _write(folder, "unknown.txt", ["x"])
    (folder / "mz_broken.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    (folder / "_manifest.json").write_text(json.dumps({"files": {"mz_zero.csv": {"declared_count": 0}}}))
    rep = ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    log = _log(settings)
    assert log["mz_0301.csv"]["status"] == "new"
    dup = log["mz_0301 (1).csv"]
    assert dup["status"] == "duplicate" and dup["duplicate_of"] == log["mz_0301.csv"]["batch_id"]
    assert dup["rows_landed"] is None
    assert log["mz_zero.csv"]["is_zero_report"] is True and log["mz_zero.csv"]["rows_read"] == 0
    assert log["mz_late.csv"]["status"] == "late" and "deadline 2026-03-02 06:00" in log["mz_late.csv"]["status_reason"]
    assert log["mz_late.csv"]["arrival_time"] == datetime(2026, 3, 2, 7, 0)  # Shanghai wall clock, any server TZ
    assert log["unknown.txt"]["status"] == "rejected" and "unknown.txt" in log["unknown.txt"]["status_reason"]
    broken = log["mz_broken.xlsx"]
    assert broken["status"] == "rejected" and "mz_broken.xlsx: unreadable as xlsx" in broken["status_reason"]
    assert [q["check_id"] for q in _quarantine(settings)] == ["ingest.unreadable"]
    assert rep.rows_landed == 2
    ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    assert {k: v["status"] for k, v in _log(settings).items()} == {k: v["status"] for k, v in log.items()}


@pytest.mark.local
def test_corrected_supersedes_earlier_batch(env):
    settings, folder, pdir = env
    _write(folder, "mz_0301.csv", [ROW1, ROW2])
    ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    _write(folder, "mz_0301_corr1.csv", [ROW1], when=datetime(2026, 3, 1, 23, 50))
    rep = ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    log = _log(settings)
    orig, corr = log["mz_0301.csv"], log["mz_0301_corr1.csv"]
    assert corr["status"] == "corrected" and corr["supersedes"] == orig["batch_id"]
    assert orig["superseded_by"] == corr["batch_id"]
    part = settings.raw / "encounter" / "source=his" / "institution=H1" / "date=2026-03-01"
    assert [p.stem for p in part.glob("*.parquet")] == [corr["batch_id"]]
    assert pq.read_table(part).num_rows == 1
    assert [f.status for f in rep.files] == ["new", "corrected"]
    # same name re-sent with new bytes is also a correction
    _write(folder, "mz_0301_corr1.csv", [ROW2], when=datetime(2026, 3, 1, 23, 55))
    ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    rows = [r for r in submission_rows(settings) if r["file_path"].endswith("corr1.csv")]
    assert sorted(r["status"] for r in rows) == ["corrected", "corrected"]


@pytest.mark.local
def test_synthea_export_ingests_as_new_vendor(env, fixtures_dir):
    settings, _, pdir = env
    folder = settings.landing / "his" / "SYNTHEA" / DAY.isoformat()
    folder.mkdir(parents=True)
    src = fixtures_dir / "ohdsi-dbt-synthea-27patients-csv"
    for name in SYNTHEA:
        os.symlink(src / f"{name}.csv", folder / f"{name}.csv")  # read in place, never copied
    rep = ingest_partition(settings, "his", "SYNTHEA", DAY, profiles_dir=pdir)
    by = {Path(f.file).stem: f for f in rep.files}
    for name in SYNTHEA:
        with (src / f"{name}.csv").open(encoding="utf-8") as fh:
            records = sum(1 for _ in fh) - 1
        f = by[name]
        assert f.profile_id == "synthea_csv" and f.rows_read == records
        assert f.rows_landed + f.rows_quarantined == records and f.reconciled
        part = settings.raw / f.table / "source=his" / "institution=SYNTHEA" / "date=2026-03-01"
        assert pq.read_table(part / f"{f.batch_id}.parquet").num_rows == f.rows_landed
    assert by["observations"].table == "lab_result" and by["observations"].rows_landed == 990


@pytest.mark.postgres
def test_submission_log_on_postgres(env, pg_url, monkeypatch):
    settings, folder, pdir = env
    monkeypatch.setenv("RHP_WAREHOUSE_URL", pg_url)
    settings = load_settings()
    _write(folder, "mz_0301.csv", [ROW1, BAD])
    shutil.copy(folder / "mz_0301.csv", folder / "mz_copy.csv")
    os.utime(folder / "mz_copy.csv", (_ts(datetime(2026, 3, 2, 7, 0)),) * 2)
    for _ in range(2):
        ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    log = _log(settings)
    assert log["mz_0301.csv"]["status"] == "new" and log["mz_0301.csv"]["rows_quarantined"] == 1
    assert log["mz_copy.csv"]["status"] == "duplicate"
    assert len(_quarantine(settings)) == 1


@pytest.mark.local
def test_disk_full_fails_the_stage_and_keeps_the_published_partition(env, monkeypatch):
    settings, folder, pdir = env
    _write(folder, "mz_a.csv", [ROW1])
    _write(folder, "mz_b.csv", [ROW2])
    ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    part = settings.raw / "encounter" / "source=his" / "institution=H1" / "date=2026-03-01"
    before = sorted(p.name for p in part.iterdir())
    _write(folder, "mz_b.csv", [ROW2, ROW1], when=datetime(2026, 3, 1, 23, 40))  # new bytes: a new batch
    calls = {"n": 0}
    orig = pq.ParquetWriter.write_table

    def full_disk(self, *a, **k):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError(28, "No space left on device (test)")
        return orig(self, *a, **k)

    monkeypatch.setattr(pq.ParquetWriter, "write_table", full_disk)
    with pytest.raises(OSError, match="No space left"):
        ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    assert sorted(p.name for p in part.iterdir()) == before  # old partition whole, no temp files left
    monkeypatch.setattr(pq.ParquetWriter, "write_table", orig)
    rep = ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
    assert [f.status for f in rep.files] == ["new", "corrected"] and pq.read_table(part).num_rows == 3


@pytest.mark.local
def test_quarantine_log_clears_like_a_delete_per_batch(rhp_home):
    """``QuarantineLog`` batches the DELETEs and INSERTs of a partition but ends with the table a
    DELETE per ``clear`` (at that moment) and an INSERT per row would have left."""
    from transforms.ingest.quarantine import quarantine_row
    from transforms.ingest.run import QuarantineLog, migrate_core
    from transforms.sources.records import Reject

    engine = get_engine(load_settings().warehouse_url)
    assert migrate_core(engine) and migrate_core(engine) == []  # remembered per process

    def row(batch: str, n: int) -> dict:
        return quarantine_row(Reject("c", "r", line=n), n, batch, "encounter", "H1", DAY, "f", datetime(2026, 3, 1))

    def ids(conn) -> list[tuple[str, int]]:
        return sorted(conn.execute(sa.text("SELECT batch_id, line_no FROM quarantine")).fetchall())

    with engine.begin() as conn:  # an earlier run's rows
        seed = QuarantineLog(conn)
        for b in ("old", "keep", "sup"):
            seed.add(row(b, 0))
        seed.flush()
    with engine.begin() as conn:
        log = QuarantineLog(conn)
        log.clear("old")
        log.add(row("old", 1))
        log.add(row("new", 1))
        log.clear("new")  # e.g. superseded later in the same partition: its buffered row goes
        log.add(row("new", 2))
        log.flush()
        log.clear("old")  # already flushed: deleted at once
        log.clear("sup")
        log.add(row("sup", 3))
        log.flush()
        assert ids(conn) == [("keep", 0), ("new", 2), ("sup", 3)]


class _PerStatementLog:
    """The submission-log statements per file, as before ``PartitionLog`` (the reference)."""

    def __init__(self, conn, subs):
        from transforms.ingest import submission_log as slog

        self.conn, self.slog = conn, slog

    def classify_and_find(self, sub, table):
        return self.slog.classify_and_find(self.conn, sub, table)

    def upsert(self, sub, *, old):
        self.slog.upsert(self.conn, sub, old=old)

    def mark_superseded(self, old_batch, new_batch):
        self.slog.mark_superseded(self.conn, old_batch, new_batch)

    def flush(self):
        pass


@pytest.mark.local
def test_partition_log_writes_what_per_file_statements_wrote(env, monkeypatch):
    """One SELECT + one INSERT per partition: same log as a SELECT and an INSERT per file,
    with an original, its correction and a duplicate in one run, then a rerun with another correction."""
    from transforms.ingest import submission_log as slog

    settings, folder, pdir = env

    def scenario() -> list[dict]:
        for p in folder.iterdir():
            p.unlink()
        _write(folder, "mz_0301.csv", [ROW1, ROW2])
        _write(folder, "mz_0301_corr1.csv", [ROW1], when=datetime(2026, 3, 1, 23, 10))
        shutil.copy(folder / "mz_0301.csv", folder / "mz_copy.csv")
        os.utime(folder / "mz_copy.csv", (_ts(datetime(2026, 3, 1, 23, 20)),) * 2)
        _write(folder, "mz_other.csv", [ROW2, BAD], when=datetime(2026, 3, 2, 7, 0))
        ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
        _write(folder, "mz_0301_corr2.csv", [ROW2], when=datetime(2026, 3, 1, 23, 40))
        ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
        ingest_partition(settings, "his", "H1", DAY, profiles_dir=pdir)
        rows = [{k: v for k, v in r.items() if k != "first_seen_at"} for r in submission_rows(settings)]
        get_engine(settings.warehouse_url).dispose()
        return sorted(rows, key=lambda r: r["batch_id"])

    def reset() -> None:
        Path(settings.warehouse_url.removeprefix("duckdb:///")).unlink()
        shutil.rmtree(settings.lake, ignore_errors=True)

    batched = scenario()
    assert {r["status"] for r in batched} >= {"new", "corrected", "duplicate", "late"}
    reset()
    monkeypatch.setattr(slog, "PartitionLog", _PerStatementLog)
    assert scenario() == batched
