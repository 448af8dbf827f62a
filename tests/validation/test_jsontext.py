"""Positions of issue paths in JSON text, found on demand (jsontext.Positions)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from fhir_adapter.validation.jsontext import Positions

DOC: dict[str, Any] = {
    "resourceType": "Bundle",
    "type": "collection",
    "entry": [
        {
            "fullUrl": "urn:uuid:1",
            "resource": {
                "resourceType": "Patient",
                "name": [{"given": ["A", None], "_given": [None, {"id": "g"}]}],
                "text": {"status": "generated", "div": '<div>"a": [1, {"b": "}"}]</div>'},
            },
        },
        {
            "fullUrl": "urn:uuid:2",
            "resource": {"resourceType": "Basic", "code": {"text": "\u00e9\\"}},
        },
        [],
        {},
        [[1.5e3, True, False, None]],
    ],
}


def _paths(node: Any, path: str) -> Iterator[tuple[str, Any, str | None]]:
    """(path, value, key) of every member and item below ``node``."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{path}.{k}", v, k
            yield from _paths(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield f"{path}[{i}]", v, None
            yield from _paths(v, f"{path}[{i}]")


@pytest.mark.parametrize("indent", [None, 2, "\t"])
def test_every_member_and_item_is_located(indent: Any) -> None:
    text = json.dumps(DOC, indent=indent, ensure_ascii=False)
    lines = text.split("\n")
    pos = Positions(text, "Bundle")
    assert pos.get("Bundle") == (1, 1)
    for path, value, key in _paths(DOC, "Bundle"):
        line, col = pos[path]
        at = lines[line - 1][col - 1 :]
        if key is not None:
            assert at.startswith(json.dumps(key) + ":"), (path, at)
        else:
            assert at.startswith(json.dumps(value, ensure_ascii=False)[:1]), (path, at)


def test_missing_paths_and_their_ancestors() -> None:
    text = json.dumps(DOC, indent=1)
    pos = Positions(text, "Bundle")
    assert "Bundle.entry[0].resource.name[0].family" not in pos
    assert "Bundle.entry[9]" not in pos
    assert "Bundle.type.x" not in pos  # below a primitive
    assert "Other.type" not in pos  # another root
    assert pos.get("Bundle.entry[1].resource.code.text") == (34, 6)
    with pytest.raises(KeyError):
        pos["Bundle.nope"]


def test_columns_count_characters_and_lines_any_order() -> None:
    text = '{"a": "\u00e9\u00e9", "b":\n  [ 1,\n    2 ]}'
    pos = Positions(text, "X")
    assert pos["X.b[1]"] == (3, 5)
    assert pos["X.b"] == (1, 13)  # asked after a later position: the line count still holds
    assert pos["X.b[0]"] == (2, 5)


def test_any_order_of_requests_gives_the_same_positions() -> None:
    text = json.dumps(DOC, indent=2)
    paths = [p for p, _, _ in _paths(DOC, "Bundle")]
    in_order = Positions(text, "Bundle")
    expected = {p: in_order[p] for p in paths}
    for order in (paths[::-1], paths[1::2] + paths[::2]):
        pos = Positions(text, "Bundle")
        assert "Bundle.entry[7]" not in pos  # scans the array to its end first
        assert {p: pos[p] for p in order} == expected
