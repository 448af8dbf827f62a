"""A missing FHIRPath engine is an error, never a validation that quietly skips invariants."""

from __future__ import annotations

import sys

import pytest

from fhir_adapter.validation import Validator


def test_without_fhirpathpy_validation_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    # e.g. a Spark executor whose Python lacks the package's dependencies
    for name in [m for m in sys.modules if m == "fhirpathpy" or m.startswith("fhirpathpy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "fhirpathpy", None)  # import fails
    patient = {"resourceType": "Patient", "id": "p", "gender": "female"}
    with pytest.raises(ImportError):
        Validator().validate(patient)
