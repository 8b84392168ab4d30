"""The same mart checks pushed down to PostgreSQL give the same numerators as on DuckDB."""

from __future__ import annotations

import pytest

from tests.test_validation_run import check_marts


@pytest.mark.postgres
def test_validate_marts_pushdown_postgres(pg_url):
    check_marts(pg_url)
