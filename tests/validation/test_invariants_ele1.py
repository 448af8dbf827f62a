"""ele-1 ("All FHIR elements must have a @value or children") is enforced by the JSON layer.

The invariants layer skips ele-1 (see ``invariants.NATIVE``) because the JSON layer already
rejects every empty object, array and string with rule ``json`` at the element's path; these
tests pin that coverage so dropping either side is noticed.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter.validation import validate


def _obs(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **extra}


def test_ele1_valid_element_passes() -> None:
    report = validate(_obs(valueQuantity={"value": 1}))
    assert not [i for i in report.issues if i.severity == "error"], report.to_text()


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"valueQuantity": {}}, "Observation.valueQuantity"),
        ({"note": [{}]}, "Observation.note[0]"),
    ],
)
def test_ele1_empty_element_is_an_error(extra: dict[str, Any], path: str) -> None:
    hits = [i for i in validate(_obs(**extra)).issues if i.rule == "json" and i.path == path]
    assert hits and hits[0].severity == "error"
