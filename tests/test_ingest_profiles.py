"""Profile choice (onboarding pins, pattern specificity), raw chunking, name conventions."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from transforms.ingest import raw_store
from transforms.ingest.run import choose_profile
from transforms.ingest.submission_log import base_name
from transforms.settings import load_settings
from transforms.sources.profile import SourceProfile
from transforms.sources.records import Row


def _prof(pid: str, pattern: str, source: str = "lis") -> SourceProfile:
    return SourceProfile.model_validate({"id": pid, "source": source, "vendor": "v", "format": "hl7v2",
                                         "files": [{"pattern": pattern, "table": "lab_result"}]})


@pytest.mark.unit
def test_choose_profile_pin_specificity_and_ambiguity():
    profiles = {p.id: p for p in (_prof("generic", "*.hl7"), _prof("vendor", "oru_*.hl7"),
                                  _prof("other", "*.hl7"), _prof("his", "*.hl7", "his"))}
    prof, spec, why = choose_profile(profiles, [], "lis", "H1", "oru_20260301.hl7")
    assert prof.id == "vendor" and "oru_*.hl7" in why
    prof, _, why = choose_profile(profiles, [], "lis", "H1", "adt.hl7")
    assert prof is None and "generic" in why and "other" in why and "pin one" in why
    pins = [{"source": "lis", "institution": "H?", "profiles": ["other"]}]
    prof, _, why = choose_profile(profiles, pins, "lis", "H1", "adt.hl7")
    assert prof.id == "other" and why == "pinned other"
    prof, _, why = choose_profile(profiles, pins, "lis", "H1", "adt.csv")
    assert prof is None and "pinned" in why and "adt.csv" in why
    prof, _, why = choose_profile(profiles, [], "pacs", "H1", "x.hl7")
    assert prof is None and "no profile of source 'pacs'" in why


@pytest.mark.unit
def test_corr_suffix():
    assert base_name("mz_20260301_corr2.csv") == ("mz_20260301.csv", 2)
    assert base_name("mz_20260301.csv") == ("mz_20260301.csv", None)
    assert base_name("corr_file") == ("corr_file", None)


@pytest.mark.local
def test_raw_writer_streams_in_row_groups(rhp_home, monkeypatch):
    monkeypatch.setattr(raw_store, "CHUNK_ROWS", 2)
    settings = load_settings()
    day = date(2026, 3, 1)
    lineage = raw_store.lineage_for("b" * 16, "lis", "p", "H1", day, "lis/H1/2026-03-01/x.hl7")
    with raw_store.RawPartition(settings, "lis", "H1", day) as part:
        w = part.writer("lab_result", lineage)
        for i in range(5):
            w.add(Row("lab_result", {"report_no": f"R{i}"}, line=i + 1, raw=f"r{i}"))
        staged = w.close()
        path = raw_store.partition_dir(settings, "lab_result", "lis", "H1", day) / staged.name
        assert staged.parent != path.parent and not path.exists()  # nothing visible before publish
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == 5 and meta.num_row_groups == 3
    t = pq.read_table(path)
    assert t.column("report_no").to_pylist() == [f"R{i}" for i in range(5)]
    assert t.column("_record_hash").to_pylist()[0] == raw_store.record_hash("r0")
    assert not list(path.parent.parent.glob(".*"))  # no staging folder left


@pytest.mark.local
def test_raw_writer_add_columns_matches_add(rhp_home, monkeypatch):
    """The column-block path writes the same rows and row groups as row-by-row ``add``."""
    monkeypatch.setattr(raw_store, "CHUNK_ROWS", 3)
    settings = load_settings()
    day = date(2026, 3, 1)
    tables = []
    for kind in ("rows", "columns"):
        lineage = raw_store.lineage_for(kind, "his", "p", "H1", day, "his/H1/2026-03-01/x.csv")
        with raw_store.RawPartition(settings, "his", "H1", day) as part:
            w = part.writer("encounter", lineage)
            if kind == "rows":
                for i in range(7):
                    w.add(Row("encounter", {"encounter_no": f"E{i}"}, line=i + 2, raw=f"r{i}"))
            else:
                w.add_columns({"encounter_no": [f"E{i}" for i in range(4)]}, [2, 3, 4, 5], [f"r{i}" for i in range(4)])
                w.add_columns({"encounter_no": [f"E{i}" for i in range(4, 7)]}, [6, 7, 8], [f"r{i}" for i in range(4, 7)])
            name = w.close().name
        path = raw_store.partition_dir(settings, "encounter", "his", "H1", day) / name
        assert pq.ParquetFile(path).metadata.num_row_groups == 3
        tables.append(pq.read_table(path).drop_columns(["_batch_id"]))
    assert tables[0].equals(tables[1])
