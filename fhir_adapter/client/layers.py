"""Sending a plan in ``batch`` mode: batches in dependency layers, reference cycles in two phases.

The entries of one batch are independent: a server may process them in any order (FHIR R4
http.html, batch processing), so an entry that names another entry of the same batch can be
refused by a server that checks references on write (HAPI's default) whatever the bundle's
order. The entries therefore go in layers, one batch each: an entry is sent in the batch after
every entry it references has been answered (the order of ``each`` mode,
:mod:`fhir_adapter.client.order`), its ``urn:uuid`` references rewritten to ``Type/id``. In a
reference cycle some resources are first written without the references that close it, and a
last batch updates them with the whole resource. A bundle without references between its
entries is one batch, as before.
"""

from __future__ import annotations

import dataclasses

from fhir_adapter.client import tree
from fhir_adapter.client.delivery import (
    _already_complete,
    _incomplete,
    _issue,
    _names,
    _updated,
    _written,
    read_bundle_response,
)
from fhir_adapter.client.errors import DeliveryError
from fhir_adapter.client.order import each_order, first_write
from fhir_adapter.client.plan import Plan, Step
from fhir_adapter.client.result import EntryResult, PostResult
from fhir_adapter.client.session import FhirClient


def send_layers(client: FhirClient, plan: Plan) -> PostResult:
    """Send a batch plan as batches in dependency layers, then one batch of updates for the
    resources a reference cycle wrote without some references (see the module docstring).
    Entries whose referenced entries failed are not sent; resources left without their
    cycle-closing references are reported ``incomplete``. When an error stops the post, the
    DeliveryError's ``partial`` lists every entry."""
    steps = plan.steps
    order = plan.order or each_order(steps)
    results: list[EntryResult | None] = [None] * len(steps)
    mapping = {s.full_url: f"{s.resource_type}/{s.known_id}" for s in steps if s.known_id}
    result = PostResult(client.base_url, "batch", strategy=plan.strategy, notes=list(plan.notes))
    result.warnings = list(plan.warnings)
    layer_count = len(order.rounds()) + (1 if order.two_phase else 0)
    sent = [0]

    def batch(layer: list[Step], what: str) -> list[EntryResult]:
        sent[0] += 1
        sub = Plan("batch", plan.strategy, layer)
        label = (
            f"POST {client.base_url} (batch {sent[0]} of up to {layer_count}, {what}: "
            f"{len(layer)} entries)"
        )
        idempotent = all(s.idempotent for s in layer)
        resp = client.request("POST", "", body=sub.bundle(), idempotent=idempotent)
        body = client.json(resp, label) if resp.content else None
        return read_bundle_response(client.base_url, label, resp.status_code, body, sub).entries

    try:
        waiting = list(range(len(steps)))
        while waiting:
            ready = [i for i in waiting if all(results[d] is not None for d in order.waits(i))]
            layer: list[Step] = []
            omitted: dict[int, list[int]] = {}
            for i in ready or waiting:
                s = steps[i]
                failed = sorted(d for d in order.waits(i) if not _written(results[d]))
                if failed:
                    er = EntryResult(i, s.resource_type, s.full_url, not_sent=True)
                    er.outcome = _issue(f"not sent: {_names(steps, failed)} were not created")
                    results[i] = er
                    continue
                later = sorted(order.deferred[i])
                known = _already_complete(client, s, [steps[d] for d in later]) if later else None
                omit = [] if known is not None else later  # a re-post under put: written whole
                # the plan's bodies name known ids as Type/id; any other, by urn:uuid
                gone = [
                    ref for d in omit for ref in (steps[d].full_url, mapping.get(steps[d].full_url))
                ]
                body = first_write(s.body, [ref for ref in gone if ref])
                body = tree.rewrite_refs(body, {**mapping, **(known or {})})
                layer.append(dataclasses.replace(s, body=body))
                omitted[i] = omit
            if layer:
                for er in batch(layer, "first writes"):
                    results[er.index] = er
                    if _written(er) and steps[er.index].full_url:
                        mapping[steps[er.index].full_url] = f"{er.resource_type}/{er.id}"
                    if omitted[er.index] and er.written:
                        er.deferred = omitted[er.index]
                        er.incomplete = _incomplete(
                            steps,
                            er,
                            "the update that adds them was not sent (the post stopped first)",
                        )
            waiting = [i for i in waiting if results[i] is None]
        updates: list[Step] = []
        for i, done in enumerate(results):
            if done is None or not done.written or not done.deferred:
                continue
            missing = [d for d in done.deferred if not _written(results[d])]
            if missing:
                done.incomplete = _incomplete(
                    steps, done, f"not updated, as {_names(steps, missing)} were not created"
                )
                continue
            s = steps[i]
            url = f"{s.resource_type}/{done.id}"
            body = {**tree.rewrite_refs(s.body, mapping), "id": done.id}
            updates.append(Step(i, s.resource_type, s.full_url, "PUT", url, body))
        if updates:
            try:
                answers = batch(updates, "updates that close reference cycles")
            except DeliveryError as err:
                for u in updates:
                    pending = results[u.index]
                    assert pending is not None
                    pending.incomplete = _incomplete(
                        steps, pending, f"the update that adds them failed: {err}"
                    )
                raise
            for answer in answers:
                held = results[answer.index]
                assert held is not None
                _updated(steps, held, answer)
    except DeliveryError as err:
        for s in steps:
            if results[s.index] is None:
                er = EntryResult(s.index, s.resource_type, s.full_url, not_sent=True)
                er.outcome = _issue("not sent: the post stopped before this entry")
                results[s.index] = er
        result.entries = [er for er in results if er is not None]
        err.partial = result
        raise
    result.entries = [er for er in results if er is not None]
    return result
