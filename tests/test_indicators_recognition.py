"""互认率 and the repeat-test rate as indicators: hand-computed, and equal to the lookup service's rates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from tests.marts_ddl import insert
from tests.test_indicators import NOV, T1, build
from transforms.indicators.engine import compute
from transforms.indicators.model import load_indicators
from transforms.recognition.outcomes import recognition_rates

pytestmark = pytest.mark.local


def _outcome(i: int, inst: str, outcome: str, eligible: bool, justified: bool | None) -> dict:
    return {"outcome_id": f"O{i}", "lookup_id": f"L{i}", "item_code": "14749-6", "outcome": outcome,
            "reason_code": None if outcome == "accepted" else ("patient_request" if justified else "other"),
            "justified": justified, "eligible": eligible, "price_yuan": Decimal("12.50"),
            "requesting_institution": inst, "person_key": f"P{i}", "recorded_by": "dr",
            "recorded_at": datetime(2026, 11, 10 + i, 9)}


def test_recognition_indicators_match_hand_values_and_the_service(tmp_path):
    eng = build(f"duckdb:///{tmp_path}/w.duckdb")
    with eng.begin() as c:
        insert(c, "recognition_outcome", [
            _outcome(1, "H1", "accepted", True, None),
            _outcome(2, "H1", "accepted", True, None),
            _outcome(3, "C1", "accepted", True, None),
            _outcome(4, "H1", "retested", True, False),   # unjustified repeat
            _outcome(5, "C2", "retested", True, True),    # justified: not a repeat in the rate
            _outcome(6, "H1", "accepted", False, None),   # not eligible: outside both rates
        ])
    inds = load_indicators()
    with eng.connect() as c:
        rec = {v.dimension_value: v for v in compute(c, inds["MR_RECOGNITION_RATE"], NOV, "region", as_of=T1)}
        rep = {v.dimension_value: v for v in compute(c, inds["MR_REPEAT_TEST_RATE"], NOV, "region", as_of=T1)}
        by_inst = {v.dimension_value: v for v in compute(c, inds["MR_RECOGNITION_RATE"], NOV, "institution",
                                                         as_of=T1)}
        service = recognition_rates(c, date(2026, 11, 1), date(2026, 12, 1))[0]
    assert (rec["ALL"].numerator, rec["ALL"].denominator, rec["ALL"].value) == (3, 5, 60.0)
    assert (rep["ALL"].numerator, rep["ALL"].denominator, rep["ALL"].value) == (1, 5, 20.0)
    assert by_inst["H1"].value == pytest.approx(2 / 3 * 100, abs=1e-3)
    assert service["recognition_rate"] * 100 == rec["ALL"].value
    assert service["repeat_test_rate"] * 100 == rep["ALL"].value
