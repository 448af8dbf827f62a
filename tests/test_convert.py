"""Conversion: deterministic bundles that fhir.resources parses, with resolvable references."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle as R4BBundle

from fhir_adapter import convert, load_case
from fhir_adapter.bundle import RESOURCE_TYPES, dependency_order, references
from fhir_adapter.cli import main
from fhir_adapter.ids import dicom_uid
from fhir_adapter.paths import FIXTURES_DIR, SEED_CASE

SECOND_CASE = FIXTURES_DIR / "t2dm-metformin.case.yaml"


def test_seed_bundle_holds_the_six_format_1_resource_types(seed_bundle: dict[str, Any]) -> None:
    types = {e["resource"]["resourceType"] for e in seed_bundle["entry"]}
    assert types == {
        "Patient",
        "Condition",
        "Observation",
        "MedicationStatement",
        "ImagingStudy",
        "DiagnosticReport",
    }
    assert types <= set(RESOURCE_TYPES)


def test_same_case_gives_byte_identical_bundle() -> None:
    first = json.dumps(convert(SEED_CASE))
    assert json.dumps(convert(load_case(SEED_CASE))) == first
    # and across processes (no dependence on hash seeds, time or randomness)
    code = "import json,fhir_adapter as f;print(json.dumps(f.convert()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == first


def test_every_resource_parses_with_fhir_resources_and_round_trips(
    seed_bundle: dict[str, Any],
) -> None:
    model = R4BBundle.model_validate(seed_bundle)
    again = json.loads(model.model_dump_json(exclude_none=True))
    assert len(again["entry"]) == len(seed_bundle["entry"])
    for mine, theirs in zip(seed_bundle["entry"], again["entry"], strict=True):
        assert theirs["resource"]["resourceType"] == mine["resource"]["resourceType"]
        assert theirs["resource"]["id"] == mine["resource"]["id"]
        assert theirs["resource"]["identifier"] == mine["resource"]["identifier"]
        assert theirs["resource"].get(
            "code", theirs["resource"].get("medicationCodeableConcept")
        ) == mine["resource"].get("code", mine["resource"].get("medicationCodeableConcept"))


def test_transaction_entries_use_urn_uuid_and_conditional_create(
    seed_bundle: dict[str, Any],
) -> None:
    assert seed_bundle["type"] == "transaction"
    full_urls = [e["fullUrl"] for e in seed_bundle["entry"]]
    assert len(set(full_urls)) == len(full_urls)
    for e in seed_bundle["entry"]:
        r = e["resource"]
        assert e["fullUrl"] == f"urn:uuid:{r['id']}"
        assert re.fullmatch(
            r"[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}", r["id"]
        )
        (ident,) = r["identifier"]
        assert ident["system"] == "urn:ietf:rfc:3986"
        assert re.fullmatch(
            r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
            ident["value"],
        )
        # Never the fullUrl or the id: servers rewrite those strings inside a transaction.
        assert r["id"] not in ident["value"]
        assert e["request"] == {
            "method": "POST",
            "url": r["resourceType"],
            "ifNoneExist": f"identifier=urn:ietf:rfc:3986|{ident['value']}",
        }


def test_references_resolve_inside_the_bundle_and_come_first(seed_bundle: dict[str, Any]) -> None:
    seen: set[str] = set()
    for e in seed_bundle["entry"]:
        for ref in references(e["resource"]):
            assert ref.startswith("urn:uuid:")
            assert ref in seen, f"{e['fullUrl']} references {ref} before (or without) its entry"
        seen.add(e["fullUrl"])
    patient_url = seed_bundle["entry"][0]["fullUrl"]
    for e in seed_bundle["entry"][1:]:
        assert e["resource"]["subject"] == {"reference": patient_url}


def test_collection_bundle_has_no_requests() -> None:
    bundle = convert(SEED_CASE, bundle_type="collection")
    assert bundle["type"] == "collection"
    assert all("request" not in e for e in bundle["entry"])
    assert bundle["identifier"] != convert(SEED_CASE)["identifier"]


def test_unknown_bundle_type_is_refused() -> None:
    with pytest.raises(ValueError, match="bundle_type"):
        convert(SEED_CASE, bundle_type="document")


def test_second_case_converts_with_no_code_change() -> None:
    bundle = convert(SECOND_CASE)
    R4BBundle.model_validate(bundle)
    by_type = {e["resource"]["resourceType"]: e["resource"] for e in reversed(bundle["entry"])}
    assert by_type["Patient"]["gender"] == "male"
    assert by_type["Condition"]["onsetDateTime"] == "2019-03"
    labs = [e["resource"] for e in bundle["entry"] if "valueQuantity" in e["resource"]]
    hba1c = next(r for r in labs if r["valueQuantity"]["code"] == "%")
    assert hba1c["valueQuantity"]["value"] == 8.1
    assert hba1c["effectiveDateTime"] == "2024-05-14"
    ms = by_type["MedicationStatement"]
    assert ms["dosage"][0]["timing"]["repeat"] == {"frequency": 2, "period": 1, "periodUnit": "d"}
    assert ms["dosage"][0]["doseAndRate"][0]["doseQuantity"]["value"] == 500
    assert ms["status"] == "active"


def test_dicom_uids_are_deterministic_and_valid() -> None:
    uid = dicom_uid("case", "xray", "pelvis")
    assert uid == dicom_uid("case", "xray", "pelvis") != dicom_uid("case", "xray", "knee")
    assert re.fullmatch(r"2\.25\.(0|[1-9][0-9]*)", uid) and len(uid) <= 64


def test_dependency_order_moves_referenced_resources_first_and_tolerates_cycles() -> None:
    a = {"id": "a", "x": {"reference": "urn:uuid:b"}}
    b = {"id": "b"}
    assert [r["id"] for r in dependency_order([a, b])] == ["b", "a"]
    c = {"id": "c", "x": {"reference": "urn:uuid:d"}}
    d = {"id": "d", "x": {"reference": "urn:uuid:c"}}
    assert sorted(r["id"] for r in dependency_order([c, d])) == ["c", "d"]


def test_cli_convert_writes_pretty_json_atomically(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bundle.json"
    assert main(["convert", "-o", str(out), "--type", "collection"]) == 0
    text = out.read_text()
    assert text.startswith('{\n  "resourceType": "Bundle"')
    assert json.loads(text) == convert(SEED_CASE, bundle_type="collection")
    assert "collection bundle" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["bundle.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_cli_convert_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(SECOND_CASE)]) == 0
    assert json.loads(capsys.readouterr().out)["type"] == "transaction"


def test_cli_help_answers_without_importing_heavy_modules() -> None:
    code = (
        "import sys; from fhir_adapter.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('fhir.resources', 'yaml', 'jsonschema', 'requests', 'fhirpathpy', 'pydantic')"
        " if m in sys.modules]\nprint('HEAVY', heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "convert" in out.stdout and "validate" in out.stdout and "post" in out.stdout
    assert "HEAVY []" in out.stdout


def test_readme_test_command_is_what_ci_runs() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    block = readme.split("<!-- test-command -->")[1].split("<!-- /test-command -->")[0]
    command = [line for line in block.splitlines() if line and not line.startswith("```")]
    assert len(command) == 1 and "pytest" in command[0]
    ci = (root / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and 'eval "$test_cmd"' in ci
    first = readme.split("```sh\n")[1].split("\n```")[0]
    assert "fhir-adapter convert" in first
