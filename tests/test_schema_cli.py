"""``fhir-adapter schema``: the case JSON Schema for editors, self-contained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from fhir_adapter.case import FORMATS
from fhir_adapter.cli import main
from fhir_adapter.paths import FIXTURES_DIR


def refs(node: object) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in refs(v)]
    return []


def test_schema_is_self_contained_and_accepts_every_fixture(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from jsonschema import Draft202012Validator
    from referencing import Registry

    validators = {}
    for version in sorted(set(FORMATS.values())):
        out = tmp_path / f"fhir-adapter-case-{version}.schema.json"
        assert main(["schema", "--format", str(version), "-o", str(out)]) == 0
        assert f"# yaml-language-server: $schema={out.name}" in capsys.readouterr().err
        schema = json.loads(out.read_text())
        Draft202012Validator.check_schema(schema)
        assert all(r.startswith("#/") for r in refs(schema)), "editors must not fetch $id"
        # an empty registry: any reference that is not local would fail to resolve
        validators[f"fhir-adapter-case/{version}"] = Draft202012Validator(
            schema, registry=Registry()
        )
    fixtures = sorted(FIXTURES_DIR.glob("*.case.yaml"))
    assert fixtures
    for case in fixtures:
        data = yaml.load(case.read_text(), Loader=yaml.BaseLoader)  # dates stay text
        errors = [e.message for e in validators[data["format"]].iter_errors(_numbers(data))]
        assert errors == [], case.name


def _numbers(node: object) -> object:
    """BaseLoader reads every scalar as text; turn numbers back into numbers."""
    if isinstance(node, dict):
        return {k: _numbers(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_numbers(v) for v in node]
    if isinstance(node, str):
        for kind in (int, float):
            try:
                return kind(node)
            except ValueError:
                pass
        if node in ("true", "false"):
            return node == "true"
    return node


def test_schema_to_stdout_is_the_current_format(capsys: pytest.CaptureFixture[str]) -> None:
    from fhir_adapter.case import CURRENT_FORMAT

    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["format"]["const"] == CURRENT_FORMAT
    assert main(["schema", "--format", "9"]) == 2
