"""Every case in fixtures/ (all of them, whatever their format) converts to a bundle that the
offline validator accepts with no error and no warning, whose references all resolve inside the
bundle without loops, and that fhir.resources parses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle as R4BBundle

from fhir_adapter import convert
from fhir_adapter.bundle import references
from fhir_adapter.paths import FIXTURES_DIR
from fhir_adapter.validation import validate

FIXTURES = sorted(FIXTURES_DIR.glob("*.case.yaml"))


@pytest.mark.parametrize("kind", ["transaction", "collection"])
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name.removesuffix(".case.yaml"))
def test_fixture_bundle_has_no_error_and_no_warning(path: Path, kind: str) -> None:
    bundle = convert(path, bundle_type=kind)
    report = validate(bundle)
    assert [(i.severity, i.rule, i.path, i.message) for i in report.issues] == []


def _graph(bundle: dict[str, Any]) -> dict[str, set[str]]:
    urls = {e["fullUrl"] for e in bundle["entry"]}
    graph: dict[str, set[str]] = {}
    for e in bundle["entry"]:
        refs = set(references(e["resource"]))
        assert refs <= urls, f"{e['fullUrl']} references {refs - urls} outside the bundle"
        assert e["fullUrl"] not in refs, f"{e['fullUrl']} references itself"
        graph[e["fullUrl"]] = refs
    return graph


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name.removesuffix(".case.yaml"))
def test_fixture_references_resolve_in_order_without_loops(path: Path) -> None:
    """Entries come after what they reference, so `post --mode each` can send every one."""
    bundle = convert(path)
    graph = _graph(bundle)
    seen: set[str] = set()
    for e in bundle["entry"]:
        assert graph[e["fullUrl"]] <= seen, f"{e['fullUrl']} comes before what it references"
        seen.add(e["fullUrl"])
    R4BBundle.model_validate(bundle)
