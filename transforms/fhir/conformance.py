"""Conformance against a peer: our HL7 v2 -> FHIR path compared with Microsoft FHIR-Converter.

Our path is the production one: the ingest reader (``transforms.ingest.readers.iter_records`` with
``mappings/sources/hl7v2_generic.yaml``) -> ``transforms.standardise.run.standardise_frame`` ->
our builders. The peer is the converter's expected Bundle in the fixtures. We compare only
the fields that matter downstream, after normalising spelling (instants to UTC, numbers,
sets of codes), and classify each as agree, by_design (we pseudonymise and mask on purpose)
or differs (a real gap, explained in docs/conformance.md).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

Verdict = Literal["agree", "by_design", "differs"]
CASES = ("ADT-A01-02", "ORU-R01-RMGEAD")  # the two messages that have an expected/ Bundle
PROFILE_FILE = "hl7v2_generic.yaml"
BY_DESIGN = {
    ("Patient", "identifier"): "only the pseudonymous person key leaves standardise; MRN/SSN never reach FHIR",
    ("Patient", "name"): "names are masked (e.g. E***) before the FHIR layer; the converter copies them in clear",
}


@dataclass(frozen=True)
class FieldResult:
    case: str
    resource: str
    field: str
    ours: str | None
    theirs: str | None
    verdict: Verdict


def _instant(v: str | None) -> str | None:
    """A dateTime as a UTC instant, so +06:00 and +08:00 spellings of one moment compare equal."""
    if not v:
        return None
    if len(v) <= 10:
        return v
    d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    return d.astimezone(UTC).isoformat(timespec="seconds") if d.tzinfo else d.isoformat()


def _num(v: Any) -> str | None:
    return None if v is None else str(Decimal(str(v)).normalize())


def _first(bundle: list[dict], rtype: str) -> dict:
    return next((r for r in bundle if r["resourceType"] == rtype), {})


def _patient_fields(p: dict, ours: bool) -> dict[str, str | None]:
    if ours:
        name = (p.get("name") or [{}])[0].get("text")
    else:
        n = (p.get("name") or [{}])[0]
        name = " ".join([n.get("family", ""), *n.get("given", [])]).strip() or None
    return {
        "identifier": "|".join(sorted(i["value"] for i in p.get("identifier", []))) or None,
        "name": name, "gender": p.get("gender"), "birthDate": p.get("birthDate"),
    }


def _encounter_fields(e: dict) -> dict[str, str | None]:
    return {"class": (e.get("class") or {}).get("code"),
            "period.start": _instant((e.get("period") or {}).get("start")),
            "period.end": _instant((e.get("period") or {}).get("end"))}


def _observation_fields(o: dict, report: dict) -> dict[str, str | None]:
    q = o.get("valueQuantity") or {}
    rr = (o.get("referenceRange") or [{}])[0]
    low, high = (rr.get("low") or {}).get("value"), (rr.get("high") or {}).get("value")
    return {
        "code": "|".join(sorted({c["code"] for c in (o.get("code") or {}).get("coding", [])})) or None,
        "value": _num(q.get("value")) if q else o.get("valueString"),
        "unit": q.get("unit"),
        "referenceRange": rr.get("text") or (f"{_num(low)}-{_num(high)}" if rr else None),
        "interpretation": "|".join(c["code"] for i in o.get("interpretation", []) for c in i.get("coding", [])) or None,
        "status": o.get("status"),
        # the converter puts OBR-7 on the DiagnosticReport only; compare the clinically relevant time
        "effective": _instant(o.get("effectiveDateTime") or report.get("effectiveDateTime")),
    }


def our_resources(path: Path, key: bytes = b"conformance-key") -> list[dict]:
    """Our resources for one HL7 v2 file, through ingest reader, standardise and builders."""
    import pandas as pd
    import pyarrow as pa

    from transforms.canonical import TABLES
    from transforms.fhir.builders import build_row
    from transforms.ingest.readers import iter_records
    from transforms.settings import MAPPINGS_DIR
    from transforms.sources.profile import load_profile
    from transforms.sources.records import Row
    from transforms.standardise.dictionaries import load_source_config
    from transforms.standardise.run import standardise_frame
    from transforms.terminology.codeset import load_codeset

    profile = load_profile(MAPPINGS_DIR / "sources" / PROFILE_FILE)
    spec = profile.spec_for(path.name)
    rows = [r for r in iter_records(path, profile, spec) if isinstance(r, Row)]
    lineage = {"_batch_id": "conformance", "_source": profile.source, "_profile": profile.id,
               "_institution": "conformance", "_partition_date": "2026-01-01", "_file": path.name, "_record_hash": "-"}
    frame = pd.DataFrame([{**r.values, **lineage, "_line": str(r.line), "_message_id": r.message_id} for r in rows],
                         dtype="string")
    cs = load_codeset()
    std, _, _ = standardise_frame(frame, TABLES[spec.table], cs, load_source_config(cs.root / "sources"), key,
                                  profile.source, "conformance")
    out: list[dict] = []
    for row in pa.Table.from_pandas(std, preserve_index=False).to_pylist():
        out += build_row("health_record", row)  # the person as a Patient (same builder as health records)
        out += build_row(spec.table, row)
    return out


def compare_case(fixtures_dir: Path, case: str) -> list[FieldResult]:
    folder = fixtures_dir / "microsoft-fhir-converter-hl7v2"
    theirs = [e["resource"] for e in json.loads((folder / "expected" / f"{case}-expected.json").read_text())["entry"]]
    ours = our_resources(folder / f"{case}.hl7")
    pairs: list[tuple[str, dict, dict]] = [
        ("Patient", _patient_fields(_first(ours, "Patient"), True), _patient_fields(_first(theirs, "Patient"), False))]
    if _first(theirs, "Encounter"):
        pairs.append(("Encounter", _encounter_fields(_first(ours, "Encounter")),
                      _encounter_fields(_first(theirs, "Encounter"))))
    if _first(theirs, "Observation"):
        pairs.append(("Observation",
                      _observation_fields(_first(ours, "Observation"), _first(ours, "DiagnosticReport")),
                      _observation_fields(_first(theirs, "Observation"), _first(theirs, "DiagnosticReport"))))
    results = []
    for rtype, mine, peer in pairs:
        for fld in peer:
            a, b = mine.get(fld), peer.get(fld)
            verdict: Verdict = "agree" if a == b else "by_design" if (rtype, fld) in BY_DESIGN else "differs"
            results.append(FieldResult(case, rtype, fld, a, b, verdict))
    return results


def compare_all(fixtures_dir: Path) -> list[FieldResult]:
    return [r for case in CASES for r in compare_case(fixtures_dir, case)]


def summary(results: list[FieldResult]) -> dict[str, int]:
    return dict(Counter(r.verdict for r in results))


def markdown_table(results: list[FieldResult]) -> str:
    """The agreement table as Markdown, for docs/conformance.md."""
    lines = ["| message | resource | field | ours | Microsoft | verdict |", "|---|---|---|---|---|---|"]
    for r in results:
        ours, theirs = (str(x).replace("|", "\\|") if x is not None else "—" for x in (r.ours, r.theirs))
        lines.append(f"| {r.case} | {r.resource} | {r.field} | {ours} | {theirs} | {r.verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":  # regenerate the table: PYTHONPATH=. python -m transforms.fhir.conformance
    from transforms.settings import REPO_ROOT

    res = compare_all(REPO_ROOT.parent / "shared" / "fixtures")
    print(markdown_table(res))
    print(summary(res))
