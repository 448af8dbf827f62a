"""Browser fixtures: Debian's headless Chromium driven by Playwright (its own browser download
is not used). Browser tests skip, saying why, when Playwright or Chromium is missing; CI
installs both (.ci/run), so they run there."""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.testing import chromium_path, launch_chromium

#: where screenshots taken by the tests are kept (build/ is not committed)
ARTIFACTS = Path(__file__).resolve().parents[2] / "build" / "test-artifacts"


@pytest.fixture(scope="session")
def browser_context() -> Iterator[Any]:
    """A headless Chromium context (fresh profile) for the session."""
    # In CI (.ci/run installs both) a missing browser is a failure, not a silent skip.
    missing = pytest.fail if os.environ.get("CI") == "true" else pytest.skip
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed (pip install -e '.[dev]')")
    exe = chromium_path()
    if exe is None:
        missing("Chromium not found (apt-get install -y chromium; .ci/run installs it)")
        return
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as p:
        ctx = launch_chromium(p, profile, exe)
        try:
            yield ctx
        finally:
            ctx.close()


@pytest.fixture
def browser_page(browser_context: Any) -> Iterator[Any]:
    """A new page; every request it makes is recorded in ``page.requests``."""
    page = browser_context.new_page()
    page.requests = []
    page.on("request", lambda r: page.requests.append(r.url))
    yield page
    page.close()


@pytest.fixture(scope="session")
def broken_bundle(seed_bundle: dict[str, Any]) -> dict[str, Any]:
    """The seed bundle with two errors: a bad status on entry 3, a bad system on entry 1."""
    b = copy.deepcopy(seed_bundle)
    b["entry"][3]["resource"]["status"] = "bogus"
    b["entry"][1]["resource"]["code"]["coding"][0]["system"] = "snomed"
    return b
