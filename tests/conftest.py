"""Shared fixtures: the seed case, its bundle, a helper writing case files to a temp dir, and
JSON paths for the mutation tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.case import Case, load_case
from fhir_adapter.convert import convert
from fhir_adapter.paths import FIXTURES_DIR, SEED_CASE

SECOND_CASE = FIXTURES_DIR / "t2dm-metformin.case.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-internet", action="store_true", help="run tests that need the public internet"
    )


@pytest.fixture(scope="session")
def seed_case() -> Case:
    return load_case(SEED_CASE)


@pytest.fixture(scope="session")
def seed_bundle(seed_case: Case) -> dict[str, Any]:
    return convert(seed_case)


@pytest.fixture
def write_case(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "case.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


class JsonPaths:
    """Paths inside a JSON value (dict keys and list indexes) for mutation tests."""

    @staticmethod
    def walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """Every path below ``node``, depth first (the empty root path excluded)."""
        if path:
            yield path
        if isinstance(node, dict):
            for k, v in node.items():
                yield from JsonPaths.walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from JsonPaths.walk(v, (*path, i))

    @staticmethod
    def put(node: Any, path: tuple[Any, ...], value: Any) -> None:
        """Replace the value at ``path`` in place."""
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value


@pytest.fixture(scope="session")
def json_paths() -> type[JsonPaths]:
    """:class:`JsonPaths` (walk / put) for tests that mutate JSON."""
    return JsonPaths
