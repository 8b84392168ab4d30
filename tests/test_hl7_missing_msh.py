"""An ADT message that arrives without its MSH is quarantined, not glued onto the message before it."""

from __future__ import annotations

import pytest

from transforms.ingest.readers import iter_records
from transforms.settings import MAPPINGS_DIR
from transforms.sources.profile import load_profile
from transforms.sources.records import Reject, Row

pytestmark = pytest.mark.unit

MSH = "MSH|^~\\&|HIS|H1|RHP|RHP|20261101083000||ADT^A01|{id}|P|2.5"
BODY = "EVN|A01|20261101083000\rPID|1||P{n}^^^H1||张^三||19800101|M\rPV1|1|I|W1^01^1||||D1^王^医生|||||||||||V{n}"


def test_second_evn_pid_without_msh_is_its_own_rejected_message(tmp_path):
    text = "\r".join([MSH.format(id="M1"), BODY.format(n=1), BODY.format(n=2),
                      MSH.format(id="M3"), BODY.format(n=3)]) + "\r"
    path = tmp_path / "adt_20261101.hl7"
    path.write_text(text, encoding="utf-8")
    profile = load_profile(MAPPINGS_DIR / "sources" / "his_hl7v2_adt.yaml")
    recs = list(iter_records(path, profile, profile.files[0]))
    rows = [r for r in recs if isinstance(r, Row)]
    rejects = [r for r in recs if isinstance(r, Reject)]
    assert [r.message_id for r in rows] == ["M1", "M3"]
    assert len(rejects) == 1 and rejects[0].check_id == "ingest.hl7.missing_msh"
    assert "adt_20261101.hl7" in rejects[0].reason and "no MSH" in rejects[0].reason


def test_oru_second_patient_is_a_lost_msh_only_when_the_profile_says_one_patient_per_message(tmp_path):
    msh = "MSH|^~\\&|LIS|H1|RHP|RHP|20261101083000||ORU^R01|{id}|P|2.5"
    body = ("PID|1||P{n}^^^H1||张^三||19800101|M\rOBR|1|O{n}|R{n}|GLU^葡萄糖|||20261101070000\r"
            "OBX|1|NM|GLU^葡萄糖||5.6|mmol/L|3.9-6.1|N|||F")
    path = tmp_path / "oru_20261101.hl7"
    path.write_text("\r".join([msh.format(id="M1"), body.format(n=1), body.format(n=2)]) + "\r", encoding="utf-8")
    strict = load_profile(MAPPINGS_DIR / "sources" / "lis_hl7v2_oru.yaml")
    assert strict.hl7_one_patient_per_message
    recs = list(iter_records(path, strict, strict.files[0]))
    assert [type(r).__name__ for r in recs] == ["Row", "Reject"]
    assert recs[1].check_id == "ingest.hl7.missing_msh"
    lenient = strict.model_copy(update={"hl7_one_patient_per_message": False})
    assert all(isinstance(r, Row) for r in iter_records(path, lenient, lenient.files[0]))  # legal multi-patient ORU
