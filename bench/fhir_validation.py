"""Validation cost of the FHIR layer: lab rows -> Observation dicts, validated four ways.

Run: PYTHONPATH=. .venv/bin/python bench/fhir_validation.py [N]
Prints Observations/s and the ratio to a floor (json.dumps of the ready dict) for: one
model_validate pass, the same with repeated elements validated once (ElementCache, what run.py
does; a fresh cache per run; the stage keeps one per process), construct + model_dump_json (the naive round trip),
model_validate + model_dump_json, 10 % sampling, and the builders themselves.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime
from decimal import Decimal

from transforms.fhir.builders import build_row
from transforms.fhir.validate import ElementCache, model_class, validate_resource
from transforms.terminology import systems


def rows(n: int) -> list[dict]:
    base = dict(report_no="L", institution_code="H1", ordering_institution="C1", reporting_institution="H1",
                author_type="human", person_key="a" * 64, item_code_std="14749-6", item_code_std_system=systems.LOINC,
                value="6.1", value_num=Decimal("6.1"), value_std=Decimal("6.1"), unit="mmol/L", unit_std="mmol/L",
                ref_range="3.9-6.1", ref_low_std=Decimal("3.9"), ref_high_std=Decimal("6.1"), abnormal_flag="N",
                result_status="F", specimen_time=datetime(2026, 11, 1, 8), report_time=datetime(2026, 11, 1, 11),
                _batch_id="b", _file="f", _source="lis", _institution="H1", _partition_date=date(2026, 11, 1))
    return [{**base, "item_code": f"I{i}", "report_no": f"L{i // 10}", "_line": i} for i in range(n)]


def observations(data: list[dict]) -> list[dict]:
    return [build_row("lab_result", r)[0] for r in data]


def best_of(fn, repeat: int = 3) -> float:
    """Best wall time of ``repeat`` runs: the machine is shared, the minimum is the least noisy."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main(n: int = 5000) -> None:
    data = rows(n)
    cls = model_class("Observation")
    observations(data[:50])  # warm-up: imports, model class build
    built = observations(data)
    cases = [
        ("serialise our dict only (floor)", lambda: [json.dumps(o) for o in built]),
        ("model_validate once + our dict", lambda: [(validate_resource(o), json.dumps(o)) for o in built]),
        ("ElementCache + our dict (run.py)", lambda: (c := ElementCache()) and
         [(validate_resource(o, 1.0, c), json.dumps(o)) for o in built]),
        ("construct model + model_dump_json", lambda: [cls(**o).model_dump_json() for o in built]),
        ("model_validate + model_dump_json", lambda: [cls.model_validate(o).model_dump_json() for o in built]),
        ("10 % sample + bindings + our dict", lambda: [(validate_resource(o, 0.1), json.dumps(o)) for o in built]),
        ("build the dicts (builders, for scale)", lambda: observations(data)),
    ]
    floor = None
    for label, fn in cases:
        dt = best_of(fn)
        floor = floor or dt
        print(f"{label:<42} {n / dt:>10,.0f} Observations/s  {dt / floor:6.1f}x floor")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5000)
