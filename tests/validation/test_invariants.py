"""One passing and one violating input per named R4 invariant, asserting rule, severity and path."""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter.validation import validate
from fhir_adapter.validation.invariants import Invariants

DIV = '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>'
TXT = {"status": "generated", "div": DIV}
ACTIVE = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}
    ]
}
RESOLVED = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "resolved"}
    ]
}
EIE = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": "entered-in-error",
        }
    ]
}
PLI = [
    {
        "coding": [
            {
                "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                "code": "problem-list-item",
            }
        ]
    }
]
LOINC = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
UUID = "urn:uuid:6f1c3b7e-2d4a-4c5b-9e8f-0a1b2c3d4e5f"


def obs(**kw: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "text": TXT, "status": "final", "code": LOINC, **kw}


def cond(**kw: Any) -> dict[str, Any]:
    return {"resourceType": "Condition", "text": TXT, "subject": {"reference": "Patient/p"}, **kw}


def entry(resource: dict[str, Any], **kw: Any) -> dict[str, Any]:
    return {"fullUrl": UUID, "resource": resource, **kw}


CASES: list[tuple[str, str, str, dict[str, Any], dict[str, Any]]] = [
    # rule, severity, path, good, bad
    (
        "dom-2",
        "error",
        "Observation",
        obs(contained=[{"resourceType": "Patient", "id": "p"}], subject={"reference": "#p"}),
        obs(
            contained=[
                {
                    "resourceType": "Patient",
                    "id": "p",
                    "contained": [{"resourceType": "Patient", "id": "q"}],
                }
            ],
            subject={"reference": "#p"},
        ),
    ),
    (
        "dom-4",
        "error",
        "Observation",
        obs(contained=[{"resourceType": "Patient", "id": "p"}], subject={"reference": "#p"}),
        obs(
            contained=[{"resourceType": "Patient", "id": "p", "meta": {"versionId": "1"}}],
            subject={"reference": "#p"},
        ),
    ),
    (
        "dom-5",
        "error",
        "Observation",
        obs(contained=[{"resourceType": "Patient", "id": "p"}], subject={"reference": "#p"}),
        obs(
            contained=[
                {"resourceType": "Patient", "id": "p", "meta": {"security": [{"code": "R"}]}}
            ],
            subject={"reference": "#p"},
        ),
    ),
    ("dom-6", "warning", "Observation", obs(), {k: v for k, v in obs().items() if k != "text"}),
    (
        "con-3",
        "warning",
        "Condition",
        cond(clinicalStatus=ACTIVE, category=PLI),
        cond(category=PLI),
    ),
    (
        "con-4",
        "error",
        "Condition",
        cond(clinicalStatus=RESOLVED, abatementString="gone"),
        cond(clinicalStatus=ACTIVE, abatementString="gone"),
    ),
    (
        "con-5",
        "error",
        "Condition",
        cond(verificationStatus=EIE),
        cond(verificationStatus=EIE, clinicalStatus=ACTIVE),
    ),
    (
        "obs-3",
        "error",
        "Observation.referenceRange[0]",
        obs(referenceRange=[{"text": "normal"}]),
        obs(referenceRange=[{"appliesTo": [{"text": "adults"}]}]),
    ),
    (
        "obs-7",
        "error",
        "Observation",
        obs(component=[{"code": {"text": "other"}, "valueString": "x"}], valueString="y"),
        obs(component=[{"code": LOINC, "valueString": "x"}], valueString="y"),
    ),
    (
        "sqty-1",
        "error",
        "Observation.referenceRange[0].low",
        obs(referenceRange=[{"low": {"value": 1}}]),
        obs(referenceRange=[{"low": {"value": 1, "comparator": "<"}}]),
    ),
    (
        "per-1",
        "error",
        "Observation.effectivePeriod",
        obs(effectivePeriod={"start": "2020-01-01", "end": "2020-01-02"}),
        obs(effectivePeriod={"start": "2020-01-02", "end": "2020-01-01"}),
    ),
    (
        "rng-2",
        "error",
        "Observation.valueRange",
        obs(valueRange={"low": {"value": 1, "unit": "mg"}, "high": {"value": 2, "unit": "mg"}}),
        obs(valueRange={"low": {"value": 3, "unit": "mg"}, "high": {"value": 2, "unit": "mg"}}),
    ),
    (
        "bdl-2",
        "error",
        "Bundle",
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [entry(obs(), search={"mode": "match"})],
        },
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [entry(obs(), search={"mode": "match"})],
        },
    ),
    (
        "bdl-5",
        "error",
        "Bundle.entry[0]",
        {"resourceType": "Bundle", "type": "collection", "entry": [entry(obs())]},
        {"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": UUID}]},
    ),
    (
        "bdl-8",
        "error",
        "Bundle.entry[0].fullUrl",
        {"resourceType": "Bundle", "type": "collection", "entry": [entry(obs())]},
        {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [
                {
                    "fullUrl": "http://x.org/fhir/Observation/1/_history/2",
                    "resource": {**obs(), "id": "1"},
                }
            ],
        },
    ),
    (
        "bdl-9",
        "error",
        "Bundle",
        {"resourceType": "Bundle", "type": "collection", "entry": [entry(obs())]},
        {
            "resourceType": "Bundle",
            "type": "document",
            "timestamp": "2024-01-01T00:00:00Z",
            "entry": [entry(obs())],
        },
    ),
    (
        "bdl-10",
        "error",
        "Bundle",
        {"resourceType": "Bundle", "type": "collection", "entry": [entry(obs())]},
        {
            "resourceType": "Bundle",
            "type": "document",
            "identifier": {"system": "urn:ietf:rfc:3986", "value": UUID},
            "entry": [entry(obs())],
        },
    ),
    (
        "bdl-12",
        "error",
        "Bundle",
        {"resourceType": "Bundle", "type": "collection", "entry": [entry(obs())]},
        {"resourceType": "Bundle", "type": "message", "entry": [entry(obs())]},
    ),
]


@pytest.mark.parametrize(
    ("rule", "severity", "path", "good", "bad"), CASES, ids=[c[0] for c in CASES]
)
def test_invariant(
    rule: str, severity: str, path: str, good: dict[str, Any], bad: dict[str, Any]
) -> None:
    assert rule not in {i.rule for i in validate(good).issues}, validate(good).to_text()
    hits = [i for i in validate(bad).issues if i.rule == rule]
    assert hits, validate(bad).to_text()
    assert (hits[0].severity, hits[0].path) == (severity, path)


def test_every_constraint_compiles_or_is_accounted_for() -> None:
    compiled, failed = Invariants().compile_all()
    assert compiled > 700
    assert failed == []


def test_rng2_in_different_units_is_reported_as_not_checked() -> None:
    ucum = "http://unitsofmeasure.org"
    low = {"value": 3, "unit": "g", "system": ucum, "code": "g"}
    high = {"value": 2, "unit": "kg", "system": ucum, "code": "kg"}
    report = validate(obs(valueRange={"low": low, "high": high}))
    assert not [i for i in report.issues if i.rule == "rng-2"]
    (note,) = [i for i in report.issues if i.rule == "invariant-unchecked"]
    assert (note.severity, note.path) == ("information", "Observation.valueRange")
    assert note.message.startswith("constraint rng-2 not checked") and "units" in note.message
    high["code"] = high["unit"] = "g"  # same unit: compared
    assert [i.rule for i in validate(obs(valueRange={"low": low, "high": high})).errors] == [
        "rng-2"
    ]
