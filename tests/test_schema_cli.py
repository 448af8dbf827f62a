"""``fhir-adapter schema``: the case JSON Schema for editors, self-contained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

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

    out = tmp_path / "fhir-adapter-case.schema.json"
    assert main(["schema", "-o", str(out)]) == 0
    assert (
        "# yaml-language-server: $schema=fhir-adapter-case.schema.json" in capsys.readouterr().err
    )
    schema = json.loads(out.read_text())
    Draft202012Validator.check_schema(schema)
    assert all(r.startswith("#/") for r in refs(schema)), "editors must not need to fetch $id"
    # an empty registry: any reference that is not local would fail to resolve
    validator = Draft202012Validator(schema, registry=Registry())
    fixtures = sorted(FIXTURES_DIR.glob("*.case.yaml"))
    assert fixtures
    for case in fixtures:
        data = yaml.load(case.read_text(), Loader=yaml.BaseLoader)  # dates stay text
        errors = [e.message for e in validator.iter_errors(_numbers(data))]
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


def test_schema_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert json.loads(capsys.readouterr().out)["properties"]["format"]
