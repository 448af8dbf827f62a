"""Every test here starts from the shipped tables only: no add-on directories from the
environment, the settings file or an earlier test's --mappings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fhir_adapter import terminology


@pytest.fixture(autouse=True)
def clean_defaults(monkeypatch: pytest.MonkeyPatch, no_settings: Path) -> Iterator[None]:
    monkeypatch.delenv(terminology.ENV_VAR, raising=False)
    terminology.use_mappings(())
    yield
    terminology.use_mappings(())
