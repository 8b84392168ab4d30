"""near_duplicate: the same event keyed twice under another id within minutes; pandas and SQL agree."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from transforms.validation.catalogue import load_catalogue
from transforms.validation.checktypes import failing_mask
from transforms.validation.sql import flags_query

pytestmark = pytest.mark.unit


def _frame() -> pd.DataFrame:
    t = pd.Timestamp("2026-11-01 09:00")
    rows = [  # person, inst, class, doctor, time, id
        ("P1", "H1", "O", "D1", t, "E1"),
        ("P1", "H1", "O", "D1", t + pd.Timedelta(minutes=2), "E1R"),   # re-entered: fails
        ("P1", "H1", "O", "D1", t + pd.Timedelta(minutes=40), "E2"),   # a later real visit: passes
        ("P2", "H1", "O", "D1", t + pd.Timedelta(minutes=1), "E3"),    # another resident: passes
        ("P1", "H1", "O", "D2", t + pd.Timedelta(minutes=3), "E4"),    # another doctor: passes
        ("P3", "H1", "O", "D1", t, "E5"),
        ("P3", "H1", "O", "D1", t, "E5"),                              # exact copy, same id: not this check
    ]
    return pd.DataFrame(rows, columns=["person_key", "institution_code", "encounter_class", "practitioner_id",
                                       "start_time", "encounter_no"])


def test_pandas_and_sql_forms_flag_only_the_reentered_visit():
    check = next(c for c in load_catalogue() if c.check_id == "encounter.near_duplicate")
    df = _frame()
    mask = failing_mask(df, check)
    assert mask.tolist() == [False, True, False, False, False, False, False]
    con = duckdb.connect()
    con.register("enc", df.assign(_rid=range(len(df))))
    flags = [bool(r[1]) for r in con.execute(flags_query("enc", [check], "duckdb")).fetchall()]
    assert flags == mask.tolist()


@pytest.mark.postgres
def test_sql_form_on_postgres(pg_url):
    import sqlalchemy as sa

    check = next(c for c in load_catalogue() if c.check_id == "encounter.near_duplicate")
    df = _frame().assign(_rid=range(7))
    eng = sa.create_engine(pg_url)
    with eng.begin() as c:
        df.to_sql("enc", c, index=False)
    with eng.connect() as c:
        flags = [bool(r[1]) for r in c.exec_driver_sql(flags_query("enc", [check], "postgresql"))]
    eng.dispose()
    assert flags == failing_mask(_frame(), check).tolist()
