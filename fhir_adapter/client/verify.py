"""Read-back verification: every posted resource read again and compared with what was sent."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from fhir_adapter.client import tree
from fhir_adapter.client.plan import Plan, Step
from fhir_adapter.client.result import EntryResult, PostResult
from fhir_adapter.client.session import FhirClient


def verify(client: FhirClient, plan: Plan, result: PostResult, workers: int = 1) -> None:
    """Read every posted resource back and record differences (server-added meta ignored);
    up to ``workers`` reads at once."""
    mapping = result.ids

    def check(pair: tuple[Step, EntryResult]) -> None:
        step, er = pair
        label = f"GET {er.resource_type}/{er.id}"
        resp = client.request("GET", f"{er.resource_type}/{er.id}")
        if resp.status_code != 200:
            er.differences.append(f"read back failed: HTTP {resp.status_code}")
            return
        got = client.json(resp, label)
        expected = tree.rewrite_refs(step.body, mapping)
        er.differences.extend(
            tree.differences(expected, tree.relative_refs(got, client.base_url), er.resource_type)
        )

    todo = [(s, er) for s, er in zip(plan.steps, result.entries, strict=False) if er.ok and er.id]
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(check, todo))
    else:
        for pair in todo:
            check(pair)
