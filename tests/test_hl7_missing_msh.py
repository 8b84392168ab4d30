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
