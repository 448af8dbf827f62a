"""``fhir-adapter init``: a commented skeleton of a case format that loads cleanly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fhir_adapter.case import FORMATS, case_schema, load_case
from fhir_adapter.cli import main
from fhir_adapter.convert import convert
from fhir_adapter.init_cli import convertible, default_version
from fhir_adapter.paths import MAPPINGS_DIR
from fhir_adapter.terminology import Terminology
from fhir_adapter.validation import validate

VERSIONS = sorted(FORMATS.values())
#: Add-on concepts the examples use beyond the shipped tables, with codes from the offline
#: SNOMED CT IPS free set (what `concepts add` would write).
ADDON = {
    "conditions": {"pneumonia": ("233604007", "Pneumonia")},
    "findings": {
        "standard_chest_x_ray_abnormal": ("168734001", "Standard chest X-ray abnormal"),
        "eruption": ("271807003", "Eruption"),
    },
    "specimen_types": {"sputum_specimen": ("119334006", "Sputum specimen")},
}


def init(tmp_path: Path, *extra: str) -> Path:
    path = tmp_path / "My new Case.case.yaml"
    assert main(["init", str(path), *extra]) == 0
    return path


def test_default_is_the_newest_convertible_format(tmp_path: Path) -> None:
    version = default_version()
    assert convertible(version)
    assert all(not convertible(v) for v in VERSIONS if v > version)
    text = init(tmp_path).read_text()
    assert f"format: fhir-adapter-case/{version}\n" in text


@pytest.mark.parametrize("version", VERSIONS)
def test_skeleton_loads_cleanly(tmp_path: Path, version: int) -> None:
    path = init(tmp_path, "--format", str(version))
    text = path.read_text()
    schema_file = f"fhir-adapter-case-{version}.schema.json"
    assert text.startswith(f"# yaml-language-server: $schema={schema_file}\n")
    assert (tmp_path / schema_file).is_file()
    case = load_case(path)
    assert case.id == "my-new-case" and case.version == version
    assert case.patient.sex == "unknown"  # nothing invented
    if convertible(version):
        assert validate(convert(case)).ok


@pytest.mark.parametrize("version", VERSIONS)
def test_skeleton_names_every_section_and_field_of_the_schema(tmp_path: Path, version: int) -> None:
    text = init(tmp_path, "--format", str(version)).read_text()
    schema = case_schema(version)

    def resolve(node: dict) -> dict:
        while "$ref" in node:
            node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        return node

    for name, prop in schema["properties"].items():
        assert re.search(rf"^(# )?{name}:", text, re.M), f"section {name} missing"
        prop = resolve(prop)
        for field in resolve(prop.get("items", {})).get("properties", {}):
            # an example line, or a doubly commented optional one: '  #   # part_of: ...'
            assert re.search(rf"^\s*#\s+(#\s+)?(- )?{field}:", text, re.M), f"{name}.{field}"
        for field in prop.get("properties", {}):  # source, patient: written or commented
            assert re.search(rf"^\s*(#\s+)?{field}:", text, re.M), f"{name}.{field}"


def uncommented(text: str) -> str:
    """The skeleton with its example items uncommented (doubly commented lines stay comments)."""
    text = re.sub(r"^(\w+): \[\]$", r"\1:", text, flags=re.M)
    text = re.sub(r"^  # ((- |  )\w+:)", r"  \1", text, flags=re.M)
    return re.sub(r"^    daily_dose:.*\n", "", text, flags=re.M)  # the alternative to dose


def addon(tmp_path: Path) -> Terminology:
    directory = tmp_path / "codes"
    directory.mkdir()
    for table, concepts in ADDON.items():
        lines = ["concepts:"]
        for key, (code, display) in concepts.items():
            lines += [
                f"  {key}:",
                f"    text: {display}",
                "    codings:",
                f'      - {{system: "http://snomed.info/sct", code: "{code}", display: {display},'
                " verified: SNOMED CT IPS free set}",
            ]
        (directory / f"{table}.yaml").write_text("\n".join(lines) + "\n")
    return Terminology(MAPPINGS_DIR, [directory])


@pytest.mark.parametrize("version", VERSIONS)
def test_uncommented_examples_form_a_valid_case(tmp_path: Path, version: int) -> None:
    """The commented examples are themselves right: uncommented, they load (and convert)."""
    full = tmp_path / "full.case.yaml"
    full.write_text(uncommented(init(tmp_path, "--format", str(version)).read_text()))
    term = addon(tmp_path)
    case = load_case(full, terminology=term)
    for section in schema_sections(version):
        assert getattr(case, section), f"the {section} example did not load"
    if convertible(version):
        report = validate(convert(case, terminology=term))
        assert report.ok, report


def schema_sections(version: int) -> list[str]:
    props = case_schema(version)["properties"]
    return [name for name, p in props.items() if "items" in p or "$ref" in p.get("items", {})]


def test_init_refuses_to_overwrite_and_checks_its_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = init(tmp_path)
    assert main(["init", str(path)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["init", str(path), "--force", "--id", "Bad Id"]) == 2
    assert "id" in capsys.readouterr().err
    assert main(["init", str(path), "--force", "--format", "7"]) == 2
    assert "use one of" in capsys.readouterr().err
    assert main(["init", str(tmp_path / "x.yaml"), "--no-schema", "--title", "Sepsis: day 1"]) == 0
    text = (tmp_path / "x.yaml").read_text()
    assert not text.startswith("# yaml-language-server")
    assert load_case(tmp_path / "x.yaml").title == "Sepsis: day 1"
