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


def _nest(levels: int) -> Any:
    """A JSON array nested ``levels`` deep, built without recursion."""
    node: Any = []
    for _ in range(levels - 1):
        node = [node]
    return node


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "Patient", "x": _nest(20_000)},  # an unknown element
        {"resourceType": "Patient", "gender": _nest(20_000)},  # a primitive element
        {
            "resourceType": "Patient",
            "extension": [{"url": "http://x.example/e", "valueString": _nest(20_000)}],
        },
        {"resourceType": "Questionnaire", "status": "draft", "item": _nest(20_000)},
    ],
    ids=["unknown-element", "primitive", "extension-value", "backbone"],
)
def test_deep_dicts_anywhere_give_the_one_fatal_issue(resource: dict[str, Any]) -> None:
    """Built in Python (json.loads never returns these), nested where the walk does not go."""
    report = validate(resource)
    assert len(_fatal(report)) == 1 and len(report.issues) == 1 and not report.ok


@pytest.mark.parametrize("igs", [(), ("us-core",)])
def test_deep_nesting_of_real_elements_is_refused_before_any_check_recurses(
    igs: tuple[str, ...],
) -> None:
    """Extensions in extensions and items in items, past the limit: one fatal issue, with or
    without profiles, and a process at its normal recursion limit."""
    item: dict[str, Any] = {"linkId": "leaf", "type": "display", "text": "x"}
    for i in range(300):
        item = {"linkId": f"l{i}", "type": "group", "item": [item]}
    questionnaire = {"resourceType": "Questionnaire", "status": "draft", "item": [item]}
    for resource in (_patient(200), questionnaire):  # 401 and 601 levels
        report = validate(resource, igs=igs)
        assert len(_fatal(report)) == 1 and len(report.issues) == 1, report.to_text()


def test_the_depth_guard_does_not_serialise_valid_input(monkeypatch: pytest.MonkeyPatch) -> None:
    """Valid input is never measured or serialised for its depth: the walk counts levels only
    on paths long enough to be that deep (the guard cost ~3% of validation time)."""
    import orjson

    from fhir_adapter.validation import jsontext

    calls: list[int] = []
    real = orjson.dumps
    monkeypatch.setattr(orjson, "dumps", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(jsontext, "too_deep", lambda obj: calls.append(1) or False)
    report = validate(_patient(100))  # 201 levels: deep, valid
    assert not _fatal(report) and calls == []
