"""Fixtures for delivery tests: a real local FHIR server (sekmet-fhir) and the internet marker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fhir_adapter.testing import local_fhir_server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-internet"):
        return
    skip = pytest.mark.skip(reason="needs the internet; run with --run-internet")
    for item in items:
        if "internet" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[str]:
    """A fresh local FHIR R4 server for the session; yields its base URL."""
    try:
        with local_fhir_server() as base:
            yield base
    except RuntimeError as err:
        pytest.fail(str(err))
