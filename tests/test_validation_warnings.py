"""Warning-severity findings are kept and loaded, but each is named in dq_warning with file and line."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest

from transforms.validation.catalogue import load_catalogue
from transforms.validation.run import WARNINGS_COL, warning_rows

pytestmark = pytest.mark.unit


def test_warning_rows_name_file_line_check_and_value():
    checks = {c.check_id: c for c in load_catalogue()}
    warn = next(c for c in checks.values() if c.severity == "warning" and c.table == "health_record"
                and "id_valid" in c.check_id)
    df = pd.DataFrame([
        {"_file": "public_health/C1/2026-11-01/jkda.csv", "_line": 12, "_message_id": None, "id_valid": False,
         WARNINGS_COL: warn.check_id},
        {"_file": "public_health/C1/2026-11-01/jkda.csv", "_line": 13, "_message_id": None, "id_valid": True,
         WARNINGS_COL: ""},
    ])
    rows = warning_rows("health_record", df, checks, "b1", "C1", date(2026, 11, 1), datetime(2026, 11, 2))
    assert len(rows) == 1
    r = rows[0]
    assert r["line_no"] == 12 and r["check_id"] == f"validate.{warn.check_id}"
    assert "jkda.csv line 12" in r["reason"] and "id_valid=False" in r["reason"]
