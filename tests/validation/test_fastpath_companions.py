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
