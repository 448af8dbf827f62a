"""`fhir-adapter validate` with IGs: --ig / --profile / --strict-* / --must-support, the same
keys in fhir-adapter.yaml, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_adapter.cli import main

US_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
DIV = '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'
PATIENT = {"resourceType": "Patient", "text": {"status": "generated", "div": DIV}, "gender": "male"}


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FHIR_ADAPTER_CONFIG", raising=False)
    (tmp_path / "claims.json").write_text(
        json.dumps({**PATIENT, "meta": {"profile": [US_PATIENT]}})
    )
    (tmp_path / "plain.json").write_text(json.dumps(PATIENT))
    ext = {**PATIENT, "extension": [{"url": "http://example.org/fhir/ext", "valueString": "x"}]}
    (tmp_path / "ext.json").write_text(json.dumps(ext))
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["validate", "--format", "json", *argv])
    return code, capsys.readouterr().out


def rules(out: str) -> list[str]:
    return [i["rule"] for f in json.loads(out) for i in f["issues"]]


def test_ig_profile_and_strict_flags(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "claims.json")
    assert code == 0 and rules(out) == ["profile-not-loaded"]
    code, out = run(capsys, "--ig", "us-core", "claims.json")
    assert code == 1 and set(rules(out)) == {"profile-cardinality"}
    code, out = run(capsys, "--ig", "us-core", "--profile", US_PATIENT, "plain.json")
    assert code == 1 and "us-core-patient|6.1.0" in out
    code, out = run(capsys, "ext.json")
    assert code == 0 and rules(out) == ["extension"]
    code, out = run(capsys, "--strict-extensions", "ext.json")
    assert code == 1 and rules(out) == ["extension"]
    code, out = run(
        capsys, "--ig", "us-core", "--must-support", "--profile", US_PATIENT, "plain.json"
    )
    assert "must-support" in rules(out)


def test_bad_ig_or_profile_exits_2(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--ig", "hl7.fhir.us.core#1.0.0", "plain.json"]) == 2
    assert "hl7.fhir.us.core#1.0.0 not found" in capsys.readouterr().err
    assert main(["validate", "--profile", "http://example.org/nope", "plain.json"]) == 2
    assert "not in the loaded packages" in capsys.readouterr().err


def test_config_file_validate_section(files: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (files / "fhir-adapter.yaml").write_text(
        f"validate:\n  ig: [us-core]\n  profile: [{US_PATIENT}]\n  strict-extensions: true\n"
    )
    code, out = run(capsys, "plain.json")
    assert code == 1 and set(rules(out)) == {"profile-cardinality"}
    code, out = run(
        capsys,
        "--profile",
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-practitioner",
        "plain.json",
    )
    assert code == 0  # the command line wins over the file
    (files / "fhir-adapter.yaml").write_text("validate:\n  igs: [us-core]\n")
    assert main(["validate", "plain.json"]) == 2
    assert "validate.igs: unknown key(s) igs (fix: did you mean 'ig'?" in capsys.readouterr().err
    (files / "fhir-adapter.yaml").write_text("validate:\n  strict-terminology: maybe\n")
    assert main(["validate", "plain.json"]) == 2
    assert "strict-terminology must be true or false (fix: " in capsys.readouterr().err
    (files / "fhir-adapter.yaml").write_text("validate:\n  ig: {us-core: 1}\n")
    assert main(["report", "plain.json", "-o", "r.html"]) == 2
    assert "validate.ig: ig must be a list of strings (fix: e.g. ig: [us-core])" in (
        capsys.readouterr().err
    )
