"""The profile benchmark's data (bench/us_core_bundle.py) is valid US Core 6.1.0, so the bench
times validation of conformant data (and breaking one resource of it is caught)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from fhir_adapter.validation import Validator

BENCH = Path(__file__).resolve().parents[3] / "bench" / "us_core_bundle.py"


def _make(n: int) -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("us_core_bundle", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    bundle: dict[str, Any] = module.make_us_core_bundle(n)
    return bundle


def test_bench_bundle_is_valid_us_core() -> None:
    bundle = _make(120)
    report = Validator(igs=["us-core"]).validate_resource(bundle)
    assert report.ok, report.errors[:5]
    assert {i.rule for i in report.warnings} <= {"terminology-unchecked"}
    claimed = {e["resource"]["meta"]["profile"][0].rsplit("/", 1)[1] for e in bundle["entry"]}
    assert len(claimed) == 11
    del bundle["entry"][0]["resource"]["identifier"]
    errors = Validator(igs=["us-core"]).validate_resource(bundle).errors
    assert errors[0].path == "Bundle.entry[0].resource.identifier"
    # references to that patient now point at a resource that is no US Core Patient
    assert {i.rule for i in errors[1:]} == {"profile-target"}
