"""Shared fixtures: the seed case, its bundle, and a helper writing case files to a temp dir."""

from __future__ import annotations

from collections.abc import Callable
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
