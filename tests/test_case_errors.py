"""Bad case files fail fast with file, line, field path and fix; the CLI exits 2 and writes nothing."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from fhir_adapter.case import load_case
from fhir_adapter.cli import main
from fhir_adapter.errors import CaseError

GOOD = """\
format: fhir-adapter-case/1
id: tiny-case
title: Tiny case
patient:
  sex: female
conditions:
  - key: sle
    concept: systemic_lupus_erythematosus
    onset: {date: 2010-02-14}
medications:
  - key: pred
    concept: prednisolone
    status: active
    daily_dose: {value: 20, unit: mg/d}
    reasons: [sle]
"""


def _error(write_case: Callable[..., Path], text: str, name: str = "case.yaml") -> CaseError:
    path = write_case(text, name)
    with pytest.raises(CaseError) as info:
        load_case(path)
    err = info.value
    assert err.file == str(path)
    return err


def test_good_tiny_case_loads(write_case: Callable[..., Path]) -> None:
    case = load_case(write_case(GOOD))
    assert case.conditions[0].onset is not None
    assert case.conditions[0].onset.date == "2010-02-14"
    assert case.medications[0].daily_dose is not None
    assert case.medications[0].daily_dose.unit == "mg/d"


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        ("title: Tiny case", "title: Tiny case\ncolour: blue", 4, "colour", "unknown key 'colour'"),
        (
            "  - key: pred\n",
            "  - key: pred\n    strength: 5\n",
            12,
            "medications[0].strength",
            "unknown key",
        ),
        ("  sex: female", "  sexx: female", 5, "patient.sex", "missing required field 'sex'"),
        ("title: Tiny case", "title: [Tiny, case]", 3, "title", "expected text, got a list"),
        (
            "{date: 2010-02-14}",
            "{date: 2010-02-30}",
            9,
            "conditions[0].onset.date",
            "not a possible date",
        ),
        (
            "{date: 2010-02-14}",
            "{date: 14/02/2010}",
            9,
            "conditions[0].onset.date",
            "not a date of the form",
        ),
        ("{value: 20,", "{value: -20,", 14, "medications[0].daily_dose.value", "too small"),
        (
            "unit: mg/d}",
            "unit: mg/day}",
            14,
            "medications[0].daily_dose.unit",
            "not in table 'units'",
        ),
        (
            "concept: prednisolone",
            "concept: prednisone_x",
            12,
            "medications[0].concept",
            "not in table 'medications'",
        ),
        (
            "reasons: [sle]",
            "reasons: [lupus]",
            15,
            "medications[0].reasons[0]",
            "not a condition or finding key",
        ),
        (
            "status: active",
            "status: taking",
            13,
            "medications[0].status",
            "'taking' is not allowed",
        ),
        (
            "format: fhir-adapter-case/1",
            "format: fhir-adapter-case/9",
            1,
            "format",
            "not supported",
        ),
    ],
)
def test_each_bad_field_is_named_with_line_and_fix(
    write_case: Callable[..., Path], old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in GOOD
    err = _error(write_case, GOOD.replace(old, new, 1))
    problem = next((p for p in err.problems if p.field == field), None)
    assert problem is not None, str(err)
    assert problem.line == line, str(err)
    assert words in problem.message
    assert problem.fix, "every error suggests a fix"
    text = str(err)
    assert re.search(rf":{line}:\d+: {re.escape(field)}: ", text), text  # file:line:column


def test_malformed_yaml_names_the_line(write_case: Callable[..., Path]) -> None:
    err = _error(write_case, GOOD.replace("  sex: female", "  sex: [female"))
    assert "malformed" in err.message
    assert err.line is not None and 5 <= err.line <= 7


def test_malformed_json_names_the_line(write_case: Callable[..., Path]) -> None:
    err = _error(
        write_case,
        '{\n  "format": "fhir-adapter-case/1",\n  "id": "x-case"\n  "title": 1\n}',
        "c.json",
    )
    assert "malformed" in err.message
    assert err.line == 4


def test_json_case_files_are_accepted(write_case: Callable[..., Path]) -> None:
    text = '{"format": "fhir-adapter-case/1", "id": "json-case", "title": "J", "patient": {"sex": "male"}}'
    assert load_case(write_case(text, "c.json")).patient.sex == "male"


def test_duplicate_keys_are_rejected(write_case: Callable[..., Path]) -> None:
    err = _error(write_case, GOOD.replace("title: Tiny case", "title: Tiny case\ntitle: Again"))
    assert "duplicate key 'title'" in err.message
    assert err.line == 4


def test_all_problems_are_reported_at_once(write_case: Callable[..., Path]) -> None:
    text = GOOD.replace("title: Tiny case", "title: Tiny case\ncolour: blue").replace(
        "mg/d}", "mg/day}"
    )
    bad = text.replace("concept: prednisolone", "concept: nope_drug")
    err = _error(write_case, bad)
    fields = [p.field for p in err.problems]
    assert "colour" in fields
    assert len(err.problems) >= 1
    err2 = _error(write_case, GOOD.replace("mg/d}", "mg/day}").replace("prednisolone", "nope_drug"))
    assert {p.field for p in err2.problems} == {
        "medications[0].concept",
        "medications[0].daily_dose.unit",
    }
    assert str(err2).startswith("2 problems in")


def test_missing_file_is_a_case_error(tmp_path: Path) -> None:
    with pytest.raises(CaseError, match="file not found"):
        load_case(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"format: fhir-adapter-case/1\nid: caf\xe9\n", "not UTF-8 text (invalid"),
        (b"format: fhir-adapter-case/1\nid: a\x07b\n", "malformed YAML/JSON: unacceptable"),
    ],
)
def test_unreadable_case_files_say_how_to_fix_them(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "bad.case.yaml"
    path.write_bytes(content)
    with pytest.raises(CaseError) as err:
        load_case(path)
    assert expected in str(err.value) and err.value.fix


def test_cli_bad_case_exits_2_and_writes_nothing(
    write_case: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write_case(GOOD.replace("{value: 20,", "{value: -20,"))
    out = tmp_path / "out" / "bundle.json"
    assert main(["convert", str(bad), "-o", str(out)]) == 2
    assert not out.exists()
    assert not list(tmp_path.glob("out/.*"))
    err = capsys.readouterr().err
    assert str(bad) in err and "daily_dose.value" in err and "fix:" in err


def test_generated_schema_check_matches_the_schema() -> None:
    """The generated fast checks and jsonschema agree on the fixtures and on broken variants."""
    import copy
    from importlib import import_module

    from jsonschema import Draft202012Validator

    from fhir_adapter.case import FORMATS, case_schema
    from fhir_adapter.case.source import parse_with_lines
    from fhir_adapter.paths import FIXTURES_DIR

    for path in sorted(FIXTURES_DIR.glob("*.case.yaml")):
        data, _ = parse_with_lines(path.read_text(), str(path))
        version = FORMATS[data["format"]]
        full = Draft202012Validator(case_schema(version))
        fast = import_module(f"fhir_adapter.schemas.case{version}_check")
        variants = [data]
        for key, bad in (
            ("id", "Bad Id"),
            ("patient", {"sex": "woman"}),
            ("extra", 1),
            ("labs", [{"key": "x"}]),
            ("conditions", [{"key": "x", "concept": "y", "onset": {"direction": "after"}}]),
            (
                "findings",
                [
                    {
                        "key": "x",
                        "concept": "y",
                        "category": "exam",
                        "description": "d",
                        "body_sites": [{"site": "knee", "laterality": "up"}],
                    }
                ],
            ),
        ):
            v = copy.deepcopy(data)
            v[key] = bad
            variants.append(v)
        for v in variants:
            try:
                fast.check(copy.deepcopy(v))
                fast_ok = True
            except fast.JsonSchemaValueException:
                fast_ok = False
            assert fast_ok == full.is_valid(v), (path.name, v.get("id"))
        assert full.is_valid(data), path.name


def test_load_case_says_what_it_takes(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="case file path"):
        load_case(123)  # type: ignore[arg-type]
    with pytest.raises(CaseError, match="is a directory") as caught:
        load_case(tmp_path)
    assert caught.value.file == str(tmp_path)


@pytest.mark.parametrize("value", ["0", "-5", "-0.5"])
def test_a_format_1_result_of_zero_or_less_names_the_value(
    write_case: Callable[..., Path], value: str
) -> None:
    """It used to be reported as "unknown key 'unit'" at line 1 (the wrong oneOf branch)."""
    text = (
        GOOD
        + f"labs:\n  - key: ca\n    concept: serum_calcium\n    result: {{value: {value}, unit: mg/dL}}\n"
    )
    err = _error(write_case, text)
    (problem,) = err.problems
    assert problem.field == "labs[0].result.value"
    assert (
        problem.line == text.splitlines().index(f"    result: {{value: {value}, unit: mg/dL}}") + 1
    )
    assert "too small" in problem.message and "unit" not in problem.message
    assert "fhir-adapter-case/2" in (problem.fix or "")


IMAGING = """\
imaging:
  - key: ct
    modality: computed_tomography
    report_code: ct_report
    regions: [skin_and_subcutaneous_tissue]
    findings: []
"""


def test_an_uncoded_imaging_region_is_a_case_error_not_a_crash(
    write_case: Callable[..., Path],
) -> None:
    text = GOOD + IMAGING
    err = _error(write_case, text)
    (problem,) = err.problems
    assert problem.field == "imaging[0].regions[0]"
    assert (
        problem.line == text.splitlines().index("    regions: [skin_and_subcutaneous_tissue]") + 1
    )
    assert "no SNOMED CT code" in problem.message and problem.fix


def test_an_uncoded_imaging_modality_is_a_case_error_not_a_crash(
    write_case: Callable[..., Path], tmp_path: Path
) -> None:
    import shutil

    from fhir_adapter.paths import MAPPINGS_DIR
    from fhir_adapter.terminology import Terminology

    tables = tmp_path / "mappings"
    shutil.copytree(MAPPINGS_DIR, tables)
    with (tables / "modalities.yaml").open("a") as fh:
        fh.write("  thermography:\n    text: Thermography\n    codings: []\n    note: none\n")
    text = GOOD + IMAGING.replace("computed_tomography", "thermography").replace(
        "[skin_and_subcutaneous_tissue]", "[pelvis]"
    )
    with pytest.raises(CaseError) as info:
        load_case(write_case(text), terminology=Terminology(tables))
    (problem,) = info.value.problems
    assert problem.field == "imaging[0].modality" and "no DICOM code" in problem.message
