"""Base R4 rules found by scoring against HL7's fhir-test-cases (bench/fhir_test_cases.py).

Each test pins one rule with a case the official validator decides the same way: the valid form
passes, the broken form is reported with its rule and path.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter.validation import validate

DAR = {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}


def _errors(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i.rule, i.path) for i in validate(resource).issues if i.severity in ("error", "fatal")]


def _patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **extra}


# --- null in primitive arrays (json.html: "null in the gaps" of value and _element arrays) ----


@pytest.mark.parametrize(
    "name",
    [
        {"given": ["A", None], "_given": [None, {"extension": [DAR]}]},
        {"given": [None, "B"], "_given": [{"id": "g0", "extension": [DAR]}]},
        {"given": ["A"], "_given": [None, {"extension": [DAR]}]},
        {"_given": [{"extension": [DAR]}]},
    ],
)
def test_null_aligned_with_an_element_companion_is_valid(name: dict[str, Any]) -> None:
    assert _errors(_patient(name=[name])) == []


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ({"given": ["A", None]}, "Patient.name[0].given[1]"),
        ({"given": ["A", None], "_given": [None, None]}, "Patient.name[0].given[1]"),
        ({"given": ["A"], "_given": [None, None]}, "Patient.name[0]._given[1]"),
        ({"_given": [None]}, "Patient.name[0]._given[0]"),
    ],
)
def test_null_with_nothing_beside_it_is_an_error(name: dict[str, Any], path: str) -> None:
    assert ("json", path) in _errors(_patient(name=[name]))


def test_null_in_an_array_of_complex_values_is_an_error() -> None:
    assert ("json", "Patient.name[1]") in _errors(_patient(name=[{"family": "X"}, None]))


# --- ele-1: an element needs a value or children other than id ---------------------------------


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"_birthDate": {"id": "x"}}, "Patient._birthDate"),
        ({"birthDate": None, "_birthDate": {"id": "x"}}, "Patient._birthDate"),
        ({"name": [{"_given": [{"id": "g"}]}]}, "Patient.name[0]._given[0]"),
        ({"maritalStatus": {"id": "m"}}, "Patient.maritalStatus"),
    ],
)
def test_an_element_with_only_an_id_violates_ele1(extra: dict[str, Any], path: str) -> None:
    assert ("ele-1", path) in _errors(_patient(**extra))


@pytest.mark.parametrize(
    "extra",
    [
        {"birthDate": "1970", "_birthDate": {"id": "x"}},
        {"_birthDate": {"id": "x", "extension": [DAR]}},
        {"name": [{"given": ["A"], "_given": [{"id": "g"}]}]},
        {"maritalStatus": {"id": "m", "text": "married"}},
    ],
)
def test_an_id_beside_a_value_or_extension_is_fine(extra: dict[str, Any]) -> None:
    assert _errors(_patient(**extra)) == []


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"name": [{"given": ["A"], "_given": {"extension": [DAR]}}]}, "Patient.name[0]._given"),
        ({"_birthDate": [{"extension": [DAR]}]}, "Patient._birthDate"),
    ],
)
def test_an_element_companion_has_its_primitives_shape(extra: dict[str, Any], path: str) -> None:
    assert ("structure", path) in _errors(_patient(**extra))
