"""One defect, one issue: a value whose type is already an error (the profile forbids its type, or
base R4 rejects it) gets no further findings from the profile's rules for that value (binding,
terminology, fixed and pattern values, its children); an array where R4 allows one value is
reported once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fhir_adapter.validation import Validator

from .conftest import example

US = "hl7.fhir.us.core-6.1.0"


@pytest.fixture(scope="module")
def us_core() -> Validator:
    return Validator(igs=["us-core"])


def _bp() -> dict[str, Any]:
    return example(US, "Observation-blood-pressure.json")


def _at(v: Validator, resource: dict[str, Any], prefix: str) -> list[tuple[str, str, str]]:
    """(severity, rule, path) of every issue at ``prefix`` or below it."""
    return [
        (i.severity, i.rule, i.path)
        for i in v.validate(resource).issues
        if i.path == prefix or i.path.startswith((prefix + ".", prefix + "["))
    ]


def test_a_value_of_a_forbidden_type_gets_no_binding_noise(us_core: Validator) -> None:
    patient = example(US, "Patient-example.json")
    birthsex = next(e for e in patient["extension"] if e["url"].endswith("us-core-birthsex"))
    i = patient["extension"].index(birthsex)
    birthsex["valueString"] = birthsex.pop("valueCode")
    assert _at(us_core, patient, f"Patient.extension[{i}]") == [
        ("error", "profile-type", f"Patient.extension[{i}].valueString")
    ]
    race = next(e for e in patient["extension"] if e["url"].endswith("us-core-race"))
    i = patient["extension"].index(race)
    omb = next(e for e in race["extension"] if e["url"] == "ombCategory")
    j = race["extension"].index(omb)
    omb["valueString"] = omb.pop("valueCoding")["display"]
    assert _at(us_core, patient, f"Patient.extension[{i}].extension[{j}]") == [
        ("error", "profile-type", f"Patient.extension[{i}].extension[{j}].valueString")
    ]


def test_a_value_of_a_forbidden_type_is_not_checked_against_the_allowed_types_rules(
    us_core: Validator,
) -> None:
    obs = _bp()
    systolic = obs["component"][0]
    systolic.pop("valueQuantity")
    systolic["valueCodeableConcept"] = {"text": "high"}
    # not: value/unit/system/code missing (Quantity's children), nor its fixed values
    assert _at(us_core, obs, "Observation.component[0].valueCodeableConcept") == [
        ("error", "profile-type", "Observation.component[0].valueCodeableConcept")
    ]


@pytest.mark.parametrize(
    ("change", "path", "rule"),
    [
        # a CodeableConcept written as a bare string: base R4 says so; no profile pattern too
        (lambda o: o.__setitem__("code", "85354-9"), "Observation.code", "structure"),
        # a code written as a number: base R4 says so; no "must be exactly mm[Hg]" too
        (
            lambda o: o["component"][0]["valueQuantity"].__setitem__("code", 5),
            "Observation.component[0].valueQuantity.code",
            "primitive",
        ),
        # a choice type R4 itself does not have: base R4 says so; no profile-type too
        (
            lambda o: o.__setitem__("effectiveQuantity", {"value": 1}),
            "Observation.effectiveQuantity",
            "structure",
        ),
        # an array where R4 allows one value: base R4 says so; no "at most 1" from the profile
        (
            lambda o: o.__setitem__("subject", [o["subject"], o["subject"]]),
            "Observation.subject",
            "cardinality",
        ),
    ],
    ids=["object-as-string", "code-as-number", "unknown-choice-type", "array-for-one"],
)
def test_a_value_base_r4_rejects_is_reported_once(
    us_core: Validator, change: Any, path: str, rule: str
) -> None:
    obs = _bp()
    if "effectiveQuantity" in str(path):
        obs.pop("effectiveDateTime")
    change(obs)
    assert [(s, r) for s, r, _ in _at(us_core, obs, path)] == [("error", rule)]


def test_profile_rules_still_apply_where_base_r4_finds_nothing(us_core: Validator) -> None:
    """The guard above does not hide profile findings on values base R4 accepts."""
    obs = _bp()
    obs["component"][0]["valueQuantity"]["code"] = "kPa"
    found = _at(us_core, obs, "Observation.component[0]")
    assert [r for s, r, _ in found if s == "error"] == ["profile-fixed"]
    obs = _bp()
    obs["code"] = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
    assert [r for _, r, _ in _at(us_core, obs, "Observation.code")] == ["profile-pattern"]
    obs = _bp()
    obs["category"] = []  # an empty array (JSON) and a missing required category (profile)
    assert sorted(r for _, r, _ in _at(us_core, obs, "Observation.category")) == [
        "json",
        "profile-cardinality",
    ]
    patient = example(US, "Patient-example.json")
    patient["identifier"] = [copy.deepcopy(patient["identifier"][0]) for _ in range(2)]
    assert us_core.validate(patient).ok
