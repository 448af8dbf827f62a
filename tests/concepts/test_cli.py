"""``fhir-adapter concepts search|show`` output, and did-you-mean in the validator and case errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from fhir_adapter.cli import main
from fhir_adapter.validation import validate


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_search_prints_codes_sources_and_the_add_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(
        capsys, "concepts", "search", "pneumonia", "--kind", "condition", "--limit", "2"
    )
    assert code == 0
    first = out.split("\n2. ")[0]
    assert first.startswith("1. pneumonia  [condition, finding; not in your tables yet]  Pneumonia")
    assert "http://snomed.info/sct|233604007  Pneumonia" in first
    assert "verified: SNOMED CT IPS free set 20220731" in first
    assert (
        "add: fhir-adapter concepts add pneumonia --table conditions --code 'http://snomed.info/sct|233604007'"
        in first
    )


def test_search_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "concepts", "search", "lupus", "--format", "json", "--limit", "3")
    hits = json.loads(out)
    assert code == 0 and len(hits) == 3
    assert hits[0]["in_table"] == "conditions"
    assert {"key", "codes", "kinds", "text", "origin"} <= set(hits[0])


def test_search_typo_and_unit(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "concepts", "search", "pnemonia", "--limit", "1")
    assert code == 0 and "showing 'pneumonia'" in err and "233604007" in out
    code, out, err = run(capsys, "concepts", "search", "mg/day", "--limit", "1")
    assert code == 0 and "showing 'mg/d'" in err and out.startswith("1. mg/d ")
    code, out, err = run(capsys, "concepts", "search", "zzqxj")
    assert code == 1 and "no concept matches 'zzqxj'" in err


def test_show_key_code_and_typo(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "concepts", "show", "metformin")
    assert code == 0 and "http://www.nlm.nih.gov/research/umls/rxnorm|6809  metformin" in out
    assert "file: " in out
    code, out, _ = run(capsys, "concepts", "show", "sct|233604007")
    assert code == 0
    assert out.startswith("pneumonia  [condition, finding; not in your tables yet]  Pneumonia")
    assert (
        "add: fhir-adapter concepts add pneumonia --table conditions --code 'http://snomed.info/sct|233604007'"
        in out
    )
    r4 = "http://hl7.org/fhir/narrative-status|generated"  # in R4's code systems, no table
    code, out, _ = run(capsys, "concepts", "show", r4, "--format", "json")
    [shown] = json.loads(out)
    assert code == 0 and shown["origin"] == "r4" and shown["kinds"] == ["code"]
    assert shown["key"] == "generated" and shown["codes"][0]["display"] == "Generated"
    code, _, err = run(capsys, "concepts", "show", "metfromin")
    assert code == 2 and "did you mean 'metformin'?" in err


def test_validator_suggests_element_names() -> None:
    report = validate(
        {
            "resourceType": "Condition",
            "clinicalStauts": {"text": "x"},
            "subject": {"reference": "Patient/1"},
        }
    )
    (issue,) = [i for i in report.issues if i.rule == "structure"]
    assert issue.fix == "did you mean 'clinicalStatus'?"
    report = validate(
        {"resourceType": "Condition", "zzz": 1, "subject": {"reference": "Patient/1"}}
    )
    (issue,) = [i for i in report.issues if i.rule == "structure"]
    assert issue.fix == "remove it or check the spelling"


def test_case_unit_and_key_suggestions(write_case: Callable[..., Path]) -> None:
    from fhir_adapter.case import load_case
    from fhir_adapter.errors import CaseError

    text = (Path(__file__).parents[2] / "fixtures" / "t2dm-metformin.case.yaml").read_text()
    bad = text.replace("unit: mg}", "unit: mg/day}").replace(
        "concept: metformin", "concept: metfornin"
    )
    bad = bad.replace("dose: {value: 500, unit: mg/day}", "daily_dose: {value: 1000, unit: mg/day}")
    bad = bad.replace("    frequency: {times: 2, period: 1, unit: d}\n", "")
    with pytest.raises(CaseError) as info:
        load_case(write_case(bad))
    fixes = {p.field: p.fix for p in info.value.problems}
    assert fixes["medications[0].concept"].startswith("did you mean 'metformin'?")
    assert fixes["medications[0].daily_dose.unit"].startswith("did you mean 'mg/d'?")


def test_configured_addon_dir_may_not_exist_yet_for_concepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fhir_adapter import terminology

    cfg = tmp_path / "fhir-adapter.yaml"
    cfg.write_text("mappings: [my-codes]\n")
    monkeypatch.setenv("FHIR_ADAPTER_CONFIG", str(cfg))
    monkeypatch.delenv(terminology.ENV_VAR, raising=False)
    terminology.use_mappings(())
    code, out, err = run(capsys, "concepts", "search", "pneumonia", "--limit", "1")
    assert code == 0 and "does not exist yet" in err and "233604007" in out
    assert (
        run(
            capsys,
            "concepts",
            "add",
            "pneumonia",
            "--table",
            "conditions",
            "--code",
            "sct|233604007",
        )[0]
        == 0
    )
    assert (tmp_path / "my-codes" / "conditions.yaml").is_file()
    # convert does not tolerate it: a typo in a directory name must not pass silently
    (tmp_path / "my-codes" / "conditions.yaml").unlink()
    (tmp_path / "my-codes").rmdir()
    code, _, err = run(capsys, "convert", "-o", str(tmp_path / "b.json"))
    assert code == 2 and "add-on mappings directory not found" in err and "mappings: in" in err
    terminology.use_mappings(())
