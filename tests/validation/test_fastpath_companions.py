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


def test_fast_decisions_on_profile_constraints_agree_with_fhirpathpy() -> None:
    """Every constraint of the shipped IG tables that the shortcuts decide (grouped ``implies``
    sides included) is decided as fhirpathpy decides it, on nodes of every example type."""
    import gzip
    import json
    from pathlib import Path

    from fhir_adapter.validation.fastpath import compile_fast
    from fhir_adapter.validation.invariants import _truthy
    from fhir_adapter.validation.tables import tables

    resources = set(tables()["resources"])

    shipped = Path(__file__).resolve().parents[2] / "fhir_adapter" / "validation" / "data" / "igs"
    cons: dict[str, tuple[str, str, str]] = {}

    def collect(node: dict[str, Any]) -> None:
        for c in node.get("cons", []):
            cons.setdefault(c[3], (c[0], c[3], node.get("bp", "")))
        for child in node.get("ch", {}).values():
            collect(child)
        for s in node.get("slices", []):
            collect(s)

    for f in shipped.glob("*#*.json.gz"):
        for prof in json.loads(gzip.decompress(f.read_bytes()))["profiles"].values():
            collect(prof["root"])
    statuses = ["final", "partial", "registered", "completed", "in-progress", "order", "plan"]
    nodes: list[dict[str, Any]] = [{}]
    for st in statuses:
        nodes += [
            {"status": st},
            {"status": st, "effectiveDateTime": "2020"},
            {"status": st, "issued": "2020-01-01T00:00:00Z", "effectiveDateTime": "2020"},
            {"intent": st, "requester": {"reference": "x"}},
            {"intent": st},
            {"status": st, "performedDateTime": "2020"},
            {"component": [{"code": {"text": "x"}}], "status": st},
            {"hasMember": [{"reference": "x"}]},
            {"valueString": "x"},
            {"dataAbsentReason": {"text": "x"}},
            {"url": "http://x"},
            {"data": "AAAA"},
        ]
    decided = 0
    for key, expr, base in cons.values():
        fast = compile_fast(expr)
        if fast is None or "memberOf(" in expr or "resolve()" in expr:
            continue
        c = compile_constraint(key, "error", key, expr, base)
        for plain in nodes:
            # a resource-level constraint sees a resource (typed by its resourceType)
            node = {**plain, "resourceType": base} if base in resources else plain
            got = fast(node)
            if got is None:
                continue
            decided += 1
            assert got == _truthy(c.fn(node, {})), (key, expr, node)
    assert decided > 100
