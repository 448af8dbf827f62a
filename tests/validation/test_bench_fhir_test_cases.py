"""bench/fhir_test_cases.py sorts every manifest case into a group or one named drop reason."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "fhir_test_cases.py"


@pytest.fixture(scope="module")
def bench() -> Any:
    spec = importlib.util.spec_from_file_location("fhir_test_cases", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fhir_test_cases"] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


def _outcome(*texts: str, server: bool = False) -> dict[str, Any]:
    ext = [{"url": "http://hl7.org/fhir/StructureDefinition/operationoutcome-issue-server"}]
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "details": {"text": t}, **({"extension": ext} if server else {})}
            for t in texts
        ],
    }


CASES: list[tuple[dict[str, Any], dict[str, Any] | None, str]] = [
    ({"version": "5.0"}, {}, "other FHIR version"),
    ({}, None, "no official outcome recorded"),
    ({"use-test": False}, {}, "disabled in the suite (use-test: false)"),
    ({"file": "x.xml"}, {}, "not JSON (XML, text or JWT input)"),
    ({"packages": ["hl7.fhir.us.core#3.1.0"]}, {}, "needs a package not available offline"),
    (
        {"packages": ["p/test#1.0.0.tgz"]},
        {},
        "loads a test package shipped with the suite (not US Core / IPS)",
    ),
    (
        {"supporting": ["vs.json"]},
        {},
        "needs the suite's own conformance resources (not a package)",
    ),
    ({"security-checks": True}, {}, "non-default validator setting"),
    ({"examples": True, "validateReference": "IGNORE"}, {}, "a"),  # harness defaults
    ({"profile": {"source": "p.json"}, "matchetype": {"source": "m.json"}}, {}, "a"),
    (
        {},
        _outcome(
            "Wrong Display Name 'x' for http://loinc.org#1-8. Valid display is 'y'", server=True
        ),
        "needs a terminology server",
    ),
    # a wrong display in a code system the R4 definitions hold is decidable offline
    (
        {},
        _outcome("Wrong Display Name 'x' for http://hl7.org/fhir/administrative-gender#male"),
        "a",
    ),
    (
        {},
        _outcome("The signature did not verify against the provided certificate"),
        "needs digital signature verification (not implemented)",
    ),
    ({"packages": ["hl7.fhir.us.core#6.1.0"]}, {}, "b"),
    ({"ips": "uv"}, {}, "b"),
]


@pytest.mark.parametrize(("extra", "outcome", "expected"), CASES)
def test_each_case_gets_one_group_or_reason(
    bench: Any, tmp_path: Path, extra: dict[str, Any], outcome: dict[str, Any] | None, expected: str
) -> None:
    root = tmp_path / "validator"
    (root / "outcomes" / "java").mkdir(parents=True)
    entry: dict[str, Any] = {"name": "c", "file": "c.json", "version": "4.0", "module": "general"}
    entry.update(extra)
    (root / entry["file"]).write_text('{"resourceType": "Basic"}')
    if outcome is not None:
        entry["java"] = "java/R4.c-base.json"
        (root / "outcomes" / entry["java"]).write_text(json.dumps(outcome or {"issue": []}))
    case = bench.classify(root, entry, bench._held_systems())
    assert case.group == expected
    assert expected in ("a", "b") or expected in bench.DROP_REASONS
