"""HL7 v2 parse cost: hl7apy variants and our ingest path, as ratios to the ``hl7`` floor.

Usage: ``PYTHONPATH=. .venv/bin/python -m bench.bench_hl7 [--messages 1000] [--obx 5]``

All variants see the same synthetic ORU^R01 messages (MSH, PID, PV1, ORC, OBR, N×OBX),
with per-message patient ids, names, times and values, and item codes drawn from a
20-item dictionary (as in a real LIS day), plus the public fixture messages.
Variants:
  hl7               ``hl7.parse`` + reading the profile's fields (the floor)
  hl7_parse_only    ``hl7.parse`` alone
  hl7apy_full       ``hl7apy.parser.parse_message`` (default: groups, strict)
  hl7apy_tolerant   ``parse_message(find_groups=False, validation_level=TOLERANT)``
  hl7apy_segments   our splitter + ``parse_segment`` only for segments the profile needs
  ingest_nocache    our reader end to end (split, envelope, hl7apy per mapped field,
                    mapping to canonical rows) with the field cache cleared per message
  ingest            the same with the field cache (the production path)
"""

from __future__ import annotations

import argparse
import platform
import random
import tempfile
import time
from pathlib import Path

ITEMS = [(f"L{i:03d}", f"项目{i}", u) for i, u in enumerate(["mmol/L", "g/L", "U/L", "10^9/L"] * 5)]
COLUMNS = {
    "MSH-10": "report_no", "MSH-4.1": "institution_code", "PID-3.1": "patient_local_id",
    "PID-4.1": "id_number", "PID-5.1": "patient_name", "PID-7": "birth_date", "PID-8": "sex_code",
    "PV1-19.1": "encounter_no", "ORC-2.1": "order_no", "OBR-7": "specimen_time", "OBR-22": "report_time",
    "OBX-3.1": "item_code", "OBX-3.2": "item_name", "OBX-5": "value", "OBX-6.1": "unit",
    "OBX-7": "ref_range", "OBX-8": "abnormal_flag", "OBX-11": "result_status",
}


def synth_messages(n: int, obx: int, seed: int = 7) -> list[str]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        t = f"20260301{rnd.randint(7, 18):02d}{rnd.randint(0, 59):02d}00"
        segs = [
            f"MSH|^~\\&|LIS|H3101140000{i % 3 + 1}|RHP|REGION|{t}||ORU^R01^ORU_R01|M{i:08d}|P|2.5|||AL|NE|CHN|UNICODE UTF-8",
            f"PID|1||P{rnd.randint(1, 10**6):07d}^^^H1^PI|1101011990{rnd.randint(10**7, 10**8 - 1)}|"
            f"患者{i}^^^^^^L||19{rnd.randint(30, 99)}0{rnd.randint(1, 9)}1{rnd.randint(0, 9)}|{rnd.choice('MF')}|||"
            f"上海市嘉定区某路{i}号||1380000{i % 10000:04d}",
            f"PV1|1|O|检验科||||D{rnd.randint(1, 99):03d}||||||||||||V{i:08d}",
            f"ORC|RE|O{i:08d}|F{i:08d}||CM||||{t}|||||||||H31011400101",
            f"OBR|1|O{i:08d}|F{i:08d}|BIO^生化全项|||{t}|||||||||||||||{t}|||F",
        ]
        for k, (code, name, unit) in enumerate(rnd.sample(ITEMS, obx), start=1):
            segs.append(f"OBX|{k}|NM|{code}^{name}^L||{rnd.uniform(0.5, 200):.1f}|{unit}|1.0-100.0|"
                        f"{rnd.choice('NNNHL')}|||F|||{t}||ai|DEV{k}")
        out.append("\r".join(segs))
    return out


def fixture_messages(root: Path) -> list[str]:
    msgs = []
    for name in ("ORU-R01-RMGEAD.hl7", "ADT-A01-02.hl7", "ORM-O01-01.hl7"):
        raw = (root / "microsoft-fhir-converter-hl7v2" / name).read_bytes().decode("utf-8-sig")
        msgs.append(raw.replace("\r\n", "\r").replace("\n", "\r").strip("\r"))
    return msgs


def _paths():
    from transforms.ingest.hl7v2 import parse_path

    return [parse_path(k) for k in COLUMNS]


def run_hl7_parse_only(msgs: list[str]) -> None:
    import hl7

    for m in msgs:
        hl7.parse(m)


def run_hl7(msgs: list[str]) -> None:
    import hl7

    paths = _paths()
    for m in msgs:
        parsed = hl7.parse(m)
        for p in paths:
            try:
                seg = parsed.segment(p.seg)
                seg.extract_field(1, p.field, 1, p.comp or 1, p.sub or 1)
            except (KeyError, IndexError):
                pass


def run_hl7apy_full(msgs: list[str]) -> None:
    from hl7apy.parser import parse_message

    for m in msgs:
        parse_message(m)


def run_hl7apy_tolerant(msgs: list[str]) -> None:
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_message

    for m in msgs:
        parse_message(m, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)


def run_hl7apy_segments(msgs: list[str]) -> None:
    from hl7apy.consts import VALIDATION_LEVEL
    from hl7apy.parser import parse_segment

    needed = {p.seg for p in _paths()} | {"OBX"}
    for m in msgs:
        for s in m.split("\r"):
            if s[:3] in needed:
                parse_segment(s, version="2.5", validation_level=VALIDATION_LEVEL.TOLERANT)


def _profile():
    from transforms.sources.profile import SourceProfile

    return SourceProfile.model_validate({
        "id": "bench", "source": "lis", "vendor": "bench", "format": "hl7v2", "encoding": "utf-8",
        "files": [{"pattern": "*", "table": "lab_result", "repeat_segment": "OBX", "columns": COLUMNS}]})


def run_ingest(path: Path, nocache: bool) -> int:
    from transforms.ingest import hl7v2
    from transforms.ingest.readers import iter_records

    prof = _profile()
    hl7v2.extract.cache_clear()
    hl7v2._hl7apy_field.cache_clear()
    n = 0
    if nocache:
        mapper = hl7v2.MessageMapper(prof, prof.files[0])
        notes = hl7v2.ReadNotes()
        for msg in hl7v2.iter_messages(hl7v2.iter_segments(path, "utf-8", notes)):
            hl7v2.extract.cache_clear()
            hl7v2._hl7apy_field.cache_clear()
            n += sum(1 for _ in mapper.rows(msg, path))
        return n
    return sum(1 for _ in iter_records(path, prof, prof.files[0]))


def timed(fn, *args) -> float:
    """CPU seconds of this process (robust to other load on a shared 2-core machine)."""
    t = time.process_time()
    fn(*args)
    return time.process_time() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--obx", type=int, default=5)
    ap.add_argument("--fixtures", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "fixtures")
    args = ap.parse_args()
    msgs = synth_messages(args.messages, args.obx)
    if args.fixtures.is_dir():
        msgs += fixture_messages(args.fixtures)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "oru.hl7"
        path.write_text("FHS|^~\\&\rBHS|^~\\&\r" + "\r".join(msgs) + f"\rBTS|{len(msgs)}\rFTS|1\r", encoding="utf-8")
        run_hl7(msgs[:20])
        run_hl7apy_full(msgs[:5])  # warm imports and hl7apy's reference tables
        run_ingest(path, False)
        results = {
            "hl7": timed(run_hl7, msgs),
            "hl7_parse_only": timed(run_hl7_parse_only, msgs),
            "hl7apy_full": timed(run_hl7apy_full, msgs),
            "hl7apy_tolerant": timed(run_hl7apy_tolerant, msgs),
            "hl7apy_segments": timed(run_hl7apy_segments, msgs),
            "ingest_nocache": timed(run_ingest, path, True),
            "ingest": timed(run_ingest, path, False),
        }
    floor = results["hl7"]
    print(f"machine: {platform.machine()} {platform.python_version()}, messages: {len(msgs)} "
          f"(OBX per synthetic message: {args.obx})")
    print(f"{'variant':<18}{'CPU ms/message':>15}{'x hl7':>8}")
    for name, secs in results.items():
        print(f"{name:<18}{secs / len(msgs) * 1000:>15.3f}{secs / floor:>8.2f}")


if __name__ == "__main__":
    main()
