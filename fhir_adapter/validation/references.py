"""References and bundles: reference syntax and targets within a resource (contained, dom-3)
and across a bundle's entries (urn:uuid resolution, target types), and the bundle rules
(fullUrl, request/response per bundle type, bdl-3/4/5/7/8)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from fhir_adapter.validation.codes import ABSOLUTE_URI
from fhir_adapter.validation.report import Issue

#: The literal reference forms of references.html: a contained ``#id``, an absolute URI (any
#: scheme: ``http(s)``, ``urn:uuid``, ``urn:oid``, or another, as in SMART Health Cards'
#: ``resource:0``), a relative ``Type/id[/_history/vid]``, or a conditional ``Type?query``.
_REF = re.compile(
    r"^(#[A-Za-z0-9\-.]{1,64}"
    r"|[A-Za-z][A-Za-z0-9+.\-]*:\S+"
    r"|[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?"
    r"|[A-Z][A-Za-z]+\?\S*)$"
)


_RESTFUL = re.compile(
    r"/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)


@dataclass
class ResourceScope:
    """What the walk gathers about one resource: its references and contained ids."""

    resource: dict[str, Any]
    path: str
    container: dict[str, Any] | None = None
    refs: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    contained_ids: set[str] = field(default_factory=set)


def check_contained_refs(
    scope: ResourceScope, issues: list[Issue], resources: frozenset[str]
) -> None:
    """A resource's own references: syntax, local (#id) targets and their types, dom-3."""
    res = scope.container or scope.resource
    raw = res.get("contained")
    contained: list[Any] = raw if isinstance(raw, list) else []
    ids = {c["id"] for c in contained if isinstance(c, dict) and isinstance(c.get("id"), str)}
    local: set[str] = set()
    for ref, p, targets in scope.refs:
        if not _REF.match(ref):
            # Whitespace makes it no reference at all (an error, as in the official validator);
            # any other unusual shape may still resolve on some server: a warning.
            blank = not ref.strip() or any(ch.isspace() for ch in ref)
            issues.append(
                Issue(
                    "error" if blank else "warning",
                    "reference",
                    f"{p}.reference",
                    f"{ref!r} is not a valid reference (it contains whitespace)"
                    if blank
                    else f"{ref!r} does not look like a literal reference",
                    "use Type/id, an absolute URL, urn:uuid:<uuid> or #contained-id",
                    family="reference",
                )
            )
            continue
        if ref.startswith("#"):
            local.add(ref[1:])
            if ref[1:] not in ids:
                issues.append(
                    Issue(
                        "error",
                        "ref-1",
                        f"{p}.reference",
                        f"{ref!r} points at no contained resource (ref-1: SHALL have a contained resource if a local reference is provided)",
                        "add the contained resource or fix the id",
                        family="reference",
                    )
                )
            else:
                target = next(
                    c for c in contained if isinstance(c, dict) and c.get("id") == ref[1:]
                )
                check_target_type(target.get("resourceType"), targets, p, issues, resources)
        elif ref[0].isupper() and "/" in ref and ":" not in ref.split("/", 1)[0]:
            check_target_type(ref.split("/", 1)[0], targets, p, issues, resources, literal=True)
    if scope.container is not None:
        return  # the container checks its own contained resources (dom-3)
    if contained:
        local |= {v[1:] for v in _strings(res) if v.startswith("#")}
    for i, c in enumerate(contained):
        cid = c.get("id") if isinstance(c, dict) else None
        if (
            isinstance(c, dict)
            and (cid if isinstance(cid, str) else None) not in local
            and not _refers_to_container(c)
        ):
            issues.append(
                Issue(
                    "error",
                    "dom-3",
                    f"{scope.path}.contained[{i}]",
                    "If the resource is contained in another resource, it SHALL be referred to from elsewhere in the resource or SHALL refer to the containing resource",
                    "reference it with #id",
                    family="invariant",
                )
            )


def check_target_type(
    rtype: Any,
    targets: tuple[str, ...],
    p: str,
    issues: list[Issue],
    resources: frozenset[str],
    literal: bool = False,
) -> None:
    """A reference's target type against the element's allowed target types."""
    if not isinstance(rtype, str):
        return
    if literal and rtype not in resources:
        issues.append(
            Issue(
                "error",
                "reference",
                f"{p}.reference",
                f"{rtype!r} is not a resource type",
                family="reference",
            )
        )
        return
    if targets and "Resource" not in targets and rtype not in targets:
        issues.append(
            Issue(
                "error",
                "reference",
                f"{p}.reference",
                f"a {rtype} is not allowed here (allowed: {', '.join(targets)})",
                family="reference",
            )
        )


_SD_BASE = "http://hl7.org/fhir/StructureDefinition/"
#: Bundle.entry.fullUrl's definition: it SHALL have a value except on a POST (transactions and
#: batches) and for resources that operations return unidentified; so documents, messages and
#: collections always need it, searchsets and histories when the resource has an id.
_NEED_FULL_URL = frozenset({"document", "message", "collection"})


def check_reference_type(rtype: Any, targets: Any, p: str, issues: list[Issue]) -> None:
    """``Reference.type`` must be one of the element's target types (``Patient`` or its
    StructureDefinition URL; other absolute URLs name logical models and are not checked)."""
    if not isinstance(rtype, str) or not targets or "Resource" in targets:
        return
    name = rtype.removeprefix(_SD_BASE)
    if ":" in name or name in targets:
        return
    issues.append(
        Issue(
            "error",
            "reference",
            f"{p}.type",
            f"the type {rtype!r} is not a valid target here (allowed: {', '.join(targets)})",
            f"use one of: {', '.join(targets)} (resource type names are case-sensitive)",
            family="reference",
        )
    )


def check_entry_rules(e: dict[str, Any], btype: Any, ep: str, issues: list[Issue]) -> None:
    """bdl-3, bdl-4, bdl-5, bdl-8 for one entry (native: the engine scans all entries each)."""
    wants_request = btype in ("batch", "transaction", "history")
    if ("request" in e) != wants_request:
        fix = "add entry.request" if wants_request else "remove entry.request"
        issues.append(Issue("error", "bdl-3", ep, _human("bdl-3"), fix, family="invariant"))
    wants_response = btype in ("batch-response", "transaction-response", "history")
    if ("response" in e) != wants_response:
        fix = "add entry.response" if wants_response else "remove entry.response"
        issues.append(Issue("error", "bdl-4", ep, _human("bdl-4"), fix, family="invariant"))
    if not ("resource" in e or "request" in e or "response" in e):
        issues.append(Issue("error", "bdl-5", ep, _human("bdl-5"), family="invariant"))
    r = e.get("resource")
    if (
        isinstance(r, dict)
        and "fullUrl" not in e
        and (btype in _NEED_FULL_URL or (btype in ("searchset", "history") and "id" in r))
    ):
        issues.append(
            Issue(
                "error",
                "bundle",
                ep,
                f"an entry of a {btype} bundle needs a fullUrl, the identity of its resource",
                "add fullUrl (e.g. urn:uuid:<uuid>, or the resource's absolute URL)",
                family="bundle",
            )
        )
    fu = e.get("fullUrl")
    if isinstance(fu, str) and "/_history/" in fu:
        issues.append(
            Issue(
                "error",
                "bdl-8",
                f"{ep}.fullUrl",
                _human("bdl-8"),
                "drop the /_history/ part",
                family="invariant",
            )
        )


def check_bundle(
    b: dict[str, Any],
    path: str,
    issues: list[Issue],
    scopes: dict[str, ResourceScope],
    resources: frozenset[str],
    *,
    bundle_rules: bool = True,
    references: bool = True,
) -> None:
    """Bundle rules (fullUrl, request/response, bdl-*) and references resolved across entries."""
    raw = b.get("entry")
    entries: list[Any] = raw if isinstance(raw, list) else []
    btype = b.get("type")
    full: dict[str, dict[str, Any]] = {}
    seen: set[tuple[str, Any]] = set()
    versions: dict[str, int] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            continue
        ep = f"{path}.entry[{i}]"
        fu, r = e.get("fullUrl"), e.get("resource")
        if bundle_rules and isinstance(fu, str) and isinstance(r, dict):
            rid, rt = r.get("id"), r.get("resourceType")
            rest = _RESTFUL.search(fu) if "/" in fu else None
            if not ABSOLUTE_URI.match(fu):
                issues.append(
                    Issue(
                        "error",
                        "bundle",
                        f"{ep}.fullUrl",
                        f"fullUrl {fu!r} must be an absolute URL or a urn:uuid/urn:oid",
                        "use <base>/<Type>/<id> or urn:uuid:<uuid>",
                        family="bundle",
                    )
                )
            elif rid and rest and (rest.group(1), rest.group(2)) != (rt, rid):
                issues.append(
                    Issue(
                        "error",
                        "bundle",
                        f"{ep}.fullUrl",
                        f"fullUrl {fu!r} does not match the resource {rt}/{rid}",
                        "make fullUrl end with <Type>/<id>",
                        family="bundle",
                    )
                )
            version = (
                (r.get("meta") or {}).get("versionId") if isinstance(r.get("meta"), dict) else None
            )
            if not isinstance(version, str):
                version = None  # a malformed versionId (reported by the structure layer)
            if (fu, version) in seen and btype != "history":
                issues.append(
                    Issue(
                        "error",
                        "bdl-7",
                        f"{ep}.fullUrl",
                        f"fullUrl {fu!r} is used by another entry",
                        "give each entry its own fullUrl (or distinct meta.versionId)",
                        family="invariant",
                    )
                )
            seen.add((fu, version))
        if bundle_rules:
            check_entry_rules(e, btype, ep, issues)
        if isinstance(fu, str) and isinstance(r, dict):
            for key in _full_urls(fu, r):
                full.setdefault(key, r)
                versions[key] = versions.get(key, 0) + 1
    raw_links = b.get("link")
    links: list[Any] = raw_links if isinstance(raw_links, list) else []
    if bundle_rules and sum(isinstance(x, dict) and x.get("relation") == "self" for x in links) > 1:
        issues.append(
            Issue(
                "error",
                "bundle",
                f"{path}.link",
                "the link relation 'self' can only occur once",
                family="bundle",
            )
        )
    if bundle_rules and btype == "searchset":
        _check_search_entries(entries, links, path, issues, resources)
    if not references or btype not in (
        "transaction",
        "batch",
        "document",
        "collection",
        "message",
    ):
        return
    # Resolve references inside the bundle as bundle.html#references says (and as the official
    # validator does since 2023): an absolute reference matches a fullUrl; a relative Type/id
    # resolves only against the RESTful base of the referring entry's own fullUrl.
    by_type_id = _by_type_id(entries)
    entry_of = {id(e.get("resource")): i for i, e in enumerate(entries) if isinstance(e, dict)}
    links_between: list[tuple[int, int]] = []
    for i, e in enumerate(entries):
        r = e.get("resource") if isinstance(e, dict) else None
        if not isinstance(r, dict):
            continue
        fu = e.get("fullUrl") if isinstance(e.get("fullUrl"), str) else ""
        base = _restful_base(fu, r)
        gathered = scopes.get(f"{path}.entry[{i}].resource")
        for ref, p, targets in gathered.refs if gathered else ():
            if ref.startswith("#"):
                continue
            relative = "/" in ref and not ABSOLUTE_URI.match(ref)
            key = base + ref if base and relative else ref
            target = full.get(key)
            matches = versions.get(key, 0)
            if target is not None and matches > 1 and btype != "history":
                issues.append(
                    Issue(
                        "error",
                        "reference",
                        f"{p}.reference",
                        f"{ref!r} matches {matches} entries of this bundle (several versions)",
                        "reference one version: <Type>/<id>/_history/<version>",
                        family="reference",
                    )
                )
            elif target is not None:
                check_target_type(target.get("resourceType"), targets, p, issues, resources)
                links_between.append((i, entry_of.get(id(target), i)))
            elif relative and (near := by_type_id.get(ref.split("/_history/", 1)[0])):
                issues.append(_near_miss(ref, p, fu, base, near, btype in ("document", "message")))
            elif ref.startswith("urn:"):
                # a urn names nothing outside the bundle: an error where the bundle is all the
                # receiver gets (transactions, batches, documents), a warning elsewhere (the
                # official validator's "URN reference is not locally contained")
                strict = btype in ("transaction", "batch", "document")
                issues.append(
                    Issue(
                        "error" if strict else "warning",
                        "reference",
                        f"{p}.reference",
                        f"{ref!r} resolves to no entry of this bundle",
                        "add the entry or fix the reference",
                        family="reference",
                    )
                )
    if btype == "document" and bundle_rules:
        _check_reachable(entries, links_between, path, issues)


def _full_urls(fu: str, r: dict[str, Any]) -> tuple[str, ...]:
    """The URLs an entry answers to: its fullUrl, and with a meta.versionId also that version."""
    meta = r.get("meta")
    version = meta.get("versionId") if isinstance(meta, dict) else None
    return (fu, f"{fu}/_history/{version}") if isinstance(version, str) else (fu,)


def _restful_base(fu: str, r: dict[str, Any]) -> str:
    """The server base of a RESTful fullUrl that names its own resource (``<base>/Type/id``), to
    which relative references of that entry are appended; "" for urn:uuid and other fullUrls."""
    rest = _RESTFUL.search(fu) if fu.startswith("http") else None
    if rest is None or (rest.group(1), rest.group(2)) != (r.get("resourceType"), r.get("id")):
        return ""
    return fu[: rest.start() + 1]


def _by_type_id(entries: list[Any]) -> dict[str, list[tuple[int, str]]]:
    """Entries by ``Type/id`` of their resource: (index, fullUrl) for each."""
    out: dict[str, list[tuple[int, str]]] = {}
    for i, e in enumerate(entries):
        r = e.get("resource") if isinstance(e, dict) else None
        if isinstance(r, dict) and isinstance(r.get("id"), str):
            fu = e.get("fullUrl")
            out.setdefault(f"{r.get('resourceType')}/{r['id']}", []).append(
                (i, fu if isinstance(fu, str) else "")
            )
    return out


def _near_miss(
    ref: str, p: str, fu: str, base: str, near: list[tuple[int, str]], document: bool
) -> Issue:
    """A relative reference that the bundle rules leave unresolved although an entry has its type
    and id: an error in documents and messages, whose references must resolve inside the bundle,
    a warning elsewhere (the official validator's severities)."""
    where = ", ".join(f"entry[{i}] ({u or 'no fullUrl'})" for i, u in near)
    return Issue(
        "error" if document else "warning",
        "reference",
        f"{p}.reference",
        f"{ref!r} resolves to no entry of this bundle: {where} has this type and id, but a "
        "relative reference resolves against the server base of its own entry's fullUrl "
        + (f"(here to {base + ref!r})" if base else f"and {fu or 'no fullUrl'!r} has none")
        + " (bundle.html#references)",
        f"reference the entry by its fullUrl ({near[0][1]})"
        if near[0][1]
        else "give the entry a fullUrl and reference it by that",
        family="reference",
    )


def _search_types(links: list[Any], resources: frozenset[str]) -> list[str]:
    """Resource types a searchset's self link searches: ``.../Type?...`` or ``_type=A,B``."""
    url = next(
        (x.get("url") for x in links if isinstance(x, dict) and x.get("relation") == "self"), None
    )
    if not isinstance(url, str):
        return []
    head, _, query = url.partition("?")
    last = head.rstrip("/").rsplit("/", 1)[-1]
    if last in resources:
        return [last]
    for param in query.split("&"):
        if param.startswith("_type="):
            return [t for t in param[6:].split(",") if t]
    return []


def _check_search_entries(
    entries: list[Any], links: list[Any], path: str, issues: list[Issue], resources: frozenset[str]
) -> None:
    """search.mode of every searchset entry (search.html): a match is a resource of a searched
    type with an id, an include a resource with an id, an outcome an OperationOutcome. Checked
    when every entry states its mode, as the official validator does."""
    modes = [
        e.get("search", {}).get("mode")
        if isinstance(e, dict) and isinstance(e.get("search"), dict)
        else None
        for e in entries
    ]
    if not entries or not all(isinstance(m, str) for m in modes):
        return
    types = _search_types(links, resources)
    for i, (e, mode) in enumerate(zip(entries, modes, strict=True)):
        r = e.get("resource")
        if not isinstance(r, dict):
            continue
        rp, rt = f"{path}.entry[{i}].resource", r.get("resourceType")
        if mode in ("match", "include") and "id" not in r:
            issues.append(
                Issue(
                    "error",
                    "bundle",
                    rp,
                    f"a search result ({mode}) must have an id",
                    "give the resource its server id",
                    family="bundle",
                )
            )
        if mode == "match" and types and rt not in types:
            issues.append(
                Issue(
                    "error",
                    "bundle",
                    rp,
                    f"a {rt} does not match this search (its self link searches {', '.join(types)})",
                    "use search.mode 'include' for other resources, or fix the self link",
                    family="bundle",
                )
            )
        elif mode == "outcome" and rt != "OperationOutcome":
            issues.append(
                Issue(
                    "error",
                    "bundle",
                    rp,
                    f"an entry with search.mode 'outcome' must be an OperationOutcome, not a {rt}",
                    "use search.mode 'match' or 'include' for this resource",
                    family="bundle",
                )
            )


def _check_reachable(
    entries: list[Any], links: list[tuple[int, int]], path: str, issues: list[Issue]
) -> None:
    """In a document every entry must be reachable from the Composition (entry 0) by following
    references within the bundle, forward or backward, as the official validator requires."""
    neighbours: dict[int, set[int]] = {}
    for a, b in links:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    reached, todo = {0}, [0]
    while todo:
        for n in neighbours.get(todo.pop(), ()):
            if n not in reached:
                reached.add(n)
                todo.append(n)
    for i, e in enumerate(entries):
        if i not in reached and isinstance(e, dict) and isinstance(e.get("resource"), dict):
            issues.append(
                Issue(
                    "error",
                    "bundle",
                    f"{path}.entry[{i}]",
                    "entry is not reachable from the Composition by references (forward or backward)",
                    "reference it from the Composition (e.g. a section entry) or from a resource that is",
                    family="bundle",
                )
            )


def _human(key: str) -> str:
    from fhir_adapter.validation.invariants import human

    return human(key)


def _strings(node: Any) -> Iterator[str]:
    """Every string value inside a JSON node."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for v in node.values():
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _refers_to_container(c: dict[str, Any]) -> bool:
    """Whether a contained resource refers to its container (a reference to ``#``)."""
    return any(v == "#" for v in _strings(c))
