"""Readers: one per format, driven by a profile; encodings, BOM, drift, rejects."""

from __future__ import annotations

import json

import pytest

from transforms.ingest.readers import iter_records
from transforms.ingest.textio import ReadNotes
from transforms.ingest.values import NOT_APPLICABLE
from transforms.sources.profile import SourceProfile
from transforms.sources.records import Reject, Row

pytestmark = pytest.mark.unit

COLS = {"流水号": "encounter_no", "机构": "institution_code", "姓名": "patient_name",
        "类型": "encounter_class", "时间": "start_time", "床位费": "total_cost"}


def profile(fmt: str = "csv", encoding: str = "auto", **spec) -> SourceProfile:
    base = {"pattern": "*", "table": "encounter", "columns": COLS}
    base.update(spec)
    return SourceProfile.model_validate({"id": "t", "source": "his", "vendor": "t", "format": fmt,
                                         "encoding": encoding, "files": [base]})


def read(path, prof):
    notes = ReadNotes()
    recs = list(iter_records(path, prof, prof.files[0], notes=notes))
    return recs, notes


HEADER = "流水号,机构,姓名,类型,时间,床位费"


def test_csv_maps_header_and_keeps_three_states(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(f"{HEADER}\nE1,H1,张三,门诊,2026-03-01 08:00,/\nE2,H1,李四,门诊,2026-03-01 09:00,\n",
                 encoding="utf-8")
    recs, notes = read(p, profile())
    assert [type(r) for r in recs] == [Row, Row]
    assert recs[0].values["encounter_no"] == "E1" and recs[0].line == 2
    assert recs[0].values["total_cost"] == NOT_APPLICABLE  # "/" is neither 0 nor missing
    assert recs[1].values["total_cost"] is None
    assert recs[1].values["patient_name"] == "李四"
    assert notes.encoding == "utf-8" and not notes.unknown_columns


def test_every_not_applicable_spelling_becomes_the_marker_standardise_reads(tmp_path):
    from transforms.standardise.casting import NOT_APPLICABLE as STANDARDISE_NA

    p = tmp_path / "a.csv"
    p.write_text(f"{HEADER}\nE1,H1,张三,门诊,t,不适用\nE2,H1,李四,门诊,t, / \nE3,H1,王五,门诊,t,0\n", encoding="utf-8")
    recs, _ = read(p, profile(not_applicable_values=["/", "不适用"]))
    assert [r.values["total_cost"] for r in recs] == [NOT_APPLICABLE, NOT_APPLICABLE, "0"]
    assert NOT_APPLICABLE in STANDARDISE_NA


def test_csv_physical_lines_with_multiline_quote_and_column_count(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text(f'{HEADER}\nE1,H1,"张\n三",门诊,t,1\nE2,H1,王五,门诊,t\nE3,H1,赵六,门诊,t,3\n', encoding="utf-8")
    recs, _ = read(p, profile())
    assert isinstance(recs[0], Row) and recs[0].line == 2
    assert isinstance(recs[1], Reject) and recs[1].check_id == "ingest.csv.column_count"
    assert recs[1].line == 4 and "a.csv: line 4 has 5 columns" in recs[1].reason
    assert json.loads(recs[1].raw)["姓名"] == "王*"  # PII masked in the quarantine copy
    assert recs[2].line == 5


def test_missing_required_column_rejects_file_and_drift_is_noted(tmp_path):
    p = tmp_path / "a.csv"
    p.write_text("机构,姓名,类型,时间,新列\nH1,张三,门诊,t,x\n", encoding="utf-8")
    recs, notes = read(p, profile())
    assert len(recs) == 1 and recs[0].check_id == "ingest.schema.missing_required_columns"
    assert "流水号" in recs[0].reason and recs[0].extra["scope"] == "file"
    assert notes.unknown_columns == ["新列"]
    p.write_text("流水号,机构,姓名,类型,时间,新列\nE1,H1,张三,门诊,t,x\n", encoding="utf-8")
    recs, notes = read(p, profile())
    assert isinstance(recs[0], Row) and recs[0].values["total_cost"] is None
    assert notes.unknown_columns == ["新列"] and notes.absent_columns == ["床位费"]


def test_bom_and_gbk_auto_detected(tmp_path):
    body = f"{HEADER}\nE1,H1,张三,门诊,t,1\n"
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + body.encode("utf-8"))
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(body.encode("gbk"))
    for path, enc in ((bom, "utf-8-sig"), (gbk, "gb18030")):
        recs, notes = read(path, profile())
        assert notes.encoding == enc
        assert recs[0].values["encounter_no"] == "E1" and recs[0].values["patient_name"] == "张三"


def test_declared_utf8_with_gbk_line_is_accepted_and_flagged(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(f"{HEADER}\nE1,H1,张三,门诊,t,1\n".encode() + "E2,H1,李四,门诊,t,2\n".encode("gbk"))
    recs, notes = read(p, profile(encoding="utf-8"))
    assert [r.values["patient_name"] for r in recs] == ["张三", "李四"]
    assert notes.fallback_lines == [3] and "GB18030" in notes.summary()


def test_undecodable_bytes_reject_with_offset(tmp_path):
    p = tmp_path / "a.csv"
    good = f"{HEADER}\nE1,H1,张三,门诊,t,1\n".encode()
    p.write_bytes(good + b"E2,H1,\xff\xfe,x,t,2\n")
    recs, _ = read(p, profile(encoding="utf-8"))
    assert isinstance(recs[0], Row)
    bad = recs[1]
    assert isinstance(bad, Reject) and bad.check_id == "ingest.encoding" and bad.line == 3
    assert f"byte offset {len(good) + 6}" in bad.reason and "a.csv" in bad.reason


def test_declared_gbk_file_that_is_not_gbk(tmp_path):
    p = tmp_path / "a.csv"
    p.write_bytes(f"{HEADER}\n".encode("gbk") + b"E1,H1,\x80,x,t,1\n")
    recs, _ = read(p, profile(encoding="gbk"))
    assert recs[0].check_id == "ingest.encoding" and "not valid gbk" in recs[0].reason


def test_xlsx_streaming_reader(tmp_path):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "就诊"
    ws.append(HEADER.split(","))
    ws.append(["E1", "H1", "张三", "门诊", "2026-03-01", 12.0])
    ws.append(["E2", "H1", "李四", "门诊", "2026-03-01", "/"])
    ws.append(["E3", "H1", "王五", "门诊", "2026-03-01", 1, "多余"])
    p = tmp_path / "a.xlsx"
    wb.save(p)
    recs, _ = read(p, profile("xlsx", sheet="就诊"))
    assert recs[0].values["total_cost"] == "12" and recs[0].line == 2
    assert recs[1].values["total_cost"] == NOT_APPLICABLE
    assert recs[2].check_id == "ingest.xlsx.column_count" and recs[2].line == 4


def test_json_records_path_and_ndjson(tmp_path):
    cols = {"no": "encounter_no", "org.code": "institution_code", "patient.name": "patient_name"}
    doc = {"data": {"items": [{"no": "E1", "org": {"code": "H1"}, "patient": {"name": "张三"}, "x": 1},
                              {"no": "E2", "org": {"code": "H2"}}]}}
    p = tmp_path / "a.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    recs, notes = read(p, profile("json", columns=cols, records_path="data.items"))
    assert [(r.line, r.values["institution_code"]) for r in recs] == [(1, "H1"), (2, "H2")]
    assert recs[0].values["patient_name"] == "张三" and notes.unknown_columns == ["x"]
    nd = tmp_path / "a.ndjson"
    nd.write_text('{"no": "E1", "org": {"code": "H1"}}\n{broken\n\n{"no": "E3"}\n', encoding="utf-8")
    recs, _ = read(nd, profile("ndjson", columns=cols))
    assert [type(r).__name__ for r in recs] == ["Row", "Reject", "Row"]
    assert recs[1].check_id == "ingest.json.parse" and recs[1].line == 2 and recs[2].line == 4


def test_json_bad_document_is_one_file_reject(tmp_path):
    p = tmp_path / "a.json"
    p.write_text('{"data": [1,', encoding="utf-8")
    recs, _ = read(p, profile("json", columns={"no": "encounter_no"}, records_path="data"))
    assert len(recs) == 1 and recs[0].check_id == "ingest.json.parse" and recs[0].extra["scope"] == "file"


def test_csv_parse_error_rejects_the_record_and_continues(tmp_path):
    p = tmp_path / "a.csv"
    huge = "x" * 140_000  # past csv.field_size_limit: what an unbalanced quote produces
    p.write_text(f"{HEADER}\nE1,H1,张三,门诊,t,1\nE2,H1,{huge},门诊,t,2\nE3,H1,王五,门诊,t,3\n", encoding="utf-8")
    recs, _ = read(p, profile())
    assert [type(r).__name__ for r in recs] == ["Row", "Reject", "Row"]
    assert recs[1].check_id == "ingest.csv.parse" and recs[1].line == 3 and "field larger" in recs[1].reason
    assert recs[2].values["encounter_no"] == "E3" and recs[2].line == 4


_LINES = [HEADER, "E1,H1,张三,门诊,2026-03-01 08:00,/", " E2 , H1 ,李四,门诊,,NULL", "", "   ", "E3,H1,王五",
          "E4,H1,赵六,门诊,2026-03-01,-,extra", '"E5","H1","钱七","门诊","2026-03-01","1"', '"E6,多行\n续",H1,x,y,z,w',
          "E7,H1,孙八\r,门诊,t,1", "E8,H1,周九,门诊,t,不适用", "E9,H1,\x00,门诊,t,1", "E10,H1,吴十,急诊,t,2"]


@pytest.mark.parametrize("chunk", [16, 64, 1 << 20])
def test_csv_fast_path_equals_the_line_reader(tmp_path, monkeypatch, chunk):
    """Plain stretches (RowBlocks) and the csv-module reader give the same rows, rejects and notes,
    whatever the chunking and wherever the first non-plain line falls (quotes, CR, NUL, GBK)."""
    import random

    from transforms.ingest import readers

    monkeypatch.setattr(readers, "FAST_CHUNK", chunk)
    rnd = random.Random(chunk)
    prof = profile(not_applicable_values=["/", "不适用"])
    spec = prof.files[0]
    for case in range(40):
        body = [rnd.choice(_LINES[1:]) for _ in range(rnd.randint(0, 30))]
        eol = rnd.choice(["\n", "\r\n"])
        text = eol.join([HEADER, *body]) + rnd.choice(["", eol])
        data = text.encode(rnd.choice(["utf-8", "utf-8-sig", "gbk"]), errors="replace")
        if rnd.random() < 0.2:  # a GBK line in a UTF-8 file, or bytes valid in neither
            data += rnd.choice(["E11,H1,郑,门诊,t,1\n".encode("gbk"), b"E12,H1,\xff\xfe,x,t,1\n"])
        p = tmp_path / f"c{case}.csv"
        p.write_bytes(data)
        fast_notes, slow_notes = ReadNotes(), ReadNotes()
        fast = list(iter_records(p, prof, spec, notes=fast_notes))
        slow = list(readers._iter_csv_lines(p, prof, spec, slow_notes))
        assert fast == slow, (case, data)
        assert fast_notes == slow_notes, (case, data)
