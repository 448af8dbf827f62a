"""The validator never crashes: any JSON, however wrong, gets a report.

Seeded random mutations of converted bundles (values replaced by JSON of the wrong shape,
elements deleted, stray properties added) are validated as parsed JSON and as text. Each run
must return a report whose issues name a path; most mutants must be reported invalid.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.validation import Validator

ODD_VALUES: list[Any] = [
    None,
    "",
    " ",
    "x",
    "#",
    "#missing",
    "urn:uuid:1",
    "Patient/1",
    "2020-13-45",
    "<div>x</div>",
    0,
    -1,
    1.5,
    10**30,
    True,
    [],
    [None],
    [{}],
    [1, "a"],
    {},
    {"a": 1},
    {"reference": 1},
    {"url": 1},
    {"coding": 1.5},
    {"resourceType": {"a": 1}},
]
STRAY_KEYS = ["valueString", "_status", "contained", "extension", "resourceType", "id", "fooBar"]


def _mutant(base: dict[str, Any], rnd: random.Random, json_paths: Any) -> dict[str, Any]:
    b = copy.deepcopy(base)
    for _ in range(rnd.randint(1, 3)):
        path = rnd.choice(list(json_paths.walk(b)))
        parent = b
        for step in path[:-1]:
            parent = parent[step]
        roll = rnd.random()
        if roll < 0.6:
            json_paths.put(b, path, copy.deepcopy(rnd.choice(ODD_VALUES)))
        elif roll < 0.8 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rnd.choice(STRAY_KEYS)] = copy.deepcopy(rnd.choice(ODD_VALUES))
    return b


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mutated_bundles_always_get_a_report(seed: int, json_paths: Any) -> None:
    rnd = random.Random(seed)
    bases = [convert(None), convert("fixtures/t2dm-metformin.case.yaml")]
    validator = Validator()
    invalid = 0
    runs = 150
    for _ in range(runs):
        mutant = _mutant(rnd.choice(bases), rnd, json_paths)
        report = validator.validate_resource(mutant)
        from_text = validator.validate_text(json.dumps(mutant))
        assert all(isinstance(i.path, str) and i.path for i in report.issues)
        assert report.ok == from_text.ok
        invalid += not report.ok
    assert invalid > runs // 2


SP = {
    "resourceType": "SearchParameter",
    "url": "http://example.org/fhir/SearchParameter/x",
    "name": "x",
    "status": "draft",
    "description": "d",
    "code": "x",
    "type": "token",
    "expression": "Patient.gender",
}
VS_PARAM = "http://hl7.org/fhir/tools/StructureDefinition/valueset-parameter"


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Patient", "contained": [{"resourceType": "Patient", "id": ["x"]}]},
        {"resourceType": "Patient", "contained": [{"resourceType": "Patient", "id": {"a": 1}}]},
        {**SP, "base": [1]},
        {**SP, "base": [["Patient"]]},
        {
            "resourceType": "ValueSet",
            "status": "draft",
            "extension": [{"url": VS_PARAM, "extension": [{"url": "name", "valueCode": []}]}],
            "compose": {"include": [{"system": "http://loinc.org"}]},
        },
    ],
    ids=[
        "contained-id-array",
        "contained-id-object",
        "sp-base-number",
        "sp-base-array",
        "vs-param",
    ],
)
def test_values_of_the_wrong_json_type_in_conformance_and_contained_checks(
    resource: dict[str, Any],
) -> None:
    """Found by mutating HL7's fhir-test-cases: these crashed with a TypeError."""
    report = Validator().validate(resource)
    assert not report.ok and all(i.path for i in report.issues)
