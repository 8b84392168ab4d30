"""ElementCache: validating repeated elements once must accept and reject exactly what a plain pass does."""

from __future__ import annotations

import copy

import pytest
from test_fhir_builders import SAMPLE_ROWS, sample

from transforms.fhir.builders import build_row
from transforms.fhir.errors import InvalidResource
from transforms.fhir.provenance import build_provenance
from transforms.fhir.validate import ElementCache, model_class, validate_resource


def _all_resources() -> list[dict]:
    out = []
    for table in sorted(SAMPLE_ROWS):
        for line in (2, 3):  # twice: the second copy hits the cache
            row = sample(table, _line=line)
            res = build_row(table, row)
            out += [*res, build_provenance(table, row, [f"{r['resourceType']}/{r['id']}" for r in res])]
    return out


def _error(res: dict, cache: ElementCache | None) -> str | None:
    try:
        validate_resource(res, 1.0, cache)
    except InvalidResource as exc:
        return str(exc)
    return None


@pytest.mark.unit
def test_cached_models_equal_plain_models():
    cache = ElementCache()
    for res in _all_resources():
        cls = model_class(res["resourceType"])
        cached = cls.model_validate(cache.prepare(cls, res))
        assert cached.model_dump_json() == cls.model_validate(res).model_dump_json()
    assert cache.hits > 0


@pytest.mark.unit
@pytest.mark.parametrize("table", sorted(SAMPLE_ROWS))
def test_a_bad_element_is_rejected_after_good_ones_were_cached(table):
    cache = ElementCache()
    good = build_row(table, sample(table))
    for res in good:
        assert validate_resource(res, 1.0, cache)
    for res in good:
        bad = copy.deepcopy(res)
        bad["extension"][-1]["extension"][0]["valueString"] = 7  # lineage batch: a number is not a string
        assert _error(bad, cache) == _error(bad, None) is not None
        bad = copy.deepcopy(res)
        bad["extension"][-1]["extension"][2]["valueInteger"] = True  # same JSON key as 1 must not collide
        assert _error(bad, None) is None or _error(bad, cache) == _error(bad, None)


@pytest.mark.unit
def test_same_error_message_as_plain_validation():
    cache = ElementCache()
    row = sample("lab_result")
    ok = build_row("lab_result", row)
    for res in ok:
        validate_resource(res, 1.0, cache)
    obs = copy.deepcopy(ok[0])
    del obs["status"]
    obs["code"]["coding"][0]["userSelected"] = "maybe"
    assert _error(obs, cache) == _error(obs, None) is not None


@pytest.mark.unit
def test_unique_fields_stop_being_cached():
    cache = ElementCache()
    cache.PROBE = 50
    for i in range(200):
        res = build_row("lab_result", sample("lab_result", item_code=f"I{i}", _line=i))[0]
        validate_resource(res, 1.0, cache)
    cls = model_class("Observation")
    assert cache.lookups[(cls, "identifier")][0] == 50  # unique per row: no longer looked up
    assert cache.lookups[(cls, "performer")][1] >= 190  # the institution: one validation, then hits
