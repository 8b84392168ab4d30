"""The ONE list of official SQL-on-FHIR v2 test cases this runner does not pass yet.

Key: (engine, "file::title"), engine "duckdb", "postgresql" or "*" for both. Value: the reason.
Tests mark these ``xfail(strict=True)``, so fixing one without removing it here fails CI.
The report (``python -m transforms.warehouse.sof.report``) publishes this list.
"""

from __future__ import annotations

UNSUPPORTED: dict[tuple[str, str], str] = {
    # Empty: all 134 cases pass on both engines (see docs/conformance.md).
}


def reason_for(engine: str, case_id: str) -> str | None:
    return UNSUPPORTED.get((engine, case_id)) or UNSUPPORTED.get(("*", case_id))
