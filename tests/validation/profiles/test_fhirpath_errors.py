"""FHIRPath errors are reported, never skipped: a constraint whose expression cannot be parsed, or
whose evaluation raises (or yields FHIRPath's error value) on some input, becomes an information
issue naming the constraint's key, in base R4 and in profiles. It never counts as a violation
(no error) nor as holding (no silence)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.validation import Validator, validate
from fhir_adapter.validation.invariants import Invariants
from fhir_adapter.validation.report import Issue

from .conftest import make_tgz

URL = "http://example.org/fhir/StructureDefinition/fhirpath-errors"


def _unchecked(issues: list[Issue], rule: str) -> list[tuple[str, str, str]]:
    return [(i.severity, i.path, i.message) for i in issues if i.rule == rule]


def test_a_base_constraint_that_raises_is_reported_with_its_key() -> None:
    sd = {
        "resourceType": "StructureDefinition",
        "url": "http://example.org/fhir/StructureDefinition/x",
        "name": "X",
        "status": "draft",
        "kind": "resource",
        "abstract": False,
        "type": "Patient",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "derivation": "constraint",
        "differential": {"element": [{"id": "Patient", "path": 1}]},
    }
    report = validate(sd)
    # the defect itself: one error
    assert [(i.rule, i.path) for i in report.errors] == [
        ("primitive", "StructureDefinition.differential.element[0].path")
    ]
    # the constraints fhirpathpy could not evaluate on it: reported, by key, as information
    found = _unchecked(report.issues, "invariant-unchecked")
    at_element = [m for s, p, m in found if p == "StructureDefinition.differential.element[0]"]
    assert {s for s, _, _ in found} == {"information"}
    assert any(m.startswith("constraint eld-19 not checked") for m in at_element), found
    assert any(m.startswith("constraint eld-20 not checked") for m in at_element), found


def test_a_base_constraint_that_cannot_be_parsed_is_reported_where_it_applies(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    inv = Invariants()
    monkeypatch.setitem(inv._raw, "HumanName", [["hn-x", "error", "Some rule", "given.(("]])
    monkeypatch.setattr(inv, "keys", inv.keys | {"HumanName"})
    issues: list[Issue] = []
    patient = {"resourceType": "Patient", "name": [{"given": ["A"]}]}
    inv.check("HumanName", patient["name"][0], "Patient.name[0]", patient, patient, issues)
    ((severity, path, message),) = _unchecked(issues, "invariant-unchecked")
    assert (severity, path) == ("information", "Patient.name[0]")
    assert message.startswith("constraint hn-x not checked") and "cannot parse" in message


def _package(tmp_path: Path, constraints: list[dict[str, Any]]) -> Path:
    profile = {
        "resourceType": "StructureDefinition",
        "url": URL,
        "version": "0.1.0",
        "name": "P",
        "status": "draft",
        "kind": "resource",
        "abstract": False,
        "type": "Patient",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Patient",
        "derivation": "constraint",
        "snapshot": {
            "element": [
                {
                    "id": "Patient",
                    "path": "Patient",
                    "min": 0,
                    "max": "*",
                    "base": {"path": "Patient", "min": 0, "max": "*"},
                    "constraint": constraints,
                }
            ]
        },
    }
    return make_tgz(
        tmp_path / "example.fhirpath-0.1.0.tgz",
        {"name": "example.fhirpath", "version": "0.1.0"},
        {"StructureDefinition-p.json": profile},
    )


def _constraint(key: str, expression: str) -> dict[str, Any]:
    return {"key": key, "severity": "error", "human": f"rule {key}", "expression": expression}


def test_profile_constraints_that_raise_or_do_not_parse_are_reported_with_their_key(
    tmp_path: Path,
) -> None:
    tgz = _package(
        tmp_path,
        [
            _constraint("p-raises", "gender + 1 > 2"),  # a string plus a number
            _constraint("p-single", "name.given.single()"),  # FHIRPath's error value
            _constraint("p-parse", "name.((given"),
            _constraint("p-holds", "gender.exists()"),
        ],
    )
    v = Validator(igs=[str(tgz)], profiles=[URL])
    patient = {
        "resourceType": "Patient",
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">A</div>'},
        "gender": "male",
        "name": [{"given": ["A", "B"]}],
    }
    report = v.validate(patient)
    assert report.ok and not report.warnings
    found = _unchecked(report.issues, "profile-unchecked")
    keys = sorted(m.split()[1] for _, _, m in found)
    assert keys == ["p-parse", "p-raises", "p-single"], found
    assert {(s, p) for s, p, _ in found} == {("information", "Patient")}
    del patient["gender"]  # p-holds now fails: a violation, reported as one
    assert [i.rule for i in v.validate(patient).errors] == ["p-holds"]


def test_every_shipped_expression_is_fhirpath_by_the_grammar() -> None:
    """R4's own expressions are evaluated from trees parsed when the tables were built, without
    the syntax check: each one must pass it (fhirpathpy's parser accepts broken text)."""
    from fhir_adapter.validation.invariants import EvaluationError, check_syntax
    from fhir_adapter.validation.tables import fhirpath_asts, tables

    expressions = {c[3] for cons in tables()["constraints"].values() for c in cons}
    assert len(expressions) > 150 and expressions <= set(fhirpath_asts())
    for expression in expressions:
        check_syntax(expression)
    for broken in ("name.((given", "a b", "(("):
        with pytest.raises(EvaluationError):
            check_syntax(broken)
