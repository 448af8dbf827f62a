"""Posting bundles: transaction, batch or one request per resource, idempotent by design.

Idempotency strategy (chosen per server capability unless forced):

- ``put`` (preferred): entries are ``PUT <Type>/<deterministic id>`` (update-as-create). The
  first post creates each resource under the id fhir-adapter derived from the case; every later
  post updates the same resource. All three modes use the same ids, so mixing modes never
  duplicates. Used when every resource type declares ``updateCreate``; always for ``batch``
  (batch entries cannot reference each other through ``urn:uuid``, so references are rewritten
  to ``<Type>/<id>``).
- ``conditional-create``: entries are ``POST`` with ``ifNoneExist: identifier=<system>|<value>``
  (``If-None-Exist`` header in ``each`` mode). No match -> created (201); one match -> the
  existing resource is returned (200), nothing new is created; several matches -> the server
  answers 412 and the entry fails. Used when the server lacks update-as-create but declares
  ``conditionalCreate`` and an ``identifier`` search parameter for every type.

Do not switch strategies against the same server: server-assigned ids (conditional create) and
derived ids (put) are different resources.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

from fhir_adapter.bundle import references
from fhir_adapter.client.errors import ConfigError, DeliveryError
from fhir_adapter.client.result import EntryResult, PostResult
from fhir_adapter.client.session import FhirClient
from fhir_adapter.errors import EXIT_INVALID, FhirAdapterError

MODES = ("transaction", "batch", "each")
STRATEGIES = ("auto", "conditional-create", "put")


class InvalidBundle(FhirAdapterError):
    """The bundle failed local validation and was not sent."""

    exit_code = EXIT_INVALID

    def __init__(self, report: Any) -> None:
        self.report = report
        super().__init__("the bundle is invalid; nothing was sent\n" + report.to_text())


def load_bundle(source: Any) -> dict[str, Any]:
    """A bundle from a dict, a Case, a bundle JSON file, or a case file (None: the seed case)."""
    from fhir_adapter.case import Case
    from fhir_adapter.convert import convert

    if isinstance(source, dict):
        return source
    if source is None or isinstance(source, Case):
        return convert(source)
    path = Path(source)
    if path.suffix == ".json":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("file not found", file=str(path), fix="check the path") from None
        except ValueError as err:
            raise ConfigError(f"not JSON: {err}", file=str(path)) from None
        if isinstance(data, dict) and data.get("resourceType") == "Bundle":
            return data
    return convert(path)


def choose_strategy(client: FhirClient, bundle: dict[str, Any], mode: str, strategy: str) -> str:
    """The idempotency strategy to use with this server (see the module docstring)."""
    if strategy != "auto":
        return strategy
    types = {
        e["resource"]["resourceType"]
        for e in bundle.get("entry", [])
        if isinstance(e.get("resource"), dict)
    }
    caps = {t: client.resource_capability(t) for t in types}
    if all(c.get("updateCreate") is True for c in caps.values()):
        return "put"
    if mode != "batch" and all(
        c.get("conditionalCreate") is True and "identifier" in client.search_params(t)
        for t, c in caps.items()
    ):
        return "conditional-create"
    missing = sorted(t for t, c in caps.items() if c.get("updateCreate") is not True)
    raise DeliveryError(
        f"server supports neither conditional create nor update-as-create for {', '.join(missing)}; "
        "re-posting could create duplicates",
        server=client.base_url,
        request="GET metadata",
    )


def _server_ref(rtype: str, rid: str) -> str:
    return f"{rtype}/{rid}"


def _rewrite_refs(node: Any, mapping: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "reference" and isinstance(v, str) and v in mapping:
                out[k] = mapping[v]
            else:
                out[k] = _rewrite_refs(v, mapping)
        return out
    if isinstance(node, list):
        return [_rewrite_refs(v, mapping) for v in node]
    return node


def prepare(bundle: dict[str, Any], mode: str, strategy: str) -> dict[str, Any]:
    """The bundle as it will be sent in ``mode`` with ``strategy`` (a new dict)."""
    # Copies the bundle and its entries; resources are shared unless rewritten (never mutated).
    b = {**bundle, "type": "batch" if mode == "batch" else "transaction"}
    entries = [dict(e) for e in bundle.get("entry", [])]
    if entries:
        b["entry"] = entries
    if strategy == "put" or mode == "batch":
        mapping = {
            e["fullUrl"]: _server_ref(e["resource"]["resourceType"], e["resource"]["id"])
            for e in entries
            if "fullUrl" in e and "id" in e.get("resource", {})
        }
        for e in entries:
            r = e["resource"]
            e["request"] = {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}
            if mode == "batch":
                e["resource"] = _rewrite_refs(r, mapping)
    return b


_STATUS = re.compile(r"^\s*(\d{3})")
_TYPE = re.compile(r"[A-Z][A-Za-z]+")
_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def _parse_location(location: str) -> tuple[str, str | None] | None:
    """(id, version) from a Location such as ``[base/]Type/id[/_history/vid]``, or None."""
    parts = location.rstrip("/").split("/")
    version = None
    if len(parts) >= 4 and parts[-2] == "_history":
        version = parts[-1]
        if not _ID.fullmatch(version):
            return None
        parts = parts[:-2]
    if len(parts) < 2 or not _TYPE.fullmatch(parts[-2]) or not _ID.fullmatch(parts[-1]):
        return None
    return parts[-1], version


def _text(value: Any) -> str | None:
    """A non-empty string from a server's answer, or None for anything else."""
    return value if isinstance(value, str) and value else None


def _entry_result(
    i: int, sent: dict[str, Any], response: dict[str, Any] | None, resource: Any
) -> EntryResult:
    r = sent.get("resource") or {}
    er = EntryResult(i, r.get("resourceType", "?"), sent.get("fullUrl", ""))
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
    loc = _parse_location(location) if isinstance(location, str) else None
    if loc:
        er.id, er.version = loc
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
    return er


def _send_bundle(
    client: FhirClient, prepared: dict[str, Any], mode: str, strategy: str
) -> PostResult:
    label = (
        f"POST {client.base_url} ({prepared['type']} of {len(prepared.get('entry', []))} entries)"
    )
    idempotent = strategy == "put" or all(
        "ifNoneExist" in e.get("request", {}) or e.get("request", {}).get("method") == "PUT"
        for e in prepared.get("entry", [])
    )
    resp = client.request("POST", "", body=prepared, idempotent=idempotent)
    body = client.json(resp, label) if resp.content else None
    return read_bundle_response(
        client.base_url, label, resp.status_code, body, prepared, mode, strategy
    )


def read_bundle_response(
    server: str,
    label: str,
    status: int,
    body: Any,
    prepared: dict[str, Any],
    mode: str,
    strategy: str,
) -> PostResult:
    """The PostResult of a transaction/batch answer (``body`` parsed), checked for shape."""
    result = PostResult(server, mode, strategy=strategy)
    sent = prepared.get("entry", [])
    if status >= 400:
        outcome = (
            body
            if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome"
            else None
        )
        for i, e in enumerate(sent):
            er = _entry_result(i, e, None, None)
            er.status, er.outcome = status, outcome
            result.entries.append(er)
        return result
    want = f"{prepared['type']}-response"
    if (
        not isinstance(body, dict)
        or body.get("resourceType") != "Bundle"
        or body.get("type") != want
    ):
        got = body.get("type") if isinstance(body, dict) else type(body).__name__
        raise DeliveryError(
            f"expected a {want} Bundle, got {got!r}",
            server=server,
            request=label,
            status=status,
        )
    answers = body.get("entry", [])
    if not isinstance(answers, list):
        raise DeliveryError(
            f"the response's entry is {type(answers).__name__}, not an array",
            server=server,
            request=label,
            status=status,
        )
    if len(answers) != len(sent):
        raise DeliveryError(
            f"the response has {len(answers)} entries for {len(sent)} sent",
            server=server,
            request=label,
            status=status,
        )
    for i, (e, a) in enumerate(zip(sent, answers, strict=True)):
        if not isinstance(a, dict) or not isinstance(a.get("response"), dict):
            raise DeliveryError(
                f"response entry {i} has no 'response'",
                server=server,
                request=label,
                status=status,
            )
        result.entries.append(_entry_result(i, e, a["response"], a.get("resource")))
    return result


def _send_each(
    client: FhirClient,
    bundle: dict[str, Any],
    strategy: str,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> PostResult:
    """One request per resource. Resources go in rounds: a resource is sent once every entry it
    references has been answered, so its ``urn:uuid`` references can be rewritten to the ids
    the server gave them. Within a round up to ``workers`` requests run at once."""
    entries: list[dict[str, Any]] = bundle.get("entry", [])
    index = {e["fullUrl"]: i for i, e in enumerate(entries) if "fullUrl" in e}
    needs = [
        {index[ref] for ref in references(e["resource"]) if index.get(ref, i) != i}
        for i, e in enumerate(entries)
    ]
    results: list[EntryResult | None] = [None] * len(entries)
    mapping: dict[str, str] = {}  # fullUrl -> Type/id on the server; written between rounds

    answered = [0]
    lock = threading.Lock()

    def send(i: int) -> EntryResult:
        er = _send_or_skip(i)
        if progress is not None:
            with lock:
                answered[0] += 1
                progress(answered[0], len(entries))
        return er

    def _send_or_skip(i: int) -> EntryResult:
        failed = sorted(d for d in needs[i] if (r := results[d]) is None or not r.ok)
        if failed:
            e = entries[i]
            er = EntryResult(i, e["resource"]["resourceType"], e.get("fullUrl", ""), status=None)
            what = ", ".join(f"{d} ({entries[d]['resource']['resourceType']})" for d in failed)
            why = (
                "were not created"
                if all(results[d] is not None for d in failed)
                else "are part of a reference cycle (use transaction or batch mode)"
            )
            er.outcome = {
                "issue": [{"severity": "error", "diagnostics": f"not sent: entries {what} {why}"}]
            }
            return er
        return _send_one(client, i, entries[i], mapping, strategy)

    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
    result = PostResult(client.base_url, "each", strategy=strategy)
    try:
        waiting = list(range(len(entries)))
        while waiting:
            ready = [i for i in waiting if all(results[d] is not None for d in needs[i])]
            if not ready:  # a reference cycle: these entries can never be resolved one by one
                ready = waiting
            done = _round(pool, send, ready, results)
            for i, er in zip(ready, done, strict=True):
                results[i] = er
                if er.ok and er.id and "fullUrl" in entries[i]:
                    mapping[entries[i]["fullUrl"]] = _server_ref(er.resource_type, er.id)
            taken = set(ready)
            waiting = [i for i in waiting if i not in taken]
    except DeliveryError as err:
        result.entries = [er for er in results if er is not None]
        err.partial = result
        raise
    finally:
        if pool:
            pool.shutdown(wait=True)
    result.entries = [er for er in results if er is not None]
    return result


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
    client: FhirClient, i: int, e: dict[str, Any], mapping: dict[str, str], strategy: str
) -> EntryResult:
    r = e["resource"]
    rtype = r["resourceType"]
    body = _rewrite_refs(r, mapping)
    unresolved = [ref for ref in references(body) if ref.startswith("urn:uuid:")]
    if unresolved:
        er = EntryResult(i, rtype, e.get("fullUrl", ""), status=None)
        er.outcome = {
            "issue": [
                {
                    "severity": "error",
                    "diagnostics": f"references not yet created: {', '.join(unresolved)}",
                }
            ]
        }
        return er
    if strategy == "put":
        resp = client.request("PUT", f"{rtype}/{r['id']}", body=body)
    else:
        body = {k: v for k, v in body.items() if k != "id"}
        cond = e.get("request", {}).get("ifNoneExist")
        headers = {"If-None-Exist": cond} if cond else {}
        resp = client.request("POST", rtype, body=body, headers=headers, idempotent=bool(cond))
    answer = client.json(resp, f"{resp.request.method} {resp.url}") if resp.content else None
    response: dict[str, Any] = {
        "status": str(resp.status_code),
        "location": resp.headers.get("Location") or resp.headers.get("Content-Location"),
        "etag": resp.headers.get("ETag"),
    }
    if isinstance(answer, dict) and answer.get("resourceType") == "OperationOutcome":
        response["outcome"] = answer
    return _entry_result(
        i,
        e,
        response,
        answer if isinstance(answer, dict) and answer.get("resourceType") == rtype else None,
    )


def _diff(sent: Any, got: Any, path: str, out: list[str]) -> None:
    if isinstance(sent, dict) and isinstance(got, dict):
        for k in sent:
            if k in ("meta", "id"):
                continue
            if k not in got:
                out.append(f"{path}.{k} missing")
            else:
                _diff(sent[k], got[k], f"{path}.{k}", out)
    elif isinstance(sent, list) and isinstance(got, list):
        if len(sent) != len(got):
            out.append(f"{path}: {len(sent)} items sent, {len(got)} read back")
        for i, (a, b) in enumerate(zip(sent, got, strict=False)):
            _diff(a, b, f"{path}[{i}]", out)
    elif sent != got:
        out.append(f"{path}: sent {sent!r}, read back {got!r}")


def verify(
    client: FhirClient, bundle: dict[str, Any], result: PostResult, workers: int = 1
) -> None:
    """Read every posted resource back and record differences (server-added meta ignored);
    up to ``workers`` reads at once."""
    mapping = result.ids

    def check(pair: tuple[dict[str, Any], EntryResult]) -> None:
        e, er = pair
        resp = client.request("GET", f"{er.resource_type}/{er.id}")
        got = client.json(resp, f"GET {er.resource_type}/{er.id}")
        if resp.status_code != 200:
            er.differences.append(f"read back failed: HTTP {resp.status_code}")
            return
        expected = _rewrite_refs(e["resource"], mapping)
        _diff(expected, _normalise_refs(got, client.base_url), er.resource_type, er.differences)

    todo = [
        (e, er)
        for e, er in zip(bundle.get("entry", []), result.entries, strict=False)
        if er.ok and er.id
    ]
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(check, todo))
    else:
        for pair in todo:
            check(pair)


def _normalise_refs(node: Any, base: str) -> Any:
    """Absolute references to the same server become relative (some servers answer absolute)."""
    if isinstance(node, dict):
        return {
            k: (
                v[len(base) + 1 :]
                if k == "reference" and isinstance(v, str) and v.startswith(base + "/")
                else _normalise_refs(v, base)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_normalise_refs(v, base) for v in node]
    return node
