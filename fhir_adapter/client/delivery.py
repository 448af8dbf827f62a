"""Sending a plan: one transaction or batch request, or one request per resource (``each``), and
reading every answer into a PostResult. What is sent is decided in ``plan``."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

from fhir_adapter.client import tree
from fhir_adapter.client.errors import DeliveryError
from fhir_adapter.client.order import each_order, first_write
from fhir_adapter.client.plan import Plan, Step
from fhir_adapter.client.result import EntryResult, PostResult
from fhir_adapter.client.session import FhirClient
from fhir_adapter.client.urls import same_base

_STATUS = re.compile(r"^\s*(\d{3})")
_TYPE = re.compile(r"[A-Z][A-Za-z]+")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _parse_location(location: str) -> tuple[str, str | None] | None:
    """(id, version) from a Location such as ``[base/]Type/id[/_history/vid]``, or None."""
    parsed = _split_location(location)
    return (parsed[2], parsed[3]) if parsed else None


def _split_location(location: str) -> tuple[str, str, str, str | None] | None:
    """(base, type, id, version) of a Location ``[base/]Type/id[/_history/vid]``, or None."""
    parts = location.rstrip("/").split("/")
    version = None
    if len(parts) >= 4 and parts[-2] == "_history":
        version = parts[-1]
        if not _ID.fullmatch(version):
            return None
        parts = parts[:-2]
    if len(parts) < 2 or not _TYPE.fullmatch(parts[-2]) or not _ID.fullmatch(parts[-1]):
        return None
    return "/".join(parts[:-2]), parts[-2], parts[-1], version


def _text(value: Any) -> str | None:
    """A non-empty string from a server's answer, or None for anything else."""
    return value if isinstance(value, str) and value else None


def _problem(er: EntryResult, text: str) -> None:
    """Mark an accepted entry as failed because the answer cannot be trusted."""
    er.problem = text
    er.id = None


def _entry_result(
    step: Step, response: dict[str, Any] | None, resource: Any, base: str
) -> EntryResult:
    er = EntryResult(step.index, step.resource_type, step.full_url)
    if response is None:
        return er
    status = response.get("status")
    if isinstance(status, str) and status[:3].isdigit() and status[3:4] in ("", " "):
        er.status = int(status[:3])  # the usual "201 Created"
    else:
        m = _STATUS.match(str(status or ""))
        er.status = int(m.group(1)) if m else None
    location = response.get("location")
    er.location = location if isinstance(location, str) else None  # servers can send anything
    loc = _split_location(location) if isinstance(location, str) else None
    if loc:
        er.id, er.version = loc[2], loc[3]
    if (er.id is None or er.version is None) and isinstance(resource, dict):
        meta = resource.get("meta")
        er.id = er.id or _text(resource.get("id"))
        er.version = er.version or (
            _text(meta.get("versionId")) if isinstance(meta, dict) else None
        )
    if not er.version:
        etag = response.get("etag")
        if isinstance(etag, str):
            er.version = etag.removeprefix("W/").strip('"') or None
    outcome = response.get("outcome")
    if isinstance(outcome, dict):
        er.outcome = outcome
    if er.ok:
        _check_identity(er, step, loc, base)
    return er


def _check_identity(
    er: EntryResult, step: Step, loc: tuple[str, str, str, str | None] | None, base: str
) -> None:
    """An accepted entry must live where it was sent: the Location on this server, of this
    type, and (for a PUT) under the id sent. Anything else would make later references point
    at a resource that does not exist."""
    if loc is not None:
        where, rtype, _, _ = loc
        if where and not same_base(where, base):
            return _problem(er, f"the server answered Location {er.location}, not on {base}")
        if rtype != step.resource_type:
            return _problem(
                er,
                f"the server answered Location {er.location}, of type {rtype}, for "
                f"{step.method} {step.url}",
            )
    if step.known_id is not None:
        if er.id is not None and er.id != step.known_id:
            return _problem(er, f"the server answered id {er.id} for {step.method} {step.url}")
        er.id = step.known_id
    return None


def send_bundle(client: FhirClient, plan: Plan) -> PostResult:
    """Send the plan as one transaction or batch; every entry's outcome."""
    prepared = plan.bundle()
    label = f"POST {client.base_url} ({prepared['type']} of {len(plan.steps)} entries)"
    idempotent = all(s.idempotent for s in plan.steps)
    resp = client.request("POST", "", body=prepared, idempotent=idempotent)
    body = client.json(resp, label) if resp.content else None
    result = read_bundle_response(client.base_url, label, resp.status_code, body, plan)
    result.warnings = [*plan.warnings, *result.warnings]
    result.notes = list(plan.notes)
    return result


def read_bundle_response(server: str, label: str, status: int, body: Any, plan: Plan) -> PostResult:
    """The PostResult of a transaction/batch answer (``body`` parsed), checked for shape."""
    result = PostResult(server, plan.mode, strategy=plan.strategy)
    if status >= 400:
        outcome = (
            body
            if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"
            else None
        )
        for s in plan.steps:
            er = _entry_result(s, None, None, server)
            er.status, er.outcome = status, outcome
            result.entries.append(er)
        return result
    want = f"{'batch' if plan.mode == 'batch' else 'transaction'}-response"

    def fail(message: str) -> DeliveryError:
        return DeliveryError(message, server=server, request=label, status=status)

    if (
        not isinstance(body, dict)
        or body.get("resourceType") != "Bundle"
        or body.get("type") != want
    ):
        got = body.get("type") if isinstance(body, dict) else type(body).__name__
        raise fail(f"expected a {want} Bundle, got {got!r}")
    answers = body.get("entry", [])
    if not isinstance(answers, list):
        raise fail(f"the response's entry is {type(answers).__name__}, not an array")
    if len(answers) != len(plan.steps):
        raise fail(f"the response has {len(answers)} entries for {len(plan.steps)} sent")
    for i, (s, a) in enumerate(zip(plan.steps, answers, strict=True)):
        if not isinstance(a, dict) or not isinstance(a.get("response"), dict):
            raise fail(f"response entry {i} has no 'response'")
        result.entries.append(_entry_result(s, a["response"], a.get("resource"), server))
    written = sum(e.written for e in result.entries)
    if plan.mode == "transaction" and 0 < written < len(result.entries):
        result.warnings.append(
            f"the server answered the transaction with {len(result.entries) - written} entries "
            f"failed and {written} written: it did not process it as one (all or nothing), so "
            "the written entries stay (Medplum does this for projects without the "
            "'transaction-bundles' feature); post again once the failures are fixed, or use "
            "--mode each"
        )
    return result


def send_each(
    client: FhirClient,
    plan: Plan,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> PostResult:
    """One request per resource, in two phases (see :mod:`fhir_adapter.client.order`).

    First writes go in rounds: a resource is sent once every entry it waits for has been
    answered, so its ``urn:uuid`` references can be rewritten to the ids the server gave them;
    in a reference cycle some resources are first written without the references that close
    it. Then each of those is updated with the whole resource (``PUT Type/<id>``). Within a
    round up to ``workers`` requests run at once. A resource whose update failed or was never
    sent is reported as ``incomplete``. When an error stops the post, the DeliveryError's
    ``partial`` lists every entry, those never sent and those left incomplete too."""
    steps = plan.steps
    order = plan.order or each_order(steps)
    results: list[EntryResult | None] = [None] * len(steps)
    mapping: dict[str, str] = {}  # fullUrl -> Type/id on the server; written between rounds
    total = len(steps) + len(order.two_phase)
    answered = [0]
    lock = threading.Lock()
    errors: dict[int, DeliveryError] = {}
    update_errors: dict[int, DeliveryError] = {}

    def tick() -> None:
        if progress is not None:
            with lock:
                answered[0] += 1
                progress(answered[0], total)

    def send(i: int) -> EntryResult:
        try:
            er = _send_or_skip(i)
        except DeliveryError as err:
            errors[i] = err
            raise
        tick()
        return er

    def _send_or_skip(i: int) -> EntryResult:
        s = steps[i]
        if i in order.stuck:
            er = EntryResult(i, s.resource_type, s.full_url, not_sent=True)
            er.outcome = _issue(
                "not sent: part of a reference cycle that runs only through elements a first "
                f"write must keep ({', '.join(order.stuck[i])}); use transaction mode"
            )
            return er
        failed = sorted(d for d in order.waits(i) if not _written(results[d]))
        if not failed:
            omit = {d: steps[d].full_url for d in order.deferred[i]}
            known = _already_complete(client, s, [steps[d] for d in omit]) if omit else None
            if known is not None:  # a re-post under put: one write, whole, as nothing is missing
                return _send_one(client, s, {**mapping, **known})
            er = _send_one(client, s, mapping, omit)
            if omit and er.written:
                er.deferred = sorted(omit)
                er.incomplete = _incomplete(
                    steps, er, "the update that adds them was not sent (the post stopped first)"
                )
            return er
        er = EntryResult(i, s.resource_type, s.full_url, not_sent=True)
        er.outcome = _issue(f"not sent: {_names(steps, failed)} were not created")
        return er

    def update(i: int) -> EntryResult:
        er = results[i]
        assert er is not None
        try:
            _update(client, steps, i, er, results, mapping)
        except DeliveryError as err:
            update_errors[i] = err
            raise
        tick()
        return er

    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    result = PostResult(client.base_url, "each", strategy=plan.strategy, notes=list(plan.notes))
    result.warnings = list(plan.warnings)
    try:
        waiting = list(range(len(steps)))
        while waiting:
            ready = [i for i in waiting if all(results[d] is not None for d in order.waits(i))]
            if not ready:  # only cycles that cannot be broken (and what waits on them) remain
                ready = [i for i in waiting if i in order.stuck] or waiting
            done = _round(pool, send, ready, results)
            for i, er in zip(ready, done, strict=True):
                results[i] = er
                if _written(er) and steps[i].full_url:
                    mapping[steps[i].full_url] = f"{er.resource_type}/{er.id}"
            taken = set(ready)
            waiting = [i for i in waiting if i not in taken]
        second = [
            i for i, er in enumerate(results) if er is not None and er.written and er.deferred
        ]
        for _ in range(len(order.two_phase) - len(second)):
            tick()  # updates not needed (written whole) or impossible (first write failed)
        if second:
            _round(pool, update, second, results)
    except DeliveryError as err:
        for s in steps:
            if results[s.index] is not None:
                continue
            failure = errors.get(s.index)
            er = EntryResult(s.index, s.resource_type, s.full_url, not_sent=failure is None)
            if failure is None:
                er.outcome = _issue("not sent: the post stopped before this entry")
            else:
                er.status = failure.status
                er.problem = f"failed: {failure}"
            results[s.index] = er
        for i, failure in update_errors.items():
            pending = results[i]
            if pending is not None and pending.incomplete is not None:
                pending.incomplete = _incomplete(
                    steps, pending, f"the update that adds them failed: {failure}"
                )
        result.entries = [er for er in results if er is not None]
        err.partial = result
        raise
    finally:
        if pool:
            pool.shutdown(wait=True)
    result.entries = [er for er in results if er is not None]
    return result


def _already_complete(client: FhirClient, step: Step, later: list[Step]) -> dict[str, str] | None:
    """Under ``put``, a resource the server already holds with references to every entry its
    first write would leave out (a re-post): those entries existed when it was written, so the
    whole resource can be written at once, without the intermediate version that lacks them.
    Returns their fullUrl -> ``Type/id`` (ids known in advance), or None to write in two phases
    (a first post, a resource left incomplete, ids the server assigns, any doubt)."""
    targets = {t.full_url: f"{t.resource_type}/{t.known_id}" for t in later if t.known_id}
    if step.known_id is None or len(targets) != len(later):
        return None
    try:
        resp = client.request("GET", step.url)
        held = client.json(resp, f"GET {client.url(step.url)}") if resp.status_code == 200 else None
    except DeliveryError:
        return None
    if not isinstance(held, dict) or held.get("resourceType") != step.resource_type:
        return None
    refs = set(tree.references(tree.relative_refs(held, client.base_url)))
    return targets if set(targets.values()) <= refs else None


def _written(er: EntryResult | None) -> bool:
    return er is not None and er.written


def _names(steps: list[Step], indexes: list[int]) -> str:
    """``entries 3 (Condition), 5 (Observation)``."""
    return "entries " + ", ".join(f"{d} ({steps[d].resource_type})" for d in indexes)


def _incomplete(steps: list[Step], er: EntryResult, why: str) -> str:
    return (
        f"written without its references to {_names(steps, er.deferred)} (a reference cycle): "
        f"{why}; post the bundle again to complete it"
    )


def _update(
    client: FhirClient,
    steps: list[Step],
    i: int,
    er: EntryResult,
    results: list[EntryResult | None],
    mapping: dict[str, str],
) -> None:
    """The second write of a resource first written without the references that close a
    cycle: the whole resource, ``PUT Type/<id>`` under the id the server holds it by."""
    step = steps[i]
    missing = [d for d in er.deferred if not _written(results[d])]
    if missing:
        er.incomplete = _incomplete(
            steps, er, f"not updated, as {_names(steps, missing)} were not created"
        )
        return
    url = f"{step.resource_type}/{er.id}"
    body = {**tree.rewrite_refs(step.body, mapping), "id": er.id}
    second = Step(step.index, step.resource_type, step.full_url, "PUT", url, body)
    _updated(steps, er, _answer(client, second, client.request("PUT", url, body=body)))


def _updated(steps: list[Step], er: EntryResult, answer: EntryResult) -> None:
    """Record the server's answer to the update of a two-phase resource: complete, or
    ``incomplete`` saying how the update failed."""
    if answer.ok:
        er.version = answer.version or er.version
        er.incomplete = None
        return
    status = f"HTTP {answer.status}" if answer.status else "no status"
    text = answer.outcome_text()
    er.incomplete = _incomplete(
        steps, er, f"the update that adds them failed ({status}{': ' + text if text else ''})"
    )


def _issue(text: str) -> dict[str, Any]:
    return {"issue": [{"severity": "error", "diagnostics": text}]}


def _round(
    pool: ThreadPoolExecutor | None,
    send: Callable[[int], EntryResult],
    ready: list[int],
    results: list[EntryResult | None],
) -> list[EntryResult]:
    """Send the entries of one round (in parallel with a pool). On an error no further request
    of the round starts, the answers already in are kept in ``results``, and the error is raised."""
    if pool is None:
        done: list[EntryResult] = []
        for i in ready:
            try:
                done.append(send(i))
            except Exception:
                for j, er in zip(ready, done, strict=False):
                    results[j] = er
                raise
        return done
    futures = [pool.submit(send, i) for i in ready]
    wait(futures, return_when=FIRST_EXCEPTION)
    if any(f.done() and not f.cancelled() and f.exception() for f in futures):
        for f in futures:
            f.cancel()  # requests not started yet are not sent
        wait(futures)  # the ones in flight finish (at most ``workers``)
        for i, f in zip(ready, futures, strict=True):
            if not f.cancelled() and f.exception() is None:
                results[i] = f.result()
        raise next(e for f in futures if not f.cancelled() and (e := f.exception()))
    return [f.result() for f in futures]


def _send_one(
    client: FhirClient, step: Step, mapping: dict[str, str], omit: dict[int, str] | None = None
) -> EntryResult:
    """Write one resource, references rewritten by ``mapping``; without its references to the
    entries in ``omit`` (index -> fullUrl), which a reference cycle defers to an update."""
    body = tree.rewrite_refs(first_write(step.body, (omit or {}).values()), mapping)
    unresolved = [ref for ref in tree.outside_references(body) if ref.startswith("urn:uuid:")]
    if unresolved:
        er = EntryResult(step.index, step.resource_type, step.full_url, not_sent=True)
        er.outcome = _issue(f"references not yet created: {', '.join(unresolved)}")
        return er
    if step.method == "PUT":
        resp = client.request("PUT", step.url, body=body)
    else:
        body = {k: v for k, v in body.items() if k != "id"}
        headers = {"If-None-Exist": step.if_none_exist} if step.if_none_exist else {}
        resp = client.request(
            "POST", step.url, body=body, headers=headers, idempotent=step.idempotent
        )
    er = _answer(client, step, resp)
    return er


def _answer(client: FhirClient, step: Step, resp: Any) -> EntryResult:
    """The EntryResult of the server's answer to one request of ``each`` mode."""
    answer = client.json(resp, f"{step.method} {client.url(step.url)}") if resp.content else None
    response: dict[str, Any] = {
        "status": str(resp.status_code),
        "location": resp.headers.get("Location") or resp.headers.get("Content-Location"),
        "etag": resp.headers.get("ETag"),
    }
    if isinstance(answer, dict) and answer.get("resourceType") == "OperationOutcome":
        response["outcome"] = answer
    resource = (
        answer
        if isinstance(answer, dict) and answer.get("resourceType") == step.resource_type
        else None
    )
    return _entry_result(step, response, resource, client.base_url)
