"""Inputs nested deeper than anything FHIR needs get one clear fatal issue, never a
RecursionError, whatever form they come in (defect 13 of issue 9)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter import validate
from fhir_adapter.cli import main


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"url": "http://x.example/e", "valueString": "v"}
    for _ in range(levels):
        node = {"url": "http://x.example/e", "extension": [node]}
    return node


def _patient(levels: int) -> dict[str, Any]:
    return {"resourceType": "Patient", "extension": [_deep(levels)]}


def _fatal(report: Any) -> list[Any]:
    return [i for i in report.issues if i.severity == "fatal" and "levels deep" in i.message]


@pytest.mark.parametrize("levels", [200, 450, 20_000])
def test_deep_input_gives_one_fatal_issue(levels: int) -> None:
    text = json.dumps(_patient(min(levels, 450)))
    if levels > 450:
        text = '{"resourceType": "Patient", "x": ' + "[" * levels + "]" * levels + "}"
    else:
        assert len(_fatal(validate(_patient(levels)))) == 1  # a dict
    report = validate(text)  # JSON text
    assert len(_fatal(report)) == 1 and not report.ok


def test_deep_lines_of_an_ndjson_file_and_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.ndjson"
    path.write_text(json.dumps(_patient(450)) + "\n" + json.dumps(_patient(1)) + "\n")
    assert len(_fatal(validate(path))) == 1
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr()
    assert "levels deep" in out.out + out.err and "Traceback" not in out.err


def test_nesting_real_resources_use_is_validated_as_usual() -> None:
    report = validate(_patient(100))  # 201 levels: deep, but within the limit
    assert not _fatal(report)
