"""Every test here starts from the shipped tables only: no add-on directories from the
environment, the settings file or an earlier test's --mappings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fhir_adapter import terminology


@pytest.fixture(autouse=True)
def clean_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.delenv(terminology.ENV_VAR, raising=False)
    monkeypatch.setenv("FHIR_ADAPTER_CONFIG", str(tmp_path / "no-such-config.yaml"))
    terminology.use_mappings(())
    yield
    terminology.use_mappings(())
