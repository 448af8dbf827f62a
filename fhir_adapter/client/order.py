"""The order of ``each`` mode: which entries a resource waits for, and how reference cycles are
broken into two writes.

A resource is sent once every entry it references has been answered, so that its ``urn:uuid``
references can be rewritten to the ids the server gave them. Entries that refer to one another in
a cycle (``Encounter.diagnosis`` -> Condition, ``Condition.encounter`` -> Encounter) cannot all
wait for each other, so inside each cycle some references are *deferred*: the resource's first
write leaves out the elements that hold them (the ``Encounter.diagnosis`` items naming a Condition
not written yet), and once every entry has been written, an update (``PUT Type/<id>``, the id
the server holds it under) sends the whole resource. A server that checks references on write
(HAPI's default) accepts both writes: every reference names a resource that already exists.
Under ``put`` a resource the server already holds with all those references (a re-post) is
written once, whole, instead (``delivery``).

Deferred references are chosen greedily, so that a cycle needs few updates (one per Encounter in
the shipped fixtures), and never in an element whose omission would change what the first write
means or make it invalid: a required element (min >= 1 in R4), a modifier, ``identifier``
(conditional create matches on it), ``contained`` or ``modifierExtension``. A cycle that runs only
through such elements cannot be sent one by one: none of its entries is sent, and the result
names them (transaction mode resolves it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from fhir_adapter.client import tree

#: Top-level elements a first write never leaves out, whatever their cardinality.
KEPT = frozenset({"resourceType", "id", "meta", "identifier", "contained", "modifierExtension"})


class _Entry(Protocol):
    index: int
    resource_type: str
    full_url: str
    body: dict[str, Any]


@dataclass(frozen=True)
class Order:
    """For every entry: the entries it references (``needs``), those of them referenced only by
    the update after its first write (``deferred``); the entries of cycles that cannot be
    broken (``stuck``: entry -> the elements that hold the cycle's references)."""

    needs: list[frozenset[int]]
    deferred: list[frozenset[int]]
    stuck: dict[int, list[str]]

    def waits(self, i: int) -> frozenset[int]:
        """The entries that must be answered before entry ``i``'s first write."""
        return self.needs[i] - self.deferred[i]

    @property
    def two_phase(self) -> list[int]:
        """The entries written twice (first without their deferred references), in order."""
        return [i for i, d in enumerate(self.deferred) if d]

    def rounds(self) -> list[list[int]]:
        """The first writes in rounds (each after every entry it waits for), as if every entry
        succeeded; stuck entries are left out."""
        placed: set[int] = set()
        todo = [i for i in range(len(self.needs)) if i not in self.stuck]
        out: list[list[int]] = []
        while todo:
            ready = [i for i in todo if self.waits(i) <= placed]
            if not ready:  # waits on a stuck entry: never sent
                break
            out.append(ready)
            placed.update(ready)
            todo = [i for i in todo if i not in placed]
        return out


def first_write(body: dict[str, Any], omit: Iterable[str]) -> dict[str, Any]:
    """``body`` without the top-level elements (or items of top-level arrays) holding a reference
    in ``omit``: the resource as its first write sends it."""
    refs = set(omit)
    if not refs:
        return body
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key in KEPT:
            out[key] = value
        elif isinstance(value, list):
            kept = [v for v in value if refs.isdisjoint(tree.references(v))]
            if kept:
                out[key] = kept
        elif refs.isdisjoint(tree.references(value)):
            out[key] = value
    return out


def each_order(steps: Sequence[_Entry]) -> Order:
    """The order of ``steps`` in ``each`` mode (see the module docstring)."""
    index = {s.full_url: s.index for s in steps if s.full_url}
    holders: list[dict[int, set[str]]] = []  # entry -> target -> top-level elements holding it
    for s in steps:
        held: dict[int, set[str]] = {}
        outside = set(tree.outside_references(s.body))
        for key, value in s.body.items():
            for ref in outside.intersection(tree.references(value)):
                target = index.get(ref, s.index)
                if target != s.index:
                    held.setdefault(target, set()).add(key)
        holders.append(held)
    needs = [frozenset(h) for h in holders]
    deferred: list[frozenset[int]] = [frozenset()] * len(steps)
    stuck: dict[int, list[str]] = {}
    for component in _cycles(needs):
        hard = {
            i: {d for d, keys in holders[i].items() if any(_kept(steps[i], k) for k in keys)}
            for i in component
        }
        chosen = _break(component, needs, hard)
        if chosen is None:
            for i in component:
                stuck[i] = sorted(
                    f"{steps[i].resource_type}.{k}"
                    for d, keys in holders[i].items()
                    if d in component
                    for k in keys
                )
        else:
            for i, later in chosen.items():
                deferred[i] = frozenset(later)
    return Order(needs, deferred, stuck)


def _kept(step: _Entry, key: str) -> bool:
    """Whether a first write must keep this top-level element (see :data:`KEPT`): also any
    element R4 requires or marks as a modifier."""
    if key in KEPT:
        return True
    from fhir_adapter.validation.tables import choice_names, tables

    rtype = step.resource_type
    if rtype not in tables()["types"]:
        return False
    elements = tables()["types"][rtype]["el"]
    row = elements.get(key) or elements.get(choice_names(rtype).get(key, ("", ""))[0]) or {}
    return bool(row.get("min", 0) >= 1 or row.get("mod"))


def _break(
    component: list[int], needs: list[frozenset[int]], hard: dict[int, set[int]]
) -> dict[int, set[int]] | None:
    """A write order for one cycle (strongly connected entries) as entry -> the entries it
    defers (those written after it that it references), or None if every order would defer a
    reference held in a kept element. Greedy, for few entries written twice (a small feedback
    vertex set): an entry that needs nothing unwritten goes first; otherwise the one on the
    most cycles, estimated as (entries waiting for it) x (entries it waits for)."""
    remaining = set(component)
    chosen: dict[int, set[int]] = {}
    while remaining:

        def out(i: int) -> set[int]:
            return {d for d in needs[i] if d in remaining and d != i}

        candidates = sorted(i for i in remaining if not out(i) & hard[i])
        if not candidates:
            return None
        free = [i for i in candidates if not out(i)]
        if free:
            pick = free[0]
        else:
            pick = max(
                candidates,
                key=lambda i: (sum(i in needs[j] for j in remaining) * len(out(i)), -i),
            )
        later = out(pick)
        if later:
            chosen[pick] = later
        remaining.discard(pick)
    return chosen


def _cycles(needs: list[frozenset[int]]) -> list[list[int]]:
    """The strongly connected components of more than one entry."""
    return [c for c in components(needs) if len(c) > 1]


def components(needs: Sequence[Iterable[int]]) -> list[list[int]]:
    """The strongly connected components of the graph ``node -> the nodes it needs`` (nodes are
    0..len-1), each sorted, each listed after every component it needs (Tarjan's algorithm,
    without recursion: bundles can be large). Written here because the standard library's
    graphlib only reports that a cycle exists, and a graph library would be a dependency for
    30 lines."""
    counter = 0
    number: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    out: list[list[int]] = []
    for root in range(len(needs)):
        if root in number:
            continue
        work: list[tuple[int, list[int]]] = [(root, sorted(needs[root]))]
        number[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, todo = work[-1]
            if todo:
                nxt = todo.pop()
                if nxt not in number:
                    number[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, sorted(needs[nxt])))
                elif nxt in on_stack:
                    low[node] = min(low[node], number[nxt])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == number[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                out.append(sorted(component))
    return out
