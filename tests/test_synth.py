"""Synthetic region generator: determinism, valid identities, honest defect manifest."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import pytest

from transforms.settings import MAPPINGS_DIR
from transforms.sources.calendar import expected_submissions, load_calendar
from transforms.sources.profile import load_profiles
from transforms.synth import generate
from transforms.synth.defects import arrival
from transforms.synth.refdata import mapped_codes

START = date(2026, 3, 2)
PROFILES = load_profiles(MAPPINGS_DIR / "sources")


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, START, 1, "tiny", 42, 0.0)
    return out


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate(out, START, 3, "tiny", 7, 0.05)
    return out


# ---- reading helpers (independent of the generator's writers) -----------------------------
def _profile_for(path: Path):
    name = path.name
    for prof in PROFILES.values():
        if prof.source != path.parts[-4]:
            continue
        spec = prof.spec_for(name)
        if spec is not None:
            return prof, spec
    return None, None


def _decode(raw: bytes, encoding: str) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8" if encoding in ("utf-8", "auto") else encoding)
    except UnicodeDecodeError:
        return raw.decode("gbk")


def _records(path: Path) -> list[tuple[str, dict[str, str]]]:
    """(locator, canonical-ish row with id_number / sex_code) for every record of a file."""
    prof, spec = _profile_for(path)
    inv = {canon: vendor for vendor, canon in spec.columns.items()}
    out = []
    if prof.format == "csv":
        text = _decode(path.read_bytes(), prof.encoding)
        for n, row in enumerate(csv.DictReader(io.StringIO(text)), 2):
            out.append((f"line {n}", {c: row.get(v, "") for c, v in inv.items()}))
    elif prof.format == "xlsx":
        from openpyxl import load_workbook

        ws = load_workbook(path, read_only=True)[spec.sheet]
        rows = list(ws.iter_rows(values_only=True))
        for n, vals in enumerate(rows[1:], 2):
            row = dict(zip(rows[0], vals, strict=True))
            out.append((f"line {n}", {c: row.get(v) or "" for c, v in inv.items()}))
    elif prof.format == "json":
        doc = json.loads(_decode(path.read_bytes(), "utf-8"))
        for n, rec in enumerate(doc["data"][spec.records_path.split(".")[1]], 1):
            row = {}
            for key, canon in spec.columns.items():
                node = rec
                for part in key.split("."):
                    node = node.get(part) if isinstance(node, dict) else None
                row[canon] = "" if node is None else str(node)
            out.append((f"record {n}", row))
    elif prof.format == "hl7v2":
        for msg in _decode(path.read_bytes(), "utf-8").split("\rMSH|")[1:]:
            segs = {s.split("|")[0]: s.split("|") for s in ("MSH|" + msg).split("\r") if s}
            if "PID" not in segs:
                continue
            pid = segs["PID"]
            sex = {"M": "1", "F": "2"}.get(pid[8] if len(pid) > 8 else "", "")
            out.append((segs["MSH"][9], {"id_number": pid[4] if len(pid) > 4 else "", "sex_code": sex}))
    return out


def _data_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "landing").rglob("*") if p.is_file() and p.name != "_manifest.json")


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


SEX_ZH = {"男": "1", "女": "2", "M": "1", "F": "2", "1": "1", "2": "2"}


# ---- configuration ------------------------------------------------------------------------
@pytest.mark.unit
def test_profiles_load_and_pins_resolve():
    from transforms.yamlio import load_yaml

    ids = {"his_vendor_a_csv", "his_vendor_b_xlsx", "his_vendor_b_csv", "his_hl7v2_adt", "lis_hl7v2_oru",
           "pacs_csv", "public_health_csv", "signing_json", "registry_csv"}
    assert ids <= set(PROFILES)
    pins = load_yaml(MAPPINGS_DIR / "sources" / "onboarding.yaml")["pins"]
    for pin in pins:
        for pid in pin["profiles"]:
            assert PROFILES[pid].source == pin["source"], pin
        for kind, did in (pin.get("dictionaries") or {}).items():
            assert (MAPPINGS_DIR / "concept_maps" / kind / f"{did}.csv").is_file(), (kind, did)
    headers_a = set(PROFILES["his_vendor_a_csv"].files[0].columns)
    headers_b = set(PROFILES["his_vendor_b_xlsx"].files[0].columns)
    assert "就诊流水号" in headers_a and "门诊号" in headers_b and not {"就诊流水号"} & headers_b


@pytest.mark.unit
def test_calendar_expectations_and_exceptions():
    cal = load_calendar(MAPPINGS_DIR / "submission_calendar.yaml")
    insts = [{"institution_code": "H31011400101", "inst_type": "chc"},
             {"institution_code": "H31011400201", "inst_type": "station"},
             {"institution_code": "H31010190001", "inst_type": "hospital"}]
    got = expected_submissions(cal, insts, START)
    by_inst = Counter(e.institution for e in got)
    assert by_inst["H31010190001"] == 0  # out-of-district exception
    assert ("his", "H31011400201", "his_prescription") not in got  # station exception
    assert ("his", "H31011400201", "his_encounter") in got
    assert ("public_health", "H31011400101", "ph_surveillance") in got
    assert cal.dataset("ph_surveillance").zero_report_required
    on_time = cal.local_time(arrival(START))  # the generator's on-time arrival
    assert on_time == datetime(2026, 3, 3, 2, 0)
    assert all(on_time <= cal.dataset(e.dataset).deadline.due(START) for e in got)


@pytest.mark.unit
def test_calendar_rejects_unknown_table(tmp_path):
    bad = tmp_path / "cal.yaml"
    bad.write_text("datasets:\n  - {id: x, source: his, table: nope, inst_types: [chc]}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="nope"):
        load_calendar(bad)


# ---- generated data -----------------------------------------------------------------------
def test_skipped_days_leave_later_days_unchanged(tmp_path, dirty):
    """A benchmark generates one late day alone (--skip-days): it must be that day of the full run."""
    late = tmp_path / "late"
    generate(late, START, 3, "tiny", 7, 0.05, skip_days=2)
    day3 = [p for p in (dirty / "landing").rglob("*") if p.is_file() and "2026-03-04" in p.as_posix()]
    assert day3
    for p in day3:
        assert (late / p.relative_to(dirty)).read_bytes() == p.read_bytes(), p
    written = {p.parent.name for p in (late / "landing").rglob("*") if p.is_file() and "registry" not in p.parts}
    assert written == {"2026-03-04"}
    with pytest.raises(ValueError, match="skip_days"):
        generate(tmp_path / "bad", START, 2, "tiny", 7, 0.05, skip_days=2)


@pytest.mark.local
def test_same_seed_gives_identical_files(tmp_path, dirty):
    again = tmp_path / "again"
    generate(again, START, 3, "tiny", 7, 0.05)
    assert _tree_digest(again) == _tree_digest(dirty)
    other = tmp_path / "other"
    generate(other, START, 1, "tiny", 8, 0.05)
    a = (dirty / "landing/his/H31011400001/2026-03-02/zd_20260302.csv")
    b = (other / "landing/his/H31011400001/2026-03-02/zd_20260302.csv")
    assert a.read_bytes() != b.read_bytes()


@pytest.mark.local
def test_clean_day_ids_valid_and_no_defects(clean):
    from stdnum.cn import ric

    manifest = json.loads((clean / "_defects_manifest.json").read_text(encoding="utf-8"))
    assert manifest["defects"] == [] and manifest["counts"] == {}
    n = 0
    for path in _data_files(clean):
        assert " (1)" not in path.name and "_corr1" not in path.name
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf"), path
        for loc, row in _records(path):
            idn = row.get("id_number")
            if idn is None or "id_number" not in row:
                continue
            n += 1
            assert ric.is_valid(idn), (path, loc, idn)
            sex = SEX_ZH[row["sex_code"]]
            assert int(idn[16]) % 2 == (1 if sex == "1" else 0), (path, loc)
    assert n > 1000


@pytest.mark.local
def test_declared_counts_match_files_in_clean_run(clean):
    for man in (clean / "landing").rglob("_manifest.json"):
        files = json.loads(man.read_text(encoding="utf-8"))["files"]
        for name, meta in files.items():
            path = man.parent / name
            assert path.exists(), path
            prof, spec = _profile_for(path)
            if prof.format == "hl7v2":
                text = path.read_bytes().decode("utf-8")
                got = text.count("\rOBX|") if spec.repeat_segment else text.count("\rMSH|")
            else:
                got = len(_records(path))
            assert got == meta["declared_count"], path


@pytest.mark.local
def test_formats_are_what_they_claim(clean):
    from openpyxl import load_workbook

    xlsx = list((clean / "landing/his/H31011400002").rglob("*.xlsx"))
    assert xlsx
    for p in xlsx:
        assert zipfile.is_zipfile(p)
        prof, spec = _profile_for(p)
        wb = load_workbook(p, read_only=True)
        assert wb.sheetnames == [spec.sheet]
        assert next(wb[spec.sheet].iter_rows(values_only=True)) == tuple(spec.columns)
    gbk = list((clean / "landing/his/H31011400002").rglob("*.csv"))
    assert gbk
    for p in gbk:
        raw = p.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        assert raw.decode("gbk").splitlines()[0].split(",") == list(_profile_for(p)[1].columns)
    hl7 = (clean / "landing/lis/H31011400001/2026-03-02/oru_20260302.hl7").read_bytes().decode("utf-8")
    assert hl7.startswith("FHS|") and hl7.rstrip("\r").endswith("FTS|1") and "\rBHS|" in hl7
    ids = [s.split("|")[9] for s in hl7.split("\r") if s.startswith("MSH|")]
    assert len(ids) == len(set(ids)) > 0
    qy = json.loads((clean / "landing/signing/H31011400101/2026-03-02/qy_20260302.json").read_text("utf-8"))
    assert set(qy) == {"export_time", "data"} and qy["data"]["contracts"]


@pytest.mark.local
def test_local_codes_and_units_follow_dictionaries(clean):
    lis_b = (clean / "landing/lis/H31011400001/2026-03-02/oru_20260302.hl7").read_bytes().decode("utf-8")
    glucose = [s.split("|") for s in lis_b.split("\r") if s.startswith("OBX|") and "|B-001^" in s]
    assert glucose and all(s[6] == "mg/dL" for s in glucose)
    lis_c = (clean / "landing/lis/H31011400002/2026-03-02/oru_20260302.hl7").read_bytes().decode("utf-8")
    codes = {s.split("|")[3].split("^")[0] for s in lis_c.split("\r") if s.startswith("OBX|")}
    natural_unmapped = codes - mapped_codes("lab", "lis_c")
    assert natural_unmapped and all(c.startswith("C2") for c in natural_unmapped)


@pytest.mark.local
def test_group_membership_is_scd2_with_a_move(clean):
    path = next((clean / "landing/registry/310114").rglob("group_membership_*.csv"))
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    by_inst: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_inst.setdefault(r["机构编码"], []).append(r)
    moved = {k: v for k, v in by_inst.items() if any(r["失效日期"] for r in v)}
    assert list(moved) == ["H31011400103"]
    first, second = sorted(moved["H31011400103"], key=lambda r: r["生效日期"])
    assert first["失效日期"] == second["生效日期"] and first["集团编码"] != second["集团编码"]
    assert second["失效日期"] == ""
    from stdnum.cn import uscc

    inst = next((clean / "landing/registry/310114").rglob("institution_*.csv")).read_text(encoding="utf-8")
    codes = [r["统一社会信用代码"] for r in csv.DictReader(io.StringIO(inst)) if r["统一社会信用代码"]]
    assert codes and all(uscc.is_valid(c) for c in codes)


@pytest.mark.local
def test_manifest_matches_defects_found_in_files(dirty):
    from stdnum.cn import ric

    manifest = json.loads((dirty / "_defects_manifest.json").read_text(encoding="utf-8"))
    entries = manifest["defects"]
    counts = Counter(e["kind"] for e in entries)
    assert counts == Counter(manifest["counts"])
    assert len(counts) >= 10, counts  # a 3-day run at 5 % exercises most kinds
    # each entry names an institution folder that exists (or the file that is missing)
    for e in entries:
        assert (dirty / "landing" / e["source"] / e["institution"]).is_dir(), e
    found: Counter = Counter()
    for path in _data_files(dirty):
        if " (1)" in path.name:
            found["duplicate_file"] += 1
            continue
        if "_corr1" in path.name:
            found["corrected_file"] += 1
            continue
        raw = path.read_bytes()
        prof, _ = _profile_for(path)
        if raw.startswith(b"\xef\xbb\xbf"):
            found["bom"] += 1
        if prof.format == "csv" and prof.encoding == "utf-8":
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                found["wrong_encoding"] += 1
        if prof.format == "csv":
            lines = _decode(raw, prof.encoding).splitlines()
            found["exact_duplicate"] += sum(1 for a, b in zip(lines, lines[1:], strict=False) if a == b)
        elif prof.format in ("xlsx", "json"):
            recs = [r for _, r in _records(path)]
            found["exact_duplicate"] += sum(1 for a, b in zip(recs, recs[1:], strict=False) if a == b)
        if path.stat().st_mtime > arrival(date.fromisoformat(path.parts[-2])) + 3600:
            found["late_file"] += 1
        for _, row in _records(path):
            idn = row.get("id_number") or ""
            if len(idn) == 15:
                found["id_15"] += 1
            elif len(idn) == 18 and not ric.is_valid(idn):
                found["invalid_id"] += 1
            elif len(idn) == 18 and row.get("sex_code") in SEX_ZH and \
                    int(idn[16]) % 2 != (1 if SEX_ZH[row["sex_code"]] == "1" else 0):
                found["sex_mismatch"] += 1
    for man in (dirty / "landing").rglob("_manifest.json"):
        for name in json.loads(man.read_text(encoding="utf-8"))["files"]:
            if not (man.parent / name).exists():
                found["missing_file"] += 1
    for kind in ("duplicate_file", "corrected_file", "bom", "wrong_encoding", "exact_duplicate", "late_file",
                 "id_15", "invalid_id", "sex_mismatch", "missing_file"):
        assert found[kind] == counts.get(kind, 0), (kind, found[kind], counts.get(kind, 0))


@pytest.mark.local
def test_memory_does_not_grow_with_rows(tmp_path):
    """Streaming: 3x the visits per day must not need noticeably more memory."""
    import copy
    import tracemalloc

    from transforms.synth.refdata import scales

    small = copy.deepcopy(scales()["tiny"])
    small["residents_per_district"] = 400  # keep the start-day snapshot cheap under tracemalloc
    small.update(outpatient_per_hospital=[20, 15], inpatient_discharges_per_hospital=[1, 1],
                 outpatient_per_chc=6, outpatient_per_station=2)
    big = copy.deepcopy(small)
    for k in ("outpatient_per_hospital", "inpatient_discharges_per_hospital"):
        big[k] = [v * 3 for v in big[k]]
    big["outpatient_per_chc"] *= 3
    big["outpatient_per_station"] *= 3
    scales()["t_small"], scales()["t_big"] = small, big
    try:
        generate(tmp_path / "warm", START, 1, "t_small", 3, 0.02)  # imports and caches
        peaks, rows = {}, {}
        for sc in ("t_small", "t_big"):
            tracemalloc.start()
            summary = generate(tmp_path / sc, START, 1, sc, 3, 0.02)
            peaks[sc] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rows[sc] = summary["rows_generated"]["encounter"]
    finally:
        del scales()["t_small"], scales()["t_big"]
    assert rows["t_big"] > 2.5 * rows["t_small"]
    assert peaks["t_big"] < 1.25 * peaks["t_small"], peaks


@pytest.mark.local
def test_cli_writes_summary(tmp_path, capsys):
    from transforms.synth.__main__ import main

    assert main(["--out", str(tmp_path), "--start", "2026-03-02", "--days", "1", "--scale", "tiny",
                 "--seed", "5", "--defect-rate", "0"]) == 0
    printed = json.loads(capsys.readouterr().out)
    summary = json.loads((tmp_path / "_synth_manifest.json").read_text(encoding="utf-8"))
    assert printed["rows_generated"] == summary["rows_generated"] and summary["defects_total"] == 0
    codes = {i["institution_code"] for i in summary["institutions"]}
    assert {"H31011400001", "H31011400002", "H31011400101", "H31011400201", "D31011400001"} <= codes
    with pytest.raises(ValueError, match="unknown scale"):
        generate(tmp_path / "x", START, 1, "huge", 1, 0.0)


@pytest.mark.local
def test_malformed_hl7_is_where_the_manifest_says(tmp_path, monkeypatch):
    from transforms.synth.defects import DefectLog, Kind

    def forced(self, file, kinds):
        return Kind.malformed_hl7 if Kind.malformed_hl7 in kinds else None

    monkeypatch.setattr(DefectLog, "file_kind", forced)
    generate(tmp_path, START, 1, "tiny", 11, 0.01)
    entries = [e for e in json.loads((tmp_path / "_defects_manifest.json").read_text("utf-8"))["defects"]
               if e["kind"] == "malformed_hl7"]
    assert len(entries) >= 2
    for e in entries:
        text = (tmp_path / "landing" / e["file"]).read_bytes().decode("utf-8")
        mid = e["message_id"]
        if "no MSH" in e["detail"]:
            assert f"|{mid}|" not in text
        elif "truncated" in e["detail"]:
            msg = text.split(f"|{mid}|", 1)[1].split("\rMSH|", 1)[0]
            assert "\rOBX|" not in msg or "ADT" in e["file"] or msg.count("\r") < 6
        else:
            assert "\rZZ|garbled" in text and f"|{mid}|" in text


@pytest.mark.local
def test_row_defects_are_at_the_line_or_message_named(dirty):
    entries = json.loads((dirty / "_defects_manifest.json").read_text(encoding="utf-8"))["defects"]
    checked = 0
    for e in entries:
        path = dirty / "landing" / e["file"]
        if e["record"] is None or not path.exists():
            continue
        prof, _ = _profile_for(path)
        if e["message_id"]:
            assert f"|{e['message_id']}|" in path.read_bytes().decode("utf-8"), e
            checked += 1
        elif prof.format == "csv":
            line = _decode(path.read_bytes(), prof.encoding).splitlines()[e["line"] - 1]
            assert e["record"] in line, e
            if e["kind"] == "unmapped_code":
                assert e["detail"].split()[1] in line.split(","), e
            if "150 years" in e["detail"]:
                assert "1876" in line, e
            if e["kind"] == "impossible_date" and "2026-02-30" in e["detail"]:
                assert "30" in line and ("02-30" in line or "0230" in line or "02/30" in line), e
            checked += 1
    assert checked > 50
