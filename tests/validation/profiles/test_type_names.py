"""Messages name types as FHIR spells them (``string``, ``dateTime``, ``CodeableConcept``), never
as the capitalised suffix of a JSON name (``valueString``) or a Python class name."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from fhir_adapter.validation import Validator, validate

from .conftest import example

US = "hl7.fhir.us.core-6.1.0"


@pytest.fixture(scope="module")
def us_core() -> Validator:
    return Validator(igs=["us-core"])


def _bp() -> dict[str, Any]:
    return example(US, "Observation-blood-pressure.json")


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("effectiveInstant", "2023-01-02T10:00:00Z", "instant"),
        ("effectiveTiming", {"event": ["2023-01-02"]}, "Timing"),
    ],
)
def test_a_choice_type_the_profile_forbids_is_named_as_fhir_spells_it(
    us_core: Validator, key: str, value: Any, named: str
) -> None:
    obs = _bp()
    obs.pop("effectiveDateTime")
    obs[key] = value
    (err,) = [i for i in us_core.validate(obs).errors if i.rule == "profile-type"]
    assert err.message.startswith(f"type {named} is not allowed by the profile (allowed: ")
    assert err.fix == "use one of: dateTime, Period"


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("valueString", "120", "string"),
        ("valueCodeableConcept", {"text": "high"}, "CodeableConcept"),
        ("valueInteger", 120, "integer"),
        ("valueDateTime", "2023-01-02", "dateTime"),
    ],
)
def test_a_slice_value_of_another_type_is_named_as_fhir_spells_it(
    us_core: Validator, key: str, value: Any, named: str
) -> None:
    obs = _bp()
    systolic = obs["component"][0]
    systolic.pop("valueQuantity")
    systolic[key] = value
    found = [i for i in us_core.validate(obs).errors if i.rule == "profile-type"]
    assert found and all(
        i.message.startswith(f"type {named} is not allowed by the profile (allowed: Quantity)")
        for i in found
    )


def test_an_extension_value_of_another_type_is_named_as_fhir_spells_it(
    us_core: Validator,
) -> None:
    patient = example(US, "Patient-example.json")
    race = next(e for e in patient["extension"] if e["url"].endswith("us-core-race"))
    omb = next(e for e in race["extension"] if e["url"] == "ombCategory")
    omb["valueString"] = omb.pop("valueCoding")["display"]
    (err,) = us_core.validate(patient).errors
    assert err.message.startswith("type string is not allowed by the profile (allowed: Coding)")
    # base R4 alone, a core extension: the extension layer names the type the same way
    patient = {
        "resourceType": "Patient",
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/patient-birthPlace",
                "valueString": "Lyon",
            }
        ],
    }
    (err,) = validate(patient).errors
    assert err.rule == "extension" and err.message.endswith(
        "allows value types Address, not string"
    )


def test_a_code_system_property_of_another_type_is_named_as_fhir_spells_it() -> None:
    cs = {
        "resourceType": "CodeSystem",
        "url": "http://example.org/fhir/CodeSystem/x",
        "status": "draft",
        "content": "complete",
        "property": [{"code": "when", "type": "dateTime"}],
        "concept": [{"code": "a", "property": [{"code": "when", "valueCoding": {"code": "x"}}]}],
    }
    (err,) = [i for i in validate(cs).errors if "declared with type" in i.message]
    assert err.message.endswith("declared with type dateTime, not Coding")
    cs["concept"][0]["property"][0] = {"code": "when", "valueString": "2023"}
    (err,) = [i for i in validate(cs).errors if "declared with type" in i.message]
    assert err.message.endswith("declared with type dateTime, not string")


def test_no_message_names_a_capitalised_primitive_type(us_core: Validator) -> None:
    """Every primitive a choice can hold, put where the profile allows only Quantity: no message
    spells a primitive type with a capital (``String``, ``DateTime``, ...)."""
    from fhir_adapter.validation.tables import tables

    capitalised = {p[0].upper() + p[1:] for p in tables()["primitives"]} - {"Xhtml"}
    pattern = re.compile(r"\btypes? (\w+)")
    obs = _bp()
    for prim in sorted(capitalised):
        broken = copy.deepcopy(obs)
        broken["component"][0].pop("valueQuantity")
        broken["component"][0][f"value{prim}"] = "x"
        for i in us_core.validate(broken).issues:
            named = pattern.findall(i.message)
            assert not set(named) & capitalised, i.message
