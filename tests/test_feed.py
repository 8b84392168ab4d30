"""The operations feed: contracts enforced, small cells suppressed, nothing identifying exported."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest

from tests.test_indicators import build
from transforms.feed.contract import check_against_lock, load_contracts, read_lock
from transforms.feed.export import ContractViolation, build_feed, export_feeds
from transforms.settings import load_settings

pytestmark = pytest.mark.local


def test_contract_lock_is_current():
    """A schema change under a pinned major version is a breaking change and must bump it."""
    assert check_against_lock(load_contracts(), read_lock()) == []


def test_breaking_change_is_detected():
    contracts = load_contracts()
    c = contracts["volumes"]
    changed = c.model_copy(update={"columns": [*c.columns[:-1], c.columns[-1].model_copy(update={"type": "decimal"})]})
    problems = check_against_lock({"volumes": changed}, read_lock())
    assert problems and "bump the major version" in problems[0]
    bumped = changed.model_copy(update={"version": "2.0"})
    assert check_against_lock({"volumes": bumped}, read_lock()) == []


def test_export_suppresses_small_cells_and_writes_contracted_parquet(rhp_home):
    settings = load_settings()
    eng = build(settings.warehouse_url)
    result = export_feeds(settings, date(2026, 11, 15))
    assert set(result["feeds"]) == set(load_contracts())
    # the hand-built month has 6 encounters: every volumes cell is below k=5 except none -> all suppressed
    vol = pq.read_table(settings.exports / "ops_feed" / "volumes" / "v1" / "period_month=2026-11" / "part-0.parquet")
    rows = vol.to_pylist()
    assert rows and all(r["suppressed"] for r in rows) and all(r["encounters"] is None for r in rows)
    assert vol.schema.names == ["period_month", "institution_code", "encounter_class", "encounters", "patients",
                                "suppressed"]
    with eng.connect() as conn:
        for c in load_contracts().values():
            cols = [col.name for col in c.columns]
            assert "person_key" not in cols
    # with k=1 nothing is suppressed and the counts are the hand-computed ones
    c = load_contracts()["volumes"].model_copy(update={"k_min": 1})
    with eng.begin() as conn:
        build_feed(conn, c, date(2026, 11, 1), date(2026, 12, 1), settings.exports / "ops_feed")
    rows = {(r["institution_code"], r["encounter_class"]): r for r in pq.read_table(
        settings.exports / "ops_feed" / "volumes" / "v1" / "period_month=2026-11" / "part-0.parquet").to_pylist()}
    assert rows[("C1", "O")]["encounters"] == 2 and rows[("H1", "I")]["encounters"] == 1
    assert rows[("C2", "O")]["patients"] == 2


def test_query_that_breaks_its_contract_fails(rhp_home):
    settings = load_settings()
    eng = build(settings.warehouse_url)
    c = load_contracts()["volumes"]
    bad = c.model_copy(update={"sql": "SELECT institution_code, COUNT(*) AS n FROM fact_encounter GROUP BY 1"})
    with eng.begin() as conn, pytest.raises(ContractViolation, match="contract declares"):
        build_feed(conn, bad, date(2026, 11, 1), date(2026, 12, 1), settings.exports / "ops_feed")


def test_feeds_doc_is_generated_and_current():
    from transforms.feed.docs import DOC, render

    assert DOC.read_text(encoding="utf-8") == render(), "run: python -m transforms.feed.docs"
