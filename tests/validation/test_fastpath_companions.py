"""The FHIRPath shortcuts agree with fhirpathpy on primitives present only through their
``_element`` companion (an id or extensions, e.g. a data-absent-reason): they exist."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter.validation.invariants import compile_constraint, holds

DAR = {
    "extension": [
        {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "masked"}
    ]
}


@pytest.mark.parametrize(
    ("expression", "base", "node"),
    [
        ("family.exists() or given.exists() or text.exists()", "HumanName", {"_text": DAR}),
        ("family.exists() or given.exists() or text.exists()", "HumanName", {"_given": [DAR]}),
        ("text.empty()", "HumanName", {"_text": DAR}),
        (
            "value.exists() or dataAbsentReason.exists()",
            "Observation.component",
            {"_valueString": DAR},
        ),
        (
            "family.exists() or given.exists() or text.exists()",
            "HumanName",
            {"extension": DAR["extension"]},
        ),
    ],
)
def test_companion_only_primitives_exist(expression: str, base: str, node: dict[str, Any]) -> None:
    c = compile_constraint("t-1", "error", "t", expression, base)
    engine = c.fn(node, {})
    assert holds(c, node, {}, {}) == (engine == [True])


def test_ext_1_counts_a_value_present_only_through_its_companion() -> None:
    """ext-1 (checked natively by the engine) agrees: an extension whose value is a dateTime
    with only extensions (a relative date with no calendar date) has a value, not none."""
    from fhir_adapter import validate

    value_only_by_extension = {
        "url": "http://hl7.org/fhir/StructureDefinition/condition-assertedDate",
        "_valueDateTime": DAR,
    }
    patient = {"resourceType": "Patient", "id": "a", "extension": [value_only_by_extension]}
    assert "ext-1" not in {i.rule for i in validate(patient).issues}
    both = {**value_only_by_extension, "extension": DAR["extension"]}
    neither = {"url": value_only_by_extension["url"]}
    for ext in (both, neither):
        rules = {i.rule for i in validate({**patient, "extension": [ext]}).issues}
        assert "ext-1" in rules
