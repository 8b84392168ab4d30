"""Fuzz the HL7 v2 and CSV readers with malformed input (hypothesis).

Property: whatever bytes arrive, the reader never raises; it yields canonical rows and
rejects, and every reject names its check and the file, so it can land in quarantine.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from transforms.ingest.readers import iter_records
from transforms.settings import MAPPINGS_DIR
from transforms.sources.profile import load_profile
from transforms.sources.records import Reject, Row

pytestmark = pytest.mark.unit

HL7 = load_profile(MAPPINGS_DIR / "sources" / "hl7v2_generic.yaml")
CSV = load_profile(MAPPINGS_DIR / "sources" / "his_vendor_a_csv.yaml")
GOOD_ORU = (
    "MSH|^~\\&|LIS|H1|RHP|RHP|20261101083000||ORU^R01|MSG0001|P|2.5\r"
    "PID|1||P123^^^H1||张^三||19800101|M\r"
    "OBR|1|ORD1|REP1|GLU^葡萄糖|||20261101070000|||||||||||||||20261101080000\r"
    "OBX|1|NM|GLU^葡萄糖||5.6|mmol/L|3.9-6.1|N|||F\r"
)

hl7_noise = st.one_of(
    st.binary(max_size=600),
    st.text(alphabet=st.sampled_from(list("MSHPIDOBRX|^~\\&\r\n 0123456789.-张三")), max_size=400).map(str.encode),
    st.builds(lambda cut, junk: (GOOD_ORU[:cut] + junk).encode("utf-8"),
              st.integers(0, len(GOOD_ORU)), st.text(max_size=40)),
    st.builds(lambda junk, enc: (GOOD_ORU + junk).encode(enc, errors="replace"),
              st.text(max_size=40), st.sampled_from(["utf-8", "gbk", "utf-16", "latin-1"])),
)


def _check(path: Path, profile, spec) -> tuple[int, int]:
    rows = rejects = 0
    for rec in iter_records(path, profile, spec):
        assert isinstance(rec, (Row, Reject)), type(rec)
        if isinstance(rec, Reject):
            rejects += 1
            assert rec.check_id.startswith("ingest."), rec.check_id
            assert rec.reason and (path.name in rec.reason or "line" in rec.reason or "message" in rec.reason), rec.reason
        else:
            rows += 1
    return rows, rejects


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hl7_noise)
def test_hl7_reader_never_crashes(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("hl7") / "fuzz.hl7"
    path.write_bytes(data)
    spec = HL7.files[0]
    _check(path, HL7, spec)


csv_noise = st.one_of(
    st.binary(max_size=500),
    st.lists(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12), max_size=8),
             max_size=8).map(lambda rows: "\n".join(",".join(r) for r in rows).encode("utf-8")),
    st.builds(lambda enc, body: body.encode(enc, errors="replace"),
              st.sampled_from(["utf-8", "gbk", "utf-8-sig", "utf-16"]), st.text(max_size=200)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=csv_noise, with_header=st.booleans())
def test_csv_reader_never_crashes(tmp_path_factory, data, with_header):
    spec = CSV.files[0]
    header = ",".join(spec.columns).encode("utf-8") + b"\n" if with_header else b""
    path = tmp_path_factory.mktemp("csv") / "fuzz.csv"
    path.write_bytes(header + data)
    _check(path, CSV, spec)
