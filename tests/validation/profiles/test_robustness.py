"""Profile validation never raises on malformed input: every JSON position of official examples
(a US Core blood pressure, a US Core patient, an IPS bundle) replaced by values of the wrong
shape gives a report, not a traceback."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_adapter.validation import Validator

from .conftest import example

ODD: list[Any] = [None, [], {}, "x", 7, [7], [{}], {"reference": 3}]
IPS_BUNDLE = "http://hl7.org/fhir/uv/ips/StructureDefinition/Bundle-uv-ips"


@pytest.mark.parametrize(
    ("package", "file", "ig"),
    [
        ("hl7.fhir.us.core-6.1.0", "Observation-blood-pressure.json", "us-core"),
        ("hl7.fhir.us.core-6.1.0", "Patient-example.json", "us-core"),
        ("hl7.fhir.uv.ips-1.1.0", "Bundle-bundle-minimal.json", "ips"),
        ("hl7.fhir.us.core-6.1.0", "Bundle-c887e62f-6166-419f-8268-b5ecd6c7b901.json", "us-core"),
    ],
)
def test_wrong_shapes_everywhere_give_reports(
    package: str, file: str, ig: str, json_paths: Any
) -> None:
    original = example(package, file)
    validator = Validator(igs=[ig], profiles=[IPS_BUNDLE] if ig == "ips" else [])
    paths = list(json_paths.walk(original))
    checked = 0
    for path in paths:
        for odd in ODD:
            broken = copy.deepcopy(original)
            json_paths.put(broken, path, odd)
            report = validator.validate(broken)  # must not raise
            checked += report is not None
    assert checked == len(paths) * len(ODD) > 400
