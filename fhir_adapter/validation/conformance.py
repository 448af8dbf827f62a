"""Rules for conformance resources that need the official search-parameter definitions.

The official validator checks these beyond the StructureDefinitions: a CapabilityStatement's
search parameter, and a SearchParameter derived from another, must have the type of the
definition they point at; a composite SearchParameter needs at least two components.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.validation.report import Issue
from fhir_adapter.validation.tables import tables


def check(resource: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """Append issues for a CapabilityStatement or SearchParameter; other types are ignored."""
    rt = resource.get("resourceType")
    if rt == "CapabilityStatement":
        _capability(resource, path, issues)
    elif rt == "SearchParameter":
        _search_parameter(resource, path, issues)


def _known_type(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    known: dict[str, str] = tables().get("search_params", {})
    return known.get(url.split("|", 1)[0])


def _capability(cs: dict[str, Any], path: str, issues: list[Issue]) -> None:
    for i, rest in enumerate(cs.get("rest") or []):
        if not isinstance(rest, dict):
            continue
        for j, res in enumerate(rest.get("resource") or []):
            if not isinstance(res, dict):
                continue
            for k, sp in enumerate(res.get("searchParam") or []):
                if not isinstance(sp, dict):
                    continue
                want = _known_type(sp.get("definition"))
                if want and sp.get("type") and sp["type"] != want:
                    issues.append(
                        Issue(
                            "error",
                            "search-param",
                            f"{path}.rest[{i}].resource[{j}].searchParam[{k}].type",
                            f"type {sp['type']!r} does not match its definition {sp['definition']} (type {want!r})",
                            f"use type {want!r}",
                            family="structure",
                        )
                    )


def _search_parameter(sp: dict[str, Any], path: str, issues: list[Issue]) -> None:
    want = _known_type(sp.get("derivedFrom"))
    if want and sp.get("type") and sp["type"] != want:
        issues.append(
            Issue(
                "error",
                "search-param",
                f"{path}.type",
                f"type {sp['type']!r} differs from the type {want!r} of derivedFrom {sp['derivedFrom']}",
                f"use type {want!r}",
                family="structure",
            )
        )
    _expression_matches_base(sp, path, issues)
    if sp.get("type") == "composite" and len(sp.get("component") or []) < 2:
        issues.append(
            Issue(
                "error",
                "search-param",
                f"{path}.component",
                "a composite SearchParameter must define two or more components",
                "add the components",
                family="structure",
            )
        )


def _expression_matches_base(sp: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """Each ``|``-separated path of the expression must start at one of the base resource types."""
    expr, base = sp.get("expression"), sp.get("base")
    if (
        not isinstance(expr, str)
        or not isinstance(base, list)
        or {"Resource", "DomainResource"} & set(base)
    ):
        return
    resources = set(tables()["resources"])
    for part in expr.split("|"):
        head = part.strip().lstrip("(").split(".", 1)[0].strip()
        if head in resources and head not in base:
            issues.append(
                Issue(
                    "error",
                    "search-param",
                    f"{path}.expression",
                    f"the expression starts at {head}, which is not a base of this SearchParameter ({', '.join(base)})",
                    "make base and expression agree",
                    family="structure",
                )
            )
            return
