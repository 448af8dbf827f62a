"""Bundles: transaction (conditional create on business identifiers) or collection.

Entries are ordered so that a resource comes after every resource it references (when the
references form no cycle), keeping the bundle usable by servers and clients that process entries
one by one. Each entry's ``fullUrl`` is ``urn:uuid:<resource id>``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fhir_adapter.ids import URI_SYSTEM, business_identifier, resource_uuid

BUNDLE_TYPES = ("transaction", "collection")
#: The resource types fhir-adapter's mappers produce.
RESOURCE_TYPES = (
    "Patient",
    "Condition",
    "Observation",
    "MedicationStatement",
    "ImagingStudy",
    "DiagnosticReport",
    "BodyStructure",
    "Encounter",
    "Specimen",
    "Procedure",
    "AllergyIntolerance",
)


def references(node: Any) -> Iterator[str]:
    """Every ``reference`` string inside a resource (depth first)."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                yield v
            else:
                yield from references(v)
    elif isinstance(node, list):
        for v in node:
            yield from references(v)


def dependency_order(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Resources reordered so referenced ones come first; stable, and cycles keep input order."""
    full = {f"urn:uuid:{r['id']}": i for i, r in enumerate(resources)}
    deps = [
        sorted({full[ref] for ref in references(r) if ref in full and full[ref] != i})
        for i, r in enumerate(resources)
    ]
    state = [0] * len(resources)  # 0 new, 1 visiting, 2 done
    order: list[int] = []

    def visit(i: int) -> None:
        if state[i]:
            return  # done, or a cycle: leave the rest of the cycle in input order
        state[i] = 1
        for d in deps[i]:
            visit(d)
        state[i] = 2
        order.append(i)

    for i in range(len(resources)):
        visit(i)
    return [resources[i] for i in order]


def make_bundle(
    resources: list[dict[str, Any]], *, bundle_type: str = "transaction", bundle_key: str
) -> dict[str, Any]:
    """A bundle of ``resources``; ``bundle_key`` (e.g. the case id) fixes its identifier."""
    if bundle_type not in BUNDLE_TYPES:
        raise ValueError(
            f"bundle_type must be one of {', '.join(BUNDLE_TYPES)}, not {bundle_type!r}"
        )
    entries = []
    for r in dependency_order(resources):
        entry: dict[str, Any] = {"fullUrl": f"urn:uuid:{r['id']}", "resource": r}
        if bundle_type == "transaction":
            ident = next(i for i in r["identifier"] if i["system"] == URI_SYSTEM)
            entry["request"] = {
                "method": "POST",
                "url": r["resourceType"],
                "ifNoneExist": f"identifier={URI_SYSTEM}|{ident['value']}",
            }
        entries.append(entry)
    return {
        "resourceType": "Bundle",
        "identifier": business_identifier(resource_uuid(bundle_key, "Bundle", bundle_type)),
        "type": bundle_type,
        "entry": entries,
    }
