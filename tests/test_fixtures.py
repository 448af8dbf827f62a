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


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    return seen


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.name.removesuffix(".case.yaml"))
def test_fixture_references_resolve_and_come_first_outside_loops(path: Path) -> None:
    """Every reference resolves in the bundle; an entry comes after what it references unless
    both are in one reference loop (which only a transaction or batch can create at once)."""
    bundle = convert(path)
    graph = _graph(bundle)
    seen: set[str] = set()
    for e in bundle["entry"]:
        url = e["fullUrl"]
        later = graph[url] - seen
        in_loop = {ref for ref in later if url in _reach(graph, ref)}
        assert later == in_loop, f"{url} comes before {later - in_loop}, outside any loop"
        seen.add(url)
    R4BBundle.model_validate(bundle)


def test_there_are_format_2_fixtures_each_with_a_facts_test() -> None:
    """At least three published cases in format /2, each named by a facts test in tests/."""
    import yaml

    v2 = [p for p in FIXTURES if yaml.safe_load(p.read_text())["format"].endswith("/2")]
    assert len(v2) >= 3
    facts = "".join(p.read_text() for p in Path(__file__).parent.glob("test_facts_*.py"))
    for p in v2:
        assert f'"{p.name}"' in facts, f"{p.name} has no facts test"
