"""Per-type plans for the walker, compiled once from the R4 tables: each JSON property's spec
(element row, type, binding, constraints key, choice base) and the fast accept checks that are
True only when the full checks would report nothing (a valid primitive, a datatype without
constraints whose properties all pass)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_adapter.validation.codes import code_grammar, coding_key
from fhir_adapter.validation.primitives import fast_element, fast_list
from fhir_adapter.validation.tables import choice_names, valueset

QUANTITY_TYPES = frozenset(
    {"Quantity", "SimpleQuantity", "MoneyQuantity", "Age", "Count", "Distance", "Duration"}
)
#: Datatypes with checks of their own after the element walk (see ``hooks.TypedHooks``).
HOOKED_TYPES = QUANTITY_TYPES | {
    "Extension",
    "Reference",
    "Narrative",
    "Period",
    "Range",
    "Attachment",
}


@dataclass(slots=True, frozen=True)
class Spec:
    """One JSON property of a type: its element row and what the walk derives from it."""

    row: dict[str, Any]
    max: int
    type: str  # the (first) type; for a choice property, the type its suffix names
    bind: list[str] | None  # [strength, value set] when bindings are checked
    bb: bool  # a backbone element (validated against its own element table)
    inv_key: str | None  # constraints key when the element has constraints to evaluate
    choice_base: str | None  # ``value`` for ``valueQuantity``
    fast: Callable[[Any], bool] | None  # for a choice property: its fast accept check
    element: str  # Type.property


@dataclass(slots=True, frozen=True)
class Plan:
    """One type's element table with what ``Walker.obj`` derives from it."""

    els: dict[str, Any]
    choices: dict[str, tuple[str, str]]
    fast: dict[str, Callable[[Any], bool]]  # element -> fast accept check (see PlanCompiler._fast)
    specs: dict[str, Spec]  # JSON property (including choice names) -> spec
    required: tuple[tuple[str, Any], ...]  # elements with min > 0
    is_resource: bool
    ext_contexts: bool  # check extension contexts on this type
    invariants: bool  # the type has constraints to evaluate
    #: For a type without constraints: True when an object holds only fast-accepted properties
    #: (valid primitives, or datatypes accepted whole) and every required one (``obj`` would
    #: report nothing).
    leaf: Callable[[dict[str, Any]], bool] | None


class PlanCompiler:
    """Compiles and caches the plans of the walker's types (a base class of ``Walker``, which
    sets the attributes declared here)."""

    types: dict[str, Any]
    primitives: dict[str, Any]
    layers: frozenset[str]
    do_bind: bool
    do_inv: bool
    invariants: Any
    fast_accept: bool
    _plans: dict[str, Plan]
    _clean_codings: set[tuple[str, str, str | None]]

    def _plan(self, tkey: str) -> Plan:
        """What ``obj`` needs about type ``tkey``, gathered once."""
        got = self._plans.get(tkey)
        if got is None:
            tdef = self.types[tkey]
            fast = self._fast(tkey)
            if tdef["kind"] != "resource":
                # an element's id takes the full path, where an element holding only an id is
                # reported (ele-1): valid elements rarely carry ids, so this costs nothing
                fast.pop("id", None)
            required = tuple((n, r) for n, r in tdef["el"].items() if r["min"] > 0)
            invariants = self.do_inv and tkey in self.invariants.keys
            leaf = None
            if fast and not invariants:
                names = tuple(n for n, _ in required)

                def leaf(node: dict[str, Any]) -> bool:
                    if type(node) is not dict or not node:
                        return False
                    for k, v in node.items():
                        ok = fast.get(k)
                        if ok is None or not ok(v):
                            return False
                    for n in names:  # noqa: SIM110 - a loop is faster than all(genexpr) here
                        if n not in node:
                            return False
                    return True

            got = self._plans[tkey] = Plan(
                els=tdef["el"],
                choices=choice_names(tkey),
                fast=fast,
                specs=self._specs(tkey),
                required=required,
                is_resource=tdef["kind"] == "resource",
                ext_contexts="extensions" in self.layers and tkey != "Element",
                invariants=invariants,
                leaf=leaf,
            )
        return got

    def _specs(self, tkey: str) -> dict[str, Spec]:
        """Specs of every property name ``tkey`` allows in JSON (choice names included)."""
        els: dict[str, Any] = self.types[tkey]["el"]

        def spec(json_name: str, row: dict[str, Any], t: str, base: str | None) -> Spec:
            inv_key = f"{tkey}.{json_name}"
            return Spec(
                row=row,
                max=row["max"],
                type=t,
                bind=row.get("bind") if self.do_bind else None,
                bb=bool(row.get("bb")),
                inv_key=inv_key if self.do_inv and inv_key in self.invariants.keys else None,
                choice_base=base,
                fast=self._fast_for(tkey, json_name, row, t) if base else None,
                element=inv_key,
            )

        out = {
            name: spec(name, els[base], t, base) for name, (base, t) in choice_names(tkey).items()
        }
        for n, r in els.items():
            if not r.get("choice"):
                out[n] = spec(n, r, r["types"][0], None)  # a declared name wins over a choice name
        return out

    def _fast(self, tkey: str) -> dict[str, Callable[[Any], bool]]:
        """Per element of ``tkey`` holding only primitives: a check that is True only when the
        full element check would report nothing (the common, valid case skips the walk)."""
        got: dict[str, Callable[[Any], bool]] = {}
        for name, row in self.types[tkey]["el"].items():
            if not row.get("choice"):
                fast = self._fast_for(tkey, name, row, row["types"][0])
                if fast is not None:
                    got[name] = fast
        return got

    def _fast_for(
        self, tkey: str, json_name: str, row: dict[str, Any], t: str
    ) -> Callable[[Any], bool] | None:
        """The fast accept check of one property holding type ``t`` (or None)."""
        if not self.fast_accept or row.get("bb"):
            return None
        if self.do_inv and f"{tkey}.{json_name}" in self.invariants.keys:
            return None
        if t not in self.primitives:
            if row.get("bind") or not self._complex_fast_ok(t):
                return None
            whole = self._complex_fast(t)
            return whole if row["max"] == 1 else fast_list(whole, row["max"])
        allowed: Callable[[Any], bool] | None = None
        bind = row.get("bind")
        if bind is not None and bind[0] == "required" and t == "code":
            vs = valueset(bind[1])
            allowed = (
                vs[2].__contains__
                if vs is not None
                else code_grammar(bind[1], f"{tkey}.{json_name}")
            )
        return fast_element(t, self.primitives[t]["json"], row["max"], allowed)

    def _complex_fast_ok(self, t: str) -> bool:
        """Whether values of datatype ``t`` can be fast-accepted as a whole: no constraints and
        no datatype check beyond its properties (a Coding's checks are memoised per code)."""
        return (
            t in self.types
            and self.types[t]["kind"] == "complex-type"
            and t not in HOOKED_TYPES
            and not (self.do_inv and t in self.invariants.keys)
        )

    def _complex_fast(self, t: str) -> Callable[[Any], bool]:
        """True only for a ``t`` object that the full walk would pass silently."""
        clean = self._clean_codings

        def whole(v: Any) -> bool:
            plan = self._plans.get(t) or self._plan(t)
            if plan.leaf is None or not plan.leaf(v):
                return False
            if t == "Coding":
                key = coding_key(v)
                return key is not None and key in clean
            return True

        return whole
