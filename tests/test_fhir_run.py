"""The FHIR stage on a tiny partition: NDJSON validity, Parquet shape, quarantine, rerun."""

from __future__ import annotations

import json
from datetime import date

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_fhir_builders import PK, sample

from transforms.fhir.run import PARQUET_COLS, fhir_partition
from transforms.fhir.validate import model_class
from transforms.settings import load_settings

DAY = date(2026, 11, 1)


def _write(base, table, rows, name="b1.parquet"):
    d = base / table / "source=his" / "institution=H1" / f"date={DAY.isoformat()}"
    d.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), d / name)


@pytest.mark.local
def test_partition_writes_valid_ndjson_and_parquet_and_quarantines(rhp_home):
    s = load_settings()
    labs = [sample("lab_result", _line=2), sample("lab_result", item_code="K", item_code_std=None, _line=3)]
    encs = [sample("encounter", _line=2),
            sample("encounter", encounter_no="E2", person_key=None, _line=3),  # identity unresolved
            sample("encounter", _line=4)]  # same business key twice
    _write(s.standard, "lab_result", labs)
    _write(s.standard, "encounter", [sample("encounter", encounter_no="OLD")])
    _write(s.lake / "validated", "encounter", encs)  # validated wins over standard

    rep = fhir_partition(s, "his", "H1", DAY)
    assert rep.input_layers == {"encounter": "validated", "lab_result": "standard"}
    assert (rep.rows_in, rep.rows_out, rep.rows_quarantined) == (5, 3, 2)
    assert rep.rows_in == rep.rows_out + rep.rows_quarantined
    assert rep.quarantine_checks == {"fhir.encounter.no_person_key": 1, "fhir.duplicate_id": 1}
    # two analytes of one report -> one DiagnosticReport with both results
    assert rep.resources == {"DiagnosticReport": 1, "Encounter": 1, "Observation": 2, "Provenance": 2,
                             "ServiceRequest": 1}

    nd = s.fhir / "ndjson" / "DiagnosticReport" / "source=his" / "institution=H1" / "date=2026-11-01.ndjson"
    (report,) = [json.loads(line) for line in nd.read_text(encoding="utf-8").splitlines()]
    assert len(report["result"]) == 2
    for path in (s.fhir / "ndjson").rglob("*.ndjson"):
        for line in path.read_text(encoding="utf-8").splitlines():
            res = json.loads(line)
            model_class(res["resourceType"]).model_validate(res)

    # one Provenance per (table, batch): together they target exactly the resources written
    written, targets = set(), set()
    for path in (s.fhir / "ndjson").rglob("*.ndjson"):
        for line in path.read_text(encoding="utf-8").splitlines():
            res = json.loads(line)
            if res["resourceType"] == "Provenance":
                targets.update(t["reference"] for t in res["target"])
                assert res["entity"][0]["what"]["display"].endswith("x.csv")
            else:
                written.add(f"{res['resourceType']}/{res['id']}")
    assert targets == written

    t = pq.read_table(s.fhir / "parquet" / "Observation" / "source=his" / "institution=H1" / "date=2026-11-01.parquet")
    assert tuple(t.column_names) == PARQUET_COLS
    assert set(t.column("person_key").to_pylist()) == {PK}
    assert sorted(t.column("_line").to_pylist()) == [2, 3]

    q = pq.read_table(s.quarantine / "fhir" / "source=his" / "institution=H1" / "date=2026-11-01.parquet").to_pylist()
    assert {r["check_id"] for r in q} == {"fhir.encounter.no_person_key", "fhir.duplicate_id"}
    assert all(r["stage"] == "fhir" and "x.csv line" in r["reason"] for r in q)

    # rerun with one type gone: the partition is replaced, not appended to
    for f in (s.standard / "lab_result").rglob("*.parquet"):
        f.unlink()
    rep2 = fhir_partition(s, "his", "H1", DAY)
    assert rep2.resources == {"Encounter": 1, "Provenance": 1}
    assert not list((s.fhir / "ndjson" / "Observation").rglob("*.ndjson"))
    assert len((s.fhir / "ndjson" / "Encounter").rglob("*.ndjson").__next__().read_text().splitlines()) == 1


@pytest.mark.local
def test_invalid_resource_goes_to_quarantine_with_error(rhp_home):
    s = load_settings()
    _write(s.standard, "lab_result", [sample("lab_result", result_status="Z")])  # no FHIR status
    rep = fhir_partition(s, "his", "H1", DAY)
    assert (rep.rows_out, rep.rows_quarantined) == (0, 1)
    (q,) = pq.read_table(s.quarantine / "fhir" / "source=his" / "institution=H1" / "date=2026-11-01.parquet").to_pylist()
    assert q["check_id"] == "fhir.Observation.invalid" and "status" in q["reason"]


@pytest.mark.local
def test_sample_rate_is_reported_and_bad_value_rejected(rhp_home, monkeypatch):
    s = load_settings()
    _write(s.standard, "lab_result", [sample("lab_result", item_code=f"I{i}", _line=i) for i in range(40)])
    monkeypatch.setenv("RHP_FHIR_VALIDATE_SAMPLE", "0.5")
    rep = fhir_partition(s, "his", "H1", DAY)
    assert rep.validate_sample_rate == 0.5 and 0 < rep.model_validated < 40 * 4
    monkeypatch.setenv("RHP_FHIR_VALIDATE_SAMPLE", "2")
    with pytest.raises(ValueError, match="RHP_FHIR_VALIDATE_SAMPLE"):
        fhir_partition(s, "his", "H1", DAY)


@pytest.mark.local
def test_diagnosis_takes_person_of_its_encounter(rhp_home):
    from transforms.fhir.ids import patient_id

    s = load_settings()
    _write(s.standard, "encounter", [sample("encounter")])
    _write(s.standard, "diagnosis", [sample("diagnosis", person_key=None, _line=2),
                                     sample("diagnosis", person_key=None, encounter_no="ELSEWHERE", _line=3)])
    rep = fhir_partition(s, "his", "H1", DAY)
    assert (rep.rows_out, rep.rows_quarantined) == (2, 1)
    assert rep.quarantine_checks == {"fhir.diagnosis.no_person_key": 1}
    nd = s.fhir / "ndjson" / "Condition" / "source=his" / "institution=H1" / "date=2026-11-01.ndjson"
    (cond,) = [json.loads(x) for x in nd.read_text(encoding="utf-8").splitlines()]
    assert cond["subject"]["reference"] == f"Patient/{patient_id(PK)}"
    t = pq.read_table(s.fhir / "parquet" / "Condition" / "source=his" / "institution=H1" / "date=2026-11-01.parquet")
    assert t.column("person_key").to_pylist() == [PK]


@pytest.mark.local
def test_quarantine_rows_reach_the_warehouse_and_are_replaced(rhp_home):
    import sqlalchemy as sa

    from transforms.warehouse.db import get_engine

    s = load_settings()
    _write(s.standard, "encounter", [sample("encounter", person_key=None, _line=2), sample("encounter", _line=3)])
    fhir_partition(s, "his", "H1", DAY)
    fhir_partition(s, "his", "H1", DAY)  # rerun: replaced, not doubled
    with get_engine(s.warehouse_url).connect() as c:
        got = c.execute(sa.text("SELECT check_id, dataset, line_no FROM quarantine WHERE stage = 'fhir'")).all()
    assert [tuple(r) for r in got] == [("fhir.encounter.no_person_key", "encounter", 2)]
