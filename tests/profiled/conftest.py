"""Fixtures for the profile output modes: every case file, every mode, the IG packages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.paths import FIXTURES_DIR

#: Every case in fixtures/ (a glob, so a new case is checked in every mode with no test change).
CASES = sorted(FIXTURES_DIR.glob("*.case.yaml"))
#: The format /2 test case that uses every part of the format (tests/data), checked as well.
ALL_PARTS = Path(__file__).resolve().parents[1] / "data" / "all-parts.case.yaml"
#: Made-up cases that hold little (tests/data): only a differential diagnosis; no conditions.
SMALL = [ALL_PARTS.with_name(f"{n}.case.yaml") for n in ("differential-only", "no-conditions")]
MODES = ["ips", "us-core", "us-core@3.1.1", "us-core@7.0.0"]
#: A fixed document time for IPS conversions (2024-05-14T00:00:00Z).
EPOCH = "1715644800"
IGS = Path(__file__).resolve().parents[2].parent / "shared" / "igs"


@pytest.fixture
def epoch(monkeypatch: pytest.MonkeyPatch) -> str:
    """SOURCE_DATE_EPOCH set for the test."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    return EPOCH


@pytest.fixture(scope="session")
def profiled() -> Callable[[Path, str], dict[str, Any]]:
    """convert(case, profile=mode), memoised per session (IPS with the fixed EPOCH)."""
    cache: dict[tuple[Path, str], dict[str, Any]] = {}

    def get(case: Path, mode: str) -> dict[str, Any]:
        if (case, mode) not in cache:
            with pytest.MonkeyPatch.context() as mp:
                mp.setenv("SOURCE_DATE_EPOCH", EPOCH)
                cache[case, mode] = convert(case, profile=mode)
        return cache[case, mode]

    return get


@pytest.fixture(scope="session")
def igs() -> Path:
    """The official IG packages (../shared/igs); the tests that read them need them."""
    if not (IGS / "hl7.fhir.uv.ips-1.1.0.tgz").is_file():
        pytest.skip(f"official IG packages not found in {IGS}")
    return IGS
