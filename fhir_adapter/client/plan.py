"""What will be sent: each entry's request in each mode and strategy, decided before anything
is sent; bundles that cannot be posted as asked are refused here.

Idempotency strategies apply to the entries fhir-adapter made (``convert``'s transaction
entries: ``POST`` with ``ifNoneExist`` on the business identifier derived from the resource's
id, ``fullUrl`` = ``urn:uuid:<id>``):

- ``put``: ``PUT <Type>/<id>`` (update-as-create). The first post creates each resource under
  the id derived from the case; every later post updates it. All modes use the same ids.
- ``conditional-create``: ``POST`` with ``ifNoneExist`` (``If-None-Exist`` in ``each`` mode).
  No match -> created (201); one match -> existing (200); several -> 412.

A ``document`` Bundle (e.g. an IPS from ``convert --profile ips``) is not processed entry by
entry: it is stored as one Bundle resource, whatever the mode, so that the document stays
whole and signed content stays intact (FHIR documents, 3.3.1). ``put``: ``PUT Bundle/<id>``;
``conditional-create``: ``POST Bundle`` with ``ifNoneExist`` on ``Bundle.identifier``. Its
entries are not created as separate resources.

Entries of other origins are sent as written, never rewritten: a ``PUT`` stays a ``PUT``, a
``POST`` stays a ``POST`` (with its ``ifNoneExist`` if it has one; without one a re-post may
duplicate, and the plan says so in ``warnings``). ``DELETE``, ``PATCH`` and reads are refused
(delivery creates and updates only), as are entries without a resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_adapter.client import tree
from fhir_adapter.client.errors import ConfigError, DeliveryError
from fhir_adapter.client.order import Order, each_order
from fhir_adapter.ids import URI_SYSTEM, business_identifier
from fhir_adapter.validation.jsontext import MAX_DEPTH, too_deep

MODES = ("transaction", "batch", "each")
STRATEGIES = ("auto", "conditional-create", "put")
#: The label of a plan whose entries are all sent as written.
AS_WRITTEN = "as written"


@dataclass
class Step:
    """One entry as it will be sent: ``method`` and ``url`` (relative to the base), the body,
    ``if_none_exist``, and the id the server must use (``PUT``) or None (server-assigned)."""

    index: int
    resource_type: str
    full_url: str
    method: str
    url: str
    body: dict[str, Any]
    if_none_exist: str | None = None
    own: bool = False

    @property
    def known_id(self) -> str | None:
        """The resource id a PUT names (None for a POST: the server assigns it)."""
        if self.method != "PUT" or "?" in self.url:
            return None
        parts = self.url.split("/")
        return parts[1] if len(parts) == 2 and parts[0] == self.resource_type else None

    @property
    def idempotent(self) -> bool:
        """Whether sending it twice is harmless (a PUT or a conditional create)."""
        return self.method == "PUT" or bool(self.if_none_exist)


@dataclass
class Plan:
    """Every entry's step, the strategy used for fhir-adapter's own entries, and warnings."""

    mode: str
    strategy: str
    steps: list[Step]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: ``each`` mode: the order of the writes, reference cycles broken into two writes.
    order: Order | None = None

    def bundle(self) -> dict[str, Any]:
        """The transaction or batch Bundle to send."""
        entries = []
        for s in self.steps:
            request: dict[str, Any] = {"method": s.method, "url": s.url}
            if s.if_none_exist:
                request["ifNoneExist"] = s.if_none_exist
            entry: dict[str, Any] = {"resource": s.body, "request": request}
            if s.full_url:
                entry = {"fullUrl": s.full_url, **entry}
            entries.append(entry)
        return {
            "resourceType": "Bundle",
            "type": "batch" if self.mode == "batch" else "transaction",
            "entry": entries,
        }


def _own(entry: dict[str, Any], resource: dict[str, Any]) -> bool:
    """Whether ``convert`` made this entry (its identity derives from the resource id)."""
    rid = resource.get("id")
    request = entry.get("request") or {}
    if not isinstance(rid, str) or entry.get("fullUrl") != f"urn:uuid:{rid}":
        return False
    if request.get("method") == "PUT":
        return bool(request.get("url") == f"{resource.get('resourceType')}/{rid}")
    criteria = request.get("ifNoneExist")
    current = f"identifier={URI_SYSTEM}|{business_identifier(rid)['value']}"
    legacy = f"identifier={URI_SYSTEM}|urn:uuid:{rid}"  # written by fhir-adapter 0.1.0
    return request.get("method") == "POST" and criteria in (current, legacy)


def check_bundle(bundle: Any) -> list[dict[str, Any]]:
    """The entries of a postable bundle; ConfigError naming the entry and the fix if not."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        got = bundle.get("resourceType") if isinstance(bundle, dict) else type(bundle).__name__
        raise ConfigError(
            f"post sends a Bundle, not {got!r}",
            fix="give a transaction or batch Bundle, or a case file",
        )
    if too_deep(bundle):
        raise ConfigError(
            f"the bundle nests more than {MAX_DEPTH} levels deep",
            fix="check how it was made; FHIR resources need far fewer levels",
        )
    if bundle.get("type") == "document":
        _document_identity(bundle)
        return []
    if bundle.get("type") not in ("transaction", "batch"):
        raise ConfigError(
            f"post sends transaction, batch or document Bundles, not a {bundle.get('type')!r} "
            "Bundle",
            field="Bundle.type",
            fix="convert with --type transaction (the default)",
        )
    entries = bundle.get("entry") or []
    if not isinstance(entries, list) or not entries:
        raise ConfigError(
            "the bundle has no entries",
            field="Bundle.entry",
            fix="post a converted case, or add entries with a resource and a request",
        )
    for i, e in enumerate(entries):
        where = f"Bundle.entry[{i}]"
        request = e.get("request") if isinstance(e, dict) else None
        method = request.get("method") if isinstance(request, dict) else None
        if method not in ("POST", "PUT"):
            raise ConfigError(
                f"request.method is {method!r}: post creates and updates only (POST or PUT)",
                field=where,
                fix="remove the entry, or send deletes and reads with another tool",
            )
        r = e.get("resource")
        if not isinstance(r, dict) or not isinstance(r.get("resourceType"), str):
            raise ConfigError(
                "has no resource (or no resourceType)",
                field=where,
                fix="every entry needs the resource to create or update",
            )
        assert isinstance(request, dict)  # checked with the method above
        if not isinstance(request.get("url"), str) or not request["url"]:
            raise ConfigError("has no request.url", field=where, fix="e.g. url: Patient")
    return entries


#: What a post of a document says it does (the CLI prints it; plans carry it as a note).
DOCUMENT_NOTE = (
    "a document Bundle is stored as one Bundle resource, not processed as a transaction: "
    "its entries are not created as separate resources"
)


def _document_identity(bundle: dict[str, Any]) -> tuple[str | None, str | None]:
    """A document's id and ``identifier`` search criteria (either may be None, not both)."""
    rid = bundle.get("id") if isinstance(bundle.get("id"), str) else None
    ident = bundle.get("identifier")
    criteria = None
    if isinstance(ident, dict) and isinstance(ident.get("value"), str):
        system = ident.get("system")
        criteria = f"identifier={system}|{ident['value']}" if system else None
    if rid is None and criteria is None:
        raise ConfigError(
            "a document Bundle needs an id or an identifier (system and value) so that "
            "posting it again does not store a second copy",
            field="Bundle.id",
            fix="convert it with fhir-adapter (--profile ips) or add Bundle.identifier",
        )
    return rid, criteria


def _document_strategy(client: Any, bundle: dict[str, Any], strategy: str) -> str:
    rid, criteria = _document_identity(bundle)
    if strategy == "put" and rid is None:
        raise ConfigError(
            "--strategy put needs the document's Bundle.id",
            field="Bundle.id",
            fix="drop --strategy",
        )
    if strategy == "conditional-create" and criteria is None:
        raise ConfigError(
            "--strategy conditional-create needs Bundle.identifier (system and value)",
            field="Bundle.identifier",
            fix="drop --strategy",
        )
    if strategy != "auto":
        return strategy
    cap = client.resource_capability("Bundle")
    if rid is not None and cap.get("updateCreate") is True:
        return "put"
    if (
        criteria is not None
        and cap.get("conditionalCreate") is True
        and "identifier" in client.search_params("Bundle")
    ):
        return "conditional-create"
    raise DeliveryError(
        "server supports neither update-as-create nor conditional create for Bundle; "
        "re-posting the document could store a second copy",
        server=client.base_url,
        request="GET metadata",
    )


def choose_strategy(client: Any, bundle: dict[str, Any], mode: str, strategy: str) -> str:
    """The idempotency strategy for fhir-adapter's own entries with this server (see the module
    docstring); ``auto`` asks the server's CapabilityStatement."""
    entries = check_bundle(bundle)
    if bundle.get("type") == "document":
        return _document_strategy(client, bundle, strategy)
    own_types = {e["resource"]["resourceType"] for e in entries if _own(e, e["resource"])}
    if not own_types:
        return AS_WRITTEN
    if strategy != "auto":
        return strategy
    caps = {t: client.resource_capability(t) for t in sorted(own_types)}
    if all(c.get("updateCreate") is True for c in caps.values()):
        return "put"
    if all(
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


def strategy_reason(client: Any, bundle: dict[str, Any], requested: str, chosen: str) -> str:
    """Why ``chosen`` is used with this server, in one line (what the CapabilityStatement
    declares), for the CLI and ``PostResult.notes``."""
    software = client.capabilities().get("software")
    name = software.get("name") if isinstance(software, dict) else None
    target = f"{name} at {client.base_url}" if isinstance(name, str) and name else client.base_url
    if requested != "auto":
        return f"strategy {chosen} with {target}: as requested (--strategy {requested})"
    if chosen == AS_WRITTEN:
        return f"entries sent as written to {target}: none was made by fhir-adapter"
    entries = check_bundle(bundle) or [{"resource": bundle}]
    types = sorted({e["resource"]["resourceType"] for e in entries})
    if chosen == "put":
        why = f"it declares update-as-create (updateCreate) for {', '.join(types)}"
    else:
        missing = [
            t for t in types if client.resource_capability(t).get("updateCreate") is not True
        ]
        why = (
            f"it declares no update-as-create for {', '.join(missing)}, and conditional create "
            "with identifier search"
        )
    return f"strategy {chosen} with {target}: {why} (CapabilityStatement)"


def plan(bundle: dict[str, Any], mode: str, strategy: str) -> Plan:
    """The steps for ``bundle`` in ``mode`` with ``strategy`` (``put`` or
    ``conditional-create`` for fhir-adapter's entries, or AS_WRITTEN); ConfigError when the
    bundle cannot be sent that way."""
    entries = check_bundle(bundle)
    if bundle.get("type") == "document":
        rid, criteria = _document_identity(bundle)
        if strategy == "put" and rid is not None:
            step = Step(0, "Bundle", "", "PUT", f"Bundle/{rid}", bundle, own=True)
        else:
            step = Step(0, "Bundle", "", "POST", "Bundle", bundle, criteria, own=True)
        return Plan("each", strategy, [step], notes=[DOCUMENT_NOTE])
    steps: list[Step] = []
    warnings: list[str] = []
    plain: list[str] = []
    for i, e in enumerate(entries):
        r = e["resource"]
        request = e["request"]
        rtype = r["resourceType"]
        own = _own(e, r)
        full_url: str = e["fullUrl"] if isinstance(e.get("fullUrl"), str) else ""
        if own and strategy == "put":
            step = Step(i, rtype, full_url, "PUT", f"{rtype}/{r['id']}", r, own=True)
        else:
            criteria = request.get("ifNoneExist") if request["method"] == "POST" else None
            step = Step(
                i,
                rtype,
                full_url,
                request["method"],
                request["url"],
                r,
                criteria if isinstance(criteria, str) and criteria else None,
                own=own,
            )
            if not step.idempotent:
                plain.append(f"{i} ({rtype})")
        steps.append(step)
    if plain:
        warnings.append(
            f"entries {', '.join(plain)} are plain POSTs (no ifNoneExist, not made by "
            "fhir-adapter): they are sent as written, and posting this bundle again may "
            "create them again"
        )
    order = each_order(steps) if mode in ("each", "batch") else None  # on urn:uuid references
    if mode == "batch":
        _for_batch(steps, strategy)
    if order is not None and order.stuck:
        first = min(order.stuck)
        raise ConfigError(
            f"entries {', '.join(f'{i} ({steps[i].resource_type})' for i in sorted(order.stuck))} "
            "refer to each other in a cycle that runs only through elements a first write must "
            f"keep (required, modifiers, identifier: {', '.join(order.stuck[first])}), so they "
            "cannot be written one by one",
            field=f"--mode {mode}",
            fix="use --mode transaction (the server resolves the cycle in one request)",
        )
    notes = []
    if mode == "batch" and order is not None:
        layers = len(order.rounds())
        if layers > 1 or order.two_phase:
            notes.append(_layers_note(steps, order, layers))
    return Plan(mode, strategy, steps, warnings, notes, order=order)


def _layers_note(steps: list[Step], order: Order, layers: int) -> str:
    """What a batch post of entries that refer to each other sends (``layers``)."""
    text = (
        f"entries refer to each other, and a server may process the entries of one batch in "
        f"any order: sent as {layers} batches, each entry after those it references"
    )
    if order.two_phase:
        types = sorted({steps[i].resource_type for i in order.two_phase})
        text += (
            f"; {len(order.two_phase)} of {len(steps)} entries ({', '.join(types)}) are in "
            "reference cycles: first written without the references that close the cycle, "
            "then updated with the whole resource in one more batch"
        )
    return text


def _for_batch(steps: list[Step], strategy: str) -> None:
    """Batch entries cannot refer to each other by ``urn:uuid``: rewrite such references to
    ``Type/id`` where the id is known (PUTs), refuse them where the server assigns it. (The
    entries go in batches by dependency layer, :mod:`fhir_adapter.client.layers`.)"""
    known = {s.full_url: f"{s.resource_type}/{s.known_id}" for s in steps if s.known_id}
    by_url = {s.full_url: s for s in steps if s.full_url}
    for s in steps:
        targets = [ref for ref in tree.references(s.body) if ref in by_url and ref not in known]
        if targets:
            target = by_url[targets[0]]
            why = (
                "--strategy conditional-create lets the server assign ids"
                if strategy == "conditional-create"
                else "the server assigns its id (POST)"
            )
            raise ConfigError(
                f"entry {s.index} ({s.resource_type}) refers to entry {target.index} "
                f"({target.resource_type}) by {targets[0]}, which a batch cannot resolve: {why}",
                field="--mode batch",
                fix="use --mode transaction or --mode each"
                + (", or --strategy put" if strategy == "conditional-create" else ""),
            )
        s.body = tree.rewrite_refs(s.body, known)
