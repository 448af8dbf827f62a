"""Add-on mappings extend the shipped tables: precedence, conflicts, overrides, configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_adapter import terminology
from fhir_adapter.case import load_case
from fhir_adapter.cli import main
from fhir_adapter.errors import CaseError, MappingError
from fhir_adapter.paths import FIXTURES_DIR, MAPPINGS_DIR
from fhir_adapter.terminology import Terminology

SLE_AGAIN = """\
concepts:
  systemic_lupus_erythematosus:
    text: SLE (local wording)
    codings: []
    note: local
"""
CASE = (
    (FIXTURES_DIR / "t2dm-metformin.case.yaml")
    .read_text()
    .replace("concept: type_2_diabetes_mellitus", "concept: pneumonia")
)


def addon(tmp_path: Path, name: str, table: str, text: str) -> Path:
    d = tmp_path / name
    d.mkdir(parents=True, exist_ok=True)
    (d / f"{table}.yaml").write_text(text)
    return d


def test_addon_extends_shipped_table(tmp_path: Path, pneumonia_table: str) -> None:
    term = Terminology(MAPPINGS_DIR, [addon(tmp_path, "mine", "conditions", pneumonia_table)])
    assert term.has("conditions", "pneumonia")
    assert term.has("conditions", "systemic_lupus_erythematosus")  # shipped ones stay
    assert term.concept("conditions", "pneumonia").file == str(
        tmp_path / "mine" / "conditions.yaml"
    )


def test_key_defined_twice_names_both_files(tmp_path: Path) -> None:
    term = Terminology(MAPPINGS_DIR, [addon(tmp_path, "mine", "conditions", SLE_AGAIN)])
    with pytest.raises(MappingError) as info:
        term.table("conditions")
    msg = str(info.value)
    assert str(MAPPINGS_DIR / "conditions.yaml") in msg
    assert str(tmp_path / "mine" / "conditions.yaml") in msg
    assert "override: true" in msg


def test_override_replaces_and_later_addon_wins(tmp_path: Path, pneumonia_table: str) -> None:
    over = SLE_AGAIN.replace("    codings: []", "    override: true\n    codings: []")
    a = addon(tmp_path, "a", "conditions", over)
    term = Terminology(MAPPINGS_DIR, [a])
    assert term.concept("conditions", "systemic_lupus_erythematosus").text == "SLE (local wording)"
    b = addon(tmp_path, "b", "conditions", over.replace("local wording", "second"))
    term = Terminology(MAPPINGS_DIR, [a, b])
    assert term.concept("conditions", "systemic_lupus_erythematosus").text == "SLE (second)"
    # two add-ons, no marker on the later one: an error naming both add-on files
    c = addon(tmp_path, "c", "conditions", pneumonia_table)
    d = addon(tmp_path, "d", "conditions", pneumonia_table)
    with pytest.raises(MappingError, match=r"c/conditions.yaml and in .*d/conditions.yaml"):
        Terminology(MAPPINGS_DIR, [c, d]).table("conditions")


def test_shipped_tables_cannot_mark_override(tmp_path: Path, pneumonia_table: str) -> None:
    fake_shipped = addon(
        tmp_path,
        "shipped",
        "conditions",
        pneumonia_table.replace(
            "    text: Pneumonia\n", "    text: Pneumonia\n    override: true\n"
        ),
    )
    with pytest.raises(MappingError, match="only add-on tables may override"):
        Terminology(fake_shipped).table("conditions")


def test_addon_may_add_a_new_table(tmp_path: Path, pneumonia_table: str) -> None:
    term = Terminology(MAPPINGS_DIR, [addon(tmp_path, "mine", "procedures", pneumonia_table)])
    assert "procedures" in term.table_names()
    assert term.has("procedures", "pneumonia")


def test_missing_addon_directory_names_its_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(terminology.ENV_VAR, str(tmp_path / "nope"))
    terminology.default_terminology.cache_clear()
    with pytest.raises(MappingError, match=r"FHIR_ADAPTER_MAPPINGS.*not found"):
        terminology.default_terminology()


def test_environment_variable_extends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pneumonia_table: str
) -> None:
    import os

    a = addon(tmp_path, "a", "conditions", pneumonia_table)
    b = addon(tmp_path, "b", "labs", pneumonia_table.replace("pneumonia:", "other:"))
    monkeypatch.setenv(terminology.ENV_VAR, f"{a}{os.pathsep}{b}")
    terminology.default_terminology.cache_clear()
    term = terminology.default_terminology()
    assert term.has("conditions", "pneumonia") and term.has("labs", "other")
    assert term.has("conditions", "systemic_lupus_erythematosus")


def test_settings_file_paths_are_relative_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pneumonia_table: str
) -> None:
    project = tmp_path / "project"
    addon(project, "codes", "conditions", pneumonia_table)
    cfg = project / "fhir-adapter.yaml"
    cfg.write_text("mappings: [codes]\n")
    monkeypatch.setenv("FHIR_ADAPTER_CONFIG", str(cfg))
    terminology.default_terminology.cache_clear()
    assert terminology.default_terminology().has("conditions", "pneumonia")
    cfg.write_text("mappings: {a: b}\n")
    terminology.default_terminology.cache_clear()
    with pytest.raises(MappingError, match="'mappings' must be a directory or a list"):
        terminology.default_terminology()


def test_case_with_addon_concept_converts_via_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pneumonia_table: str
) -> None:
    case = tmp_path / "case.yaml"
    case.write_text(CASE)
    out = tmp_path / "bundle.json"
    # without the add-on: the error names the files read and how to find the concept
    assert main(["convert", str(case), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"read: {MAPPINGS_DIR / 'conditions.yaml'}" in err
    assert "fhir-adapter concepts search pneumonia --kind condition" in err
    assert not out.exists()
    mine = addon(tmp_path, "mine", "conditions", pneumonia_table)
    assert main(["convert", str(case), "-o", str(out), "--mappings", str(mine)]) == 0
    assert "233604007" in out.read_text()


def test_case_error_lists_every_file_read(tmp_path: Path, pneumonia_table: str) -> None:
    mine = addon(tmp_path, "mine", "conditions", pneumonia_table)
    case = tmp_path / "case.yaml"
    case.write_text(CASE.replace("concept: pneumonia", "concept: pneumonai"))
    with pytest.raises(CaseError) as info:
        load_case(case, terminology=Terminology(MAPPINGS_DIR, [mine]))
    problem = info.value.problems[0]
    assert str(mine / "conditions.yaml") in problem.message
    # the closest key first (the shipped tables may offer more, e.g. viral_pneumonia)
    assert problem.fix is not None and problem.fix.startswith("did you mean 'pneumonia'")
