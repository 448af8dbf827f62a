"""``concepts add``: offline hits record their source; hand-typed codes are checked."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from fhir_adapter.cli import main
from fhir_adapter.paths import MAPPINGS_DIR
from fhir_adapter.terminology import Terminology


def add(mine: Path, *argv: str) -> int:
    return main(["concepts", "add", *argv, "--mappings", str(mine)])


def concepts(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["concepts"]


def test_add_from_search_hit_records_display_and_source(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    assert add(mine, "pneumonia", "--table", "conditions", "--code", "sct|233604007") == 0
    body = concepts(mine / "conditions.yaml")["pneumonia"]
    assert body["text"] == "Pneumonia"
    (coding,) = body["codings"]
    assert coding["system"] == "http://snomed.info/sct"
    assert coding["code"] == "233604007"
    assert coding["display"] == "Pneumonia"
    assert "SNOMED CT IPS free set 20220731" in coding["verified"]
    term = Terminology(MAPPINGS_DIR, [mine])
    assert term.concept("conditions", "pneumonia").codings[0].code == "233604007"


def test_second_add_appends_and_keeps_comments(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "conditions.yaml").write_text("# my own codes\ntable: conditions\nconcepts:\n")
    assert add(mine, "pneumonia", "--table", "conditions", "--code", "sct|233604007") == 0
    assert add(mine, "asthma", "--table", "conditions", "--code", "sct|195967001") == 0
    text = (mine / "conditions.yaml").read_text()
    assert text.startswith("# my own codes\n")
    assert set(concepts(mine / "conditions.yaml")) == {"pneumonia", "asthma"}


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("sct|233604008", "Verhoeff"),  # check digit broken
        ("loinc|1988-6", "check digit"),
        ("icd10cm|J189", "ICD-10-CM"),
        ("rxnorm|72x", "RXCUI"),
        ("http://loinc.org/|1988-5", "canonical"),
        ("1988-5", "SYSTEM|CODE"),
    ],
)
def test_hand_typed_codes_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], code: str, words: str
) -> None:
    mine = tmp_path / "mine"
    argv = ["x_concept", "--table", "labs", "--code", code, "--display", "D", "--source", "S"]
    assert add(mine, *argv) == 2
    assert words in capsys.readouterr().err
    assert not (mine / "labs.yaml").exists()


def test_hand_typed_ucum_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine"
    argv = [
        "mg/day",
        "--table",
        "units",
        "--code",
        "ucum|mg/day",
        "--display",
        "x",
        "--source",
        "y",
    ]
    assert add(mine, *argv) == 2
    assert "UCUM" in capsys.readouterr().err
    argv = [
        "ng/mL",
        "--table",
        "units",
        "--code",
        "ucum|ng/mL",
        "--display",
        "nanogram per milliliter",
        "--source",
        "UCUM specification",
    ]
    assert add(mine, *argv) == 0
    assert concepts(mine / "units.yaml")["ng/mL"]["codings"][0]["verified"] == "UCUM specification"


def test_hand_typed_code_needs_display_and_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    base = ["esr", "--table", "labs", "--code", "loinc|4537-7"]
    assert add(mine, *base) == 2
    assert "--display" in capsys.readouterr().err
    display = "Erythrocyte sedimentation rate by Westergren method"
    assert add(mine, *base, "--display", display) == 2
    assert "--source" in capsys.readouterr().err
    assert not (mine / "labs.yaml").exists()
    assert add(mine, *base, "--display", display, "--source", "loinc.org/4537-7") == 0
    (coding,) = concepts(mine / "labs.yaml")["esr"]["codings"]
    assert coding == {
        "system": "http://loinc.org",
        "code": "4537-7",
        "display": display,
        "verified": "loinc.org/4537-7",
    }


def test_code_found_offline_refuses_a_different_display(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "mine"
    argv = [
        "pneu",
        "--table",
        "conditions",
        "--code",
        "sct|233604007",
        "--display",
        "Lung infection",
    ]
    assert add(mine, *argv) == 2
    assert "--display" in capsys.readouterr().err


def test_existing_key_needs_override(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine"
    argv = ["systemic_lupus_erythematosus", "--table", "conditions", "--code", "sct|55464009"]
    assert add(mine, *argv) == 2
    assert "already in table 'conditions'" in capsys.readouterr().err
    assert add(mine, *argv, "--override") == 0
    assert concepts(mine / "conditions.yaml")["systemic_lupus_erythematosus"]["override"] is True
    assert add(mine, *argv, "--override") == 2  # already in this very file
    assert "edit it there" in capsys.readouterr().err


def test_unknown_table_and_bad_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mine = tmp_path / "mine"
    assert add(mine, "pneumonia", "--table", "condition", "--code", "sct|233604007") == 2
    assert "did you mean 'conditions'" in capsys.readouterr().err
    assert add(mine, "Pneumonia", "--table", "conditions", "--code", "sct|233604007") == 2
    assert "lower_snake_case" in capsys.readouterr().err


def test_add_without_any_addon_directory_says_how(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["concepts", "add", "p", "--table", "conditions", "--code", "sct|233604007"]) == 2
    assert "pass --mappings DIR" in capsys.readouterr().err


def test_a_file_given_as_the_addon_directory_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "conditions.yaml"  # the table file instead of its directory
    mine.write_text("table: conditions\nconcepts:\n")
    assert add(mine, "pneumonia", "--table", "conditions", "--code", "sct|233604007") == 2
    err = capsys.readouterr().err
    assert f"{mine}: --mappings: is a file, not an add-on mappings directory" in err
    assert "Traceback" not in err
    assert main(["convert", "--mappings", str(mine), "-o", str(tmp_path / "b.json")]) == 2
    assert "is a file, not an add-on mappings directory" in capsys.readouterr().err
