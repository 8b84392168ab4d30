"""HL7 v2 reader on every public fixture file, plus synthetic malformed batches.

Expected outcomes follow the fixtures' READMEs: python-hl7's sample_bad_* files are
deliberately broken envelopes (python-hl7 itself raises on them: segment before MSH,
second BHS, second FHS); every other file is a valid message or lenient batch envelope.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from transforms.ingest.readers import iter_records
from transforms.ingest.textio import ReadNotes
from transforms.settings import MAPPINGS_DIR
from transforms.sources.profile import SourceProfile, load_profile
from transforms.sources.records import Reject, Row

pytestmark = pytest.mark.unit

GENERIC = MAPPINGS_DIR / "sources" / "hl7v2_generic.yaml"
R = "row"
# file -> (table chosen by the profile's patterns, outcome per message in order)
EXPECTED: dict[str, tuple[str, list[str]]] = {
    "python-hl7-samples/ORU_R01_glucose_GHH_LAB.hl7": ("lab_result", [R, R]),  # two OBX
    "python-hl7-samples/batch_FHS_BHS_ADT_A04.hl7": ("encounter", [R]),
    "python-hl7-samples/repetition_components_sample.hl7": ("encounter", [R]),
    "python-hl7-samples/sample_batch.hl7": ("encounter", [R]),
    "python-hl7-samples/sample_batch1.hl7": ("encounter", [R, R]),
    "python-hl7-samples/sample_batch2.hl7": ("encounter", [R, R]),
    "python-hl7-samples/sample_batch3.hl7": ("encounter", [R]),  # BHS without BTS: lenient
    "python-hl7-samples/sample_batch4.hl7": ("encounter", [R]),  # BTS without BHS: lenient
    "python-hl7-samples/sample_file1.hl7": ("encounter", [R, R, R]),  # two batches
    "python-hl7-samples/sample_file2.hl7": ("encounter", [R, R]),
    "python-hl7-samples/sample_file3.hl7": ("encounter", [R]),
    "python-hl7-samples/sample_file4.hl7": ("encounter", [R]),
    "python-hl7-samples/sample_file5.hl7": ("encounter", [R]),
    "python-hl7-samples/sample_file6.hl7": ("encounter", [R]),
    "python-hl7-samples/sample_bad_batch.hl7": ("encounter", ["ingest.hl7.missing_msh"]),
    "python-hl7-samples/sample_bad_batch1.hl7": ("encounter", ["ingest.hl7.envelope"]),
    "python-hl7-samples/sample_bad_file.hl7": ("encounter", ["ingest.hl7.missing_msh"]),
    "python-hl7-samples/sample_bad_file1.hl7": ("encounter", ["ingest.hl7.envelope"]),
    "python-hl7-samples/sample_bad_file2.hl7": ("encounter", ["ingest.hl7.envelope"]),
    "python-hl7-samples/sample_bad_file3.hl7": ("encounter", ["ingest.hl7.missing_msh"]),
    "microsoft-fhir-converter-hl7v2/ADT-A01-02.hl7": ("encounter", [R]),
    "microsoft-fhir-converter-hl7v2/OML-O21-02.hl7": ("encounter", [R]),  # BOM, carries ORM^O01
    "microsoft-fhir-converter-hl7v2/ORM-O01-01.hl7": ("encounter", [R]),  # BOM
    "microsoft-fhir-converter-hl7v2/ORU-R01-RMGEAD.hl7": ("lab_result", [R]),
}


def _read(path: Path, prof: SourceProfile):
    spec = prof.spec_for(path.name)
    notes = ReadNotes()
    return spec, list(iter_records(path, prof, spec, notes=notes)), notes


def test_every_fixture_file_is_listed(fixtures_dir):
    found = {f"{p.parent.name}/{p.name}" for d in ("python-hl7-samples", "microsoft-fhir-converter-hl7v2")
             for p in (fixtures_dir / d).glob("*.hl7")}
    assert found == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_outcome(fixtures_dir, name):
    prof = load_profile(GENERIC)
    spec, recs, notes = _read(fixtures_dir / name, prof)
    table, outcomes = EXPECTED[name]
    assert spec.table == table
    got = [R if isinstance(r, Row) else r.check_id for r in recs]
    assert got == outcomes
    for r in recs:
        if isinstance(r, Reject):
            assert Path(name).name in r.reason and r.message_id
            assert "XXXXXXXXXX" not in r.raw  # PID-5 masked in the quarantine copy
            json.loads(r.raw)
    if "microsoft" in name and name.endswith(("OML-O21-02.hl7", "ORM-O01-01.hl7")):
        assert notes.encoding == "utf-8-sig"


def test_oru_values_follow_profile_paths(fixtures_dir):
    prof = load_profile(GENERIC)
    _, recs, _ = _read(fixtures_dir / "microsoft-fhir-converter-hl7v2/ORU-R01-RMGEAD.hl7", prof)
    v = recs[0].values
    assert (v["report_no"], v["institution_code"], v["item_code"], v["unit"], v["abnormal_flag"]) == (
        "CNTRL-3456", "ELAB-3", "1554-5", "mg/dl", "H")
    assert v["patient_name"] == "EVERYWOMAN" and v["birth_date"] == "19620320" and v["order_no"] == "845439"
    assert recs[0].message_id == "CNTRL-3456" and recs[0].line == 4


def _lab_profile() -> SourceProfile:
    return SourceProfile.model_validate({
        "id": "t", "source": "lis", "vendor": "t", "format": "hl7v2", "encoding": "auto",
        "files": [{"pattern": "*", "table": "lab_result", "repeat_segment": "OBX", "columns": {
            "MSH-10": "report_no", "PID-3.1": "patient_local_id", "PID-5.1": "patient_name",
            "OBR-4.1": "order_no", "OBX-3.1": "item_code", "OBX-3.2": "item_name", "OBX-5": "value",
            "OBX-3.1.2": "device"}}]})


def _msg(cid: str, obx: list[str], pid: str = "PID|1||P1||王^小明") -> str:
    return "\r".join([f"MSH|^~\\&|LIS|H1|||20260301||ORU^R01|{cid}|P|2.5", pid, "OBR|1|||GLU", *obx])


@pytest.mark.parametrize("eol", ["\r", "\n", "\r\n"])
def test_batch_with_malformed_messages_continues(tmp_path, eol):
    msgs = [
        _msg("M1", ["OBX|1|NM|GLU^葡萄糖||5.6", "OBX|2|NM|K^钾||4.1"]),
        _msg("M2", ["OBX|1|NM|GLU||5.6", "O\\X|bad"]),
        _msg("M3", []),
        _msg("M4", ["OBX|1|ST|TXT^说明\\T\\备注||a\\F\\b"]),
        _msg("M5", ["OBX|1|NM|GLU||5.6"]).replace("^~\\&", "^^\\&", 1),
    ]
    body = "FHS|^~\\&\rBHS|^~\\&\r" + "\r".join(msgs) + "\rBTS|5\rFTS|1\r"
    p = tmp_path / "oru.hl7"
    p.write_bytes(b"\xef\xbb\xbf" + body.replace("\r", eol).encode("utf-8"))
    recs = list(iter_records(p, _lab_profile(), _lab_profile().files[0], notes=ReadNotes()))
    got = [(r.message_id, "row" if isinstance(r, Row) else r.check_id) for r in recs]
    assert got == [("M1", "row"), ("M1", "row"), ("M2", "ingest.hl7.bad_segment"),
                   ("M3", "ingest.hl7.no_repeat_segment"), ("M4", "row"), ("M5", "ingest.hl7.bad_msh")]
    assert [r.values["item_code"] for r in recs[:2]] == ["GLU", "K"]
    assert recs[1].values["patient_name"] == "王" and recs[1].values["order_no"] == "GLU"
    assert recs[4].values["item_name"] == "说明&备注" and recs[4].values["value"] == "a|b"
    assert recs[0].raw != recs[1].raw  # one record hash per OBX, not per message
    assert "M2" in recs[2].reason and "oru.hl7" in recs[2].reason
    assert "小明" not in recs[3].raw  # masked


def test_gbk_hl7_and_undecodable_message(tmp_path):
    p = tmp_path / "oru.hl7"
    good = _msg("G1", ["OBX|1|NM|GLU^葡萄糖||5.6"]).encode("gbk")
    bad = _msg("B1", ["OBX|1|NM|GLU||5.6"]).encode() .replace(b"P1", b"\xff\xff")
    p.write_bytes(good + b"\r" + bad)
    prof = _lab_profile()
    recs = list(iter_records(p, prof, prof.files[0], notes=ReadNotes()))
    assert recs[0].values["item_name"] == "葡萄糖"
    assert recs[1].check_id == "ingest.hl7.encoding" and "byte offset" in recs[1].reason


@pytest.mark.parametrize("path", ["PID-3", "PID-3.1", "PID-5.1", "OBX-5", "OBX-3.2", "MSH-10", "OBR-7.1",
                                  "PID-3.2", "OBX-3.1.1", "ZZ1-4.1"])
def test_plain_field_shortcut_equals_hl7apy(path):
    """The shortcut for fields without separators must give exactly what hl7apy gives."""
    from hypothesis import example, given, settings
    from hypothesis import strategies as st

    from transforms.ingest.hl7v2 import extract, extract_hl7apy, parse_path

    p = parse_path(path)
    enc = "|^~\\&"
    plain = st.text(st.characters(blacklist_characters="|^~\\&\r\n", blacklist_categories=("Cs",)),
                    min_size=1, max_size=20)

    @settings(max_examples=40, deadline=None)
    @given(plain)
    @example(" ")  # whitespace only: hl7apy blanks it for composite types (found by this test)
    def check(text):
        assert extract(text, p.seg, p.field, p.comp, p.sub, "2.5", enc) == \
            extract_hl7apy(text, p.seg, p.field, p.comp, p.sub, "2.5", enc)

    check()


@pytest.mark.parametrize("eol", ["\r", "\r\n"])
def test_splitter_same_result_across_read_chunks(tmp_path, monkeypatch, eol):
    """Segments and offsets do not depend on where the 1 MiB read boundaries fall."""
    from transforms.ingest import hl7v2

    body = "\r".join(_msg(f"M{i}", [f"OBX|1|NM|GLU^葡萄糖||{i}"]) for i in range(6))
    p = tmp_path / "oru.hl7"
    p.write_bytes(b"\xef\xbb\xbf" + body.replace("\r", eol).encode("utf-8"))
    whole = [(s.number, s.text) for s in hl7v2.iter_segments(p, "auto", ReadNotes())]
    monkeypatch.setattr(hl7v2, "CHUNK", 7)
    small = [(s.number, s.text) for s in hl7v2.iter_segments(p, "auto", ReadNotes())]
    assert small == whole and len(whole) == 24 and whole[0][1].startswith("MSH|")


def test_undecodable_msh_starts_its_own_rejected_message(tmp_path):
    p = tmp_path / "oru.hl7"
    m1 = _msg("A1", ["OBX|1|NM|GLU||5.6"]).encode()
    m2 = _msg("A2", ["OBX|1|NM|GLU||5.7"]).encode().replace(b"LIS", b"\xff\xfe\xfd", 1)
    m3 = _msg("A3", ["OBX|1|NM|GLU||5.8"]).encode()
    p.write_bytes(b"\r".join([m1, m2, m3]))
    prof = _lab_profile()
    recs = list(iter_records(p, prof, prof.files[0], notes=ReadNotes()))
    assert [(type(r).__name__, r.message_id) for r in recs] == [("Row", "A1"), ("Reject", "A2"), ("Row", "A3")]
    assert recs[1].check_id == "ingest.hl7.encoding" and recs[1].line == 5
