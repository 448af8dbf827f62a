"""``fhir-adapter init``: a commented skeleton of the current format that loads cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fhir_adapter.case import case_schema, load_case
from fhir_adapter.cli import main
from fhir_adapter.convert import convert
from fhir_adapter.paths import MAPPINGS_DIR
from fhir_adapter.terminology import Terminology
from fhir_adapter.validation import validate

ADDON = """\
concepts:
  pneumonia:
    text: Pneumonia
    codings:
      - {system: "http://snomed.info/sct", code: "233604007", display: Pneumonia, verified: IPS free set}
  standard_chest_x_ray_abnormal:
    text: Standard chest X-ray abnormal
    codings:
      - {system: "http://snomed.info/sct", code: "168734001", display: Standard chest X-ray abnormal, verified: IPS free set}
"""


def init(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "My new Case.case.yaml"
    assert main(["init", str(path), *extra]) == 0
    return path


def test_skeleton_loads_cleanly_and_converts_to_a_valid_bundle(tmp_path: Path) -> None:
    path = init(tmp_path)
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=fhir-adapter-case.schema.json\n")
    assert (tmp_path / "fhir-adapter-case.schema.json").is_file()
    case = load_case(path)
    assert case.id == "my-new-case"
    assert case.patient.sex == "unknown"  # nothing invented
    assert validate(convert(case)).ok


def test_skeleton_names_every_section_and_field_of_the_schema(tmp_path: Path) -> None:
    text = init(tmp_path).read_text()
    schema = case_schema()
    for name, prop in schema["properties"].items():
        assert re.search(rf"^(# )?{name}:", text, re.M), f"section {name} missing"
        items = prop.get("items", {})
        item_props = items.get("properties") or schema["$defs"].get(
            str(items.get("$ref", "")).rsplit("/", 1)[-1], {}
        ).get("properties", {})
        for field in item_props:
            assert re.search(rf"^\s*#\s+(- )?{field}:", text, re.M), f"{name}.{field} missing"
        for field in prop.get("properties", {}):
            assert re.search(rf"^\s*#?\s*{field}:", text, re.M), f"{name}.{field} missing"


def test_uncommented_examples_form_a_valid_case(tmp_path: Path) -> None:
    """The commented examples are themselves right: uncommented, they load and convert."""
    text = init(tmp_path).read_text()
    text = re.sub(r"^(\w+): \[\]$", r"\1:", text, flags=re.M)
    text = re.sub(r"^  # ((- |  )\w+:)", r"  \1", text, flags=re.M)
    text = re.sub(r"^    daily_dose:.*\n", "", text, flags=re.M)  # the alternative to dose
    (tmp_path / "full.case.yaml").write_text(text)
    addon = tmp_path / "codes"
    addon.mkdir()
    (addon / "conditions.yaml").write_text(ADDON.replace("  standard_chest", "  x_unused"))
    (addon / "findings.yaml").write_text(ADDON.replace("  pneumonia:", "  x_unused:"))
    term = Terminology(MAPPINGS_DIR, [addon])
    case = load_case(tmp_path / "full.case.yaml", terminology=term)
    assert len(case.conditions) == len(case.labs) == len(case.medications) == 1
    report = validate(convert(case, terminology=term))
    assert report.ok, report


def test_init_refuses_to_overwrite_and_checks_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = init(tmp_path)
    assert main(["init", str(path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["init", str(path), "--force", "--id", "Bad Id"]) == 2
    assert "id" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "x.yaml"), "--no-schema", "--title", "Sepsis: day 1"]) == 0
    text = (tmp_path / "x.yaml").read_text()
    assert not text.startswith("# yaml-language-server")
    assert load_case(tmp_path / "x.yaml").title == "Sepsis: day 1"
