"""The table-driven walker: one pass over a resource, the same ordered checks at every element.

Per element: known name -> array-ness and count -> null/empty -> JSON type and primitive syntax ->
binding -> external code syntax -> recurse (complex types, backbone elements, contained and
bundled resources) -> required elements and choice exclusivity -> invariants. References are
collected during the walk and checked per resource and per bundle afterwards.

Speed without a second rule set: each property has a quick check built from the same tables
that returns True only when the full checks would report nothing (a valid primitive, a datatype
without constraints whose properties all pass); anything else takes the full path, which
produces the issues. ``fast_accept = False`` turns the shortcuts off; tests compare both.

The per-value checks live in ``primitives`` (primitive syntax), ``codes`` (Coding and Quantity),
``xhtml`` (narratives), ``invariants`` (FHIRPath constraints) and ``references`` (references and
bundle rules).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fhir_adapter.validation.codes import (
    check_coding,
    check_quantity,
    code_grammar,
    coding_key,
)
from fhir_adapter.validation.primitives import (
    check_primitive,
    fast_element,
    fast_list,
    jtype_name,
)
from fhir_adapter.validation.references import (
    ResourceScope,
    check_bundle,
    check_contained_refs,
    check_reference_type,
)
from fhir_adapter.validation.report import Issue
from fhir_adapter.validation.tables import choice_names, tables, valueset
from fhir_adapter.validation.textlinks import check_text_links
from fhir_adapter.validation.xhtml import check_narrative

LAYERS = (
    "json",
    "structure",
    "extensions",
    "primitives",
    "bindings",
    "codes",
    "invariants",
    "references",
    "bundle",
    "profiles",
)

#: resource types with checks of their own in ``conformance.check``
_CONFORMANCE_CHECKED = frozenset(
    {"CapabilityStatement", "SearchParameter", "ValueSet", "StructureDefinition", "CodeSystem"}
)
QUANTITY_TYPES = frozenset(
    {"Quantity", "SimpleQuantity", "MoneyQuantity", "Age", "Count", "Distance", "Duration"}
)
#: Datatypes with checks of their own after the element walk (see ``Walker._typed``).
_HOOKED_TYPES = QUANTITY_TYPES | {"Extension", "Reference", "Narrative", "Period", "Attachment"}
# Elements and attributes the R4 narrative rules (Narrative.div, txt-1) allow: basic HTML, no
# active content. Hand-written: it is the spec's own short list, not a general HTML sanitizer.


@dataclass(slots=True, frozen=True)
class _Spec:
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
class _Plan:
    """One type's element table with what ``Walker.obj`` derives from it."""

    els: dict[str, Any]
    choices: dict[str, tuple[str, str]]
    fast: dict[str, Callable[[Any], bool]]  # element -> fast accept check (see Walker._fast)
    specs: dict[str, _Spec]  # JSON property (including choice names) -> spec
    required: tuple[tuple[str, Any], ...]  # elements with min > 0
    is_resource: bool
    ext_contexts: bool  # check extension contexts on this type
    invariants: bool  # the type has constraints to evaluate
    #: For a type without constraints: True when an object holds only fast-accepted properties
    #: (valid primitives, or datatypes accepted whole) and every required one (``obj`` would
    #: report nothing).
    leaf: Callable[[dict[str, Any]], bool] | None


class Walker:
    """Validates resources against the compiled R4 tables; one instance serves many resources."""

    def __init__(self, layers: frozenset[str], profiles: Any = None) -> None:
        self.layers = layers
        #: the profile layer (``profiles.walk.ProfileLayer``) when IGs are loaded: its extension
        #: definitions join the core ones, and each extension is checked against its definition
        self.profiles = profiles
        t = tables()
        self.types: dict[str, Any] = t["types"]
        self.primitives: dict[str, Any] = t["primitives"]
        self.resources = frozenset(t["resources"])
        self._resource_like = self.resources | {"Resource", "DomainResource"}
        #: resources identified by a canonical URL: ``url`` (uri), ``version`` and ``publisher``
        #: (Device and Contract also have a url and a version, but not as an identity)
        self._canonical_types = frozenset(
            rt
            for rt in self.resources
            if self.types[rt]["el"].get("url", {}).get("types") == ["uri"]
            and {"version", "publisher"} <= set(self.types[rt]["el"])
        )
        self.extensions: dict[str, Any] = t.get("extensions", {})
        if profiles is not None:
            self.extensions = {**self.extensions, **profiles.pset.extension_rows()}
        self._scopes: dict[str, ResourceScope] = {}  # resource path -> what its walk gathered
        self._plans: dict[str, _Plan] = {}
        self._clean_codings: set[tuple[str, str, str | None]] = set()  # Codings without issues
        self.do_structure = "structure" in layers
        self.do_prim = "primitives" in layers
        self.do_bind = "bindings" in layers
        self.do_codes = "codes" in layers
        self.do_inv = "invariants" in layers
        self.do_refs = "references" in layers
        self.do_bundle = "bundle" in layers
        self.do_json = "json" in layers
        #: Shortcuts that never change the issues (tests compare with them off): quick checks
        #: accepting valid primitives, leaf datatypes and simple narratives; known-clean codings.
        self.fast_accept = True
        self.invariants: Any = None
        if self.do_inv:
            from fhir_adapter.validation.invariants import Invariants

            self.invariants = Invariants()

    def _plan(self, tkey: str) -> _Plan:
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

            got = self._plans[tkey] = _Plan(
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

    def _specs(self, tkey: str) -> dict[str, _Spec]:
        """Specs of every property name ``tkey`` allows in JSON (choice names included)."""
        els: dict[str, Any] = self.types[tkey]["el"]

        def spec(json_name: str, row: dict[str, Any], t: str, base: str | None) -> _Spec:
            inv_key = f"{tkey}.{json_name}"
            return _Spec(
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
            and t not in _HOOKED_TYPES
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

    # ------------------------------------------------------------------ resources

    def resource(
        self,
        node: Any,
        path: str,
        issues: list[Issue],
        root: dict[str, Any] | None = None,
        container: dict[str, Any] | None = None,
    ) -> None:
        """Validate one resource (and everything inside it) at ``path``."""
        if not isinstance(node, dict):
            issues.append(
                Issue(
                    "error",
                    "json",
                    path,
                    f"a resource must be a JSON object, not {jtype_name(node)}",
                    family="json",
                )
            )
            return
        rt = node.get("resourceType")
        if not isinstance(rt, str) or not rt:
            issues.append(
                Issue(
                    "error",
                    "json",
                    path,
                    "resource has no resourceType",
                    'add "resourceType": "<Type>"',
                    family="json",
                )
            )
            return
        if rt not in self.resources:
            issues.append(
                Issue(
                    "error",
                    "structure",
                    path,
                    f"unknown resourceType {rt!r}",
                    "use an R4 resource type name",
                    family="structure",
                )
            )
            return
        if root is None:
            self._scopes = {}  # a new top-level input: forget the previous one's resources
        scope = ResourceScope(node, path, container)
        self._scopes[path] = scope
        root = root or node
        start = len(issues)
        self.obj(node, rt, path, issues, scope, root)
        if path.endswith("]") and ".contained[" in path:
            # Contained resources carry no narrative of their own (DomainResource.text): no dom-6.
            issues[start:] = [
                i for i in issues[start:] if not (i.rule == "dom-6" and i.path == path)
            ]
        if self.do_refs:
            check_contained_refs(scope, issues, self.resources)
        if self.do_structure and rt in self._canonical_types:
            from fhir_adapter.validation import conformance

            conformance.canonical_url(node, path, issues)
            if rt in _CONFORMANCE_CHECKED:
                conformance.check(node, path, issues)
        if rt == "Bundle" and (self.do_bundle or self.do_refs):
            check_bundle(
                node,
                path,
                issues,
                self._scopes,
                self.resources,
                bundle_rules=self.do_bundle,
                references=self.do_refs,
            )

    # ------------------------------------------------------------------ objects

    def obj(
        self,
        node: dict[str, Any],
        tkey: str,
        path: str,
        issues: list[Issue],
        scope: ResourceScope,
        root: dict[str, Any],
    ) -> None:
        """Validate a JSON object against the element table of type/backbone ``tkey``."""
        plan = self._plans.get(tkey) or self._plan(tkey)
        els, choices, fast = plan.els, plan.choices, plan.fast
        seen_choice: dict[str, str] = {}
        if not node and self.do_json:
            issues.append(
                Issue(
                    "error", "json", path, "empty object", "remove it or fill it in", family="json"
                )
            )
            return
        specs = plan.specs
        for key, value in node.items():
            ok = fast.get(key)
            if ok is not None and ok(value):
                continue
            spec = specs.get(key)
            if spec is not None:
                base = spec.choice_base
                if base is not None:
                    if base in seen_choice and self.do_structure:
                        issues.append(
                            Issue(
                                "error",
                                "structure",
                                f"{path}.{key}",
                                f"only one of {base}[x] may be present (also {seen_choice[base]})",
                                "keep one",
                                family="structure",
                            )
                        )
                    seen_choice[base] = key
                    if spec.fast is not None and spec.fast(value):
                        continue
                self._element(key, value, spec, f"{path}.{key}", issues, scope, root, node)
                continue
            if key == "resourceType" and plan.is_resource:
                continue
            if key[0] == "_":
                self._primitive_companion(
                    key, value, tkey, choices, path, issues, scope, root, node
                )
                continue
            row = els.get(key)
            if row is not None and row.get("choice"):
                if self.do_structure:
                    issues.append(
                        Issue(
                            "error",
                            "structure",
                            f"{path}.{key}",
                            f"{key}[x] needs a type suffix, e.g. {key}{row['types'][0][0].upper()}{row['types'][0][1:]}",
                            family="structure",
                        )
                    )
            elif self.do_structure:
                issues.append(
                    Issue(
                        "error",
                        "structure",
                        f"{path}.{key}",
                        f"unknown element {key!r} in {tkey}",
                        _did_you_mean(key, els, choices) or "remove it or check the spelling",
                        family="structure",
                    )
                )
        if len(node) == 1 and "id" in node and not plan.is_resource and tkey != "Element":
            issues.append(_ele1(path))
        if plan.ext_contexts and ("extension" in node or "modifierExtension" in node):
            for key in ("extension", "modifierExtension"):
                exts = node.get(key)
                if isinstance(exts, list):
                    self._contexts(exts, tkey, path, f"{path}.{key}", scope, issues)
        if self.do_structure:
            for name, row in plan.required:
                if name not in node and f"_{name}" not in node:
                    if row.get("choice") and any(choices.get(k, ("",))[0] == name for k in node):
                        continue
                    issues.append(
                        Issue(
                            "error",
                            "cardinality",
                            f"{path}.{name}",
                            f"missing required element {name!r} (min {row['min']})",
                            f"add {name}",
                            family="cardinality",
                        )
                    )
        if plan.invariants:
            self.invariants.check(tkey, node, path, scope.resource, root, issues)

    def _element(
        self,
        key: str,
        value: Any,
        spec: _Spec,
        path: str,
        issues: list[Issue],
        scope: ResourceScope,
        root: dict[str, Any],
        parent: dict[str, Any],
    ) -> None:
        row = spec.row
        is_list = spec.max != 1
        if is_list:
            if not isinstance(value, list):
                if self.do_structure:
                    issues.append(
                        Issue(
                            "error",
                            "structure",
                            path,
                            f"{key} must be an array (max {'*' if row['max'] < 0 else row['max']})",
                            "wrap the value in [ ]",
                            family="structure",
                        )
                    )
                items: list[Any] = [value]
                is_list = False
            else:
                if not value:
                    if self.do_json:
                        issues.append(
                            Issue(
                                "error",
                                "json",
                                path,
                                "empty array",
                                "remove the element",
                                family="json",
                            )
                        )
                    return
                if row["max"] > 1 and len(value) > row["max"] and self.do_structure:
                    issues.append(
                        Issue(
                            "error",
                            "cardinality",
                            path,
                            f"{len(value)} items, at most {row['max']} allowed",
                            family="cardinality",
                        )
                    )
                items = value
        else:
            if isinstance(value, list):
                if self.do_structure:
                    issues.append(
                        Issue(
                            "error",
                            "cardinality",
                            path,
                            f"{key} allows one value (max 1), got an array",
                            "use a single value, not [ ]",
                            family="cardinality",
                        )
                    )
                return
            items = [value]
        t, bind, bb, inv_key = spec.type, spec.bind, spec.bb, spec.inv_key
        for i, item in enumerate(items):
            p = f"{path}[{i}]" if is_list else path
            if item is None:
                if self.do_json and not (is_list and _present(parent.get(f"_{key}"), i, dict)):
                    issues.append(_null(p, f"_{key}" if t in self.primitives and is_list else None))
                continue
            if bb:
                if not isinstance(item, dict):
                    issues.append(
                        Issue(
                            "error",
                            "structure",
                            p,
                            f"expected an object, got {jtype_name(item)}",
                            family="structure",
                        )
                    )
                    continue
                plan = self._plans.get(t) or self._plan(t)
                if plan.leaf is None or not plan.leaf(item):
                    self.obj(item, t, p, issues, scope, root)
                continue
            self._typed(item, t, p, issues, scope, root, row)
            if bind is not None:
                self._binding(item, t, bind, p, issues, spec.element)
            if inv_key is not None:
                self.invariants.check(inv_key, item, p, scope.resource, root, issues)

    def _typed(
        self,
        item: Any,
        t: str,
        p: str,
        issues: list[Issue],
        scope: ResourceScope,
        root: dict[str, Any],
        row: dict[str, Any],
    ) -> None:
        prim = self.primitives.get(t)
        if prim is not None:
            if self.do_prim:
                check_primitive(item, t, prim["json"], p, issues)
            return
        if t in self._resource_like:
            contained = ".contained[" in p[len(scope.path) :]
            self.resource(item, p, issues, root, scope.resource if contained else None)
            return
        if not isinstance(item, dict):
            if self.do_structure:
                issues.append(
                    Issue(
                        "error",
                        "structure",
                        p,
                        f"expected a {t} object, got {jtype_name(item)}",
                        family="structure",
                    )
                )
            return
        if t not in self.types:
            return
        plan = self._plans.get(t) or self._plan(t)
        if plan.leaf is None or not plan.leaf(item):
            self.obj(item, t, p, issues, scope, root)
        if t == "Extension":
            self._extension(item, p, issues)
        elif t == "Reference" and self.do_refs:
            ref = item.get("reference")
            if isinstance(ref, str):
                scope.refs.append((ref, p, tuple(row.get("targets", ()))))
            if "type" in item:
                check_reference_type(item["type"], row.get("targets", ()), p, issues)
        elif t == "Coding" and self.do_codes:
            # system, code and display repeat across a bundle; a Coding that passed passes again
            key = coding_key(item)
            if not (self.fast_accept and key is not None and key in self._clean_codings):
                n = len(issues)
                check_coding(item, p, issues)
                if len(issues) == n and key is not None:
                    if len(self._clean_codings) >= 10_000:
                        self._clean_codings.clear()
                    self._clean_codings.add(key)
        elif t in QUANTITY_TYPES and self.do_codes:
            check_quantity(item, p, issues)
        elif t == "Narrative" and self.do_prim:
            check_narrative(item, p, issues, self.fast_accept)
            if "extension" in item:
                check_text_links(item, root, p, issues)
        elif t == "Period" and self.do_inv:
            _period(item, p, issues)
        elif t == "Attachment" and self.do_prim:
            _attachment(item, p, issues)

    # ------------------------------------------------------------------ primitives

    def _primitive_companion(
        self,
        key: str,
        value: Any,
        tkey: str,
        choices: dict[str, tuple[str, str]],
        path: str,
        issues: list[Issue],
        scope: ResourceScope,
        root: dict[str, Any],
        parent: dict[str, Any],
    ) -> None:
        name = key[1:]
        row = self.types[tkey]["el"].get(name)
        t = row["types"][0] if row else (choices.get(name, (None, None))[1])
        p = f"{path}.{key}"
        if t is None or t not in self.primitives:
            if self.do_structure:
                issues.append(
                    Issue(
                        "error",
                        "structure",
                        p,
                        f"{key!r} is not the companion of a primitive element",
                        "remove it",
                        family="structure",
                    )
                )
            return
        is_list = isinstance(value, list)
        if is_list != (row is not None and row["max"] != 1):
            if self.do_structure:
                issues.append(
                    Issue(
                        "error",
                        "structure",
                        p,
                        f"{key} must be {'an array' if not is_list else 'a single object'}, as {name} is",
                        "align the _element companion with its primitive element",
                        family="structure",
                    )
                )
            return
        items = value if is_list else [value]
        primitive = parent.get(name)
        bind = row.get("bind") if row is not None else None
        required = bind[1] if bind is not None and bind[0] == "required" else None
        for i, item in enumerate(items):
            ip = f"{p}[{i}]" if is_list else p
            has_value = _present(primitive, i) if is_list else primitive is not None
            if item is None and is_list:
                if self.do_json and not has_value:
                    issues.append(_null(ip, name))
                continue
            if not isinstance(item, dict):
                issues.append(
                    Issue(
                        "error",
                        "structure",
                        ip,
                        "a primitive's companion must be an object (id, extension)",
                        family="structure",
                    )
                )
                continue
            self.obj(item, "Element", ip, issues, scope, root)
            if not has_value and len(item) == 1 and "id" in item:
                issues.append(_ele1(ip))
            elif not has_value and required and self.do_bind:
                issues.append(_no_code(ip, required, item.get("extension")))
            exts = item.get("extension")
            if "extensions" in self.layers and isinstance(exts, list):
                # the element is the primitive itself: its type, and <parent type>.<name>
                owner = f"{path}.{name}"
                self._contexts(exts, f"{tkey}.{name}", owner, f"{ip}.extension", scope, issues, t)

    # ------------------------------------------------------------------ datatypes

    def _contexts(
        self,
        exts: list[Any],
        tkey: str,
        owner: str,
        p: str,
        scope: ResourceScope,
        issues: list[Issue],
        extra: str | None = None,
    ) -> None:
        """Each extension must be used where its definition's context allows."""
        where = {tkey, "Element", extra or tkey}
        if tkey in self.resources:
            where |= {"Resource", "DomainResource", self.types[tkey].get("base", "")}
        rel = re.sub(r"\[\d+\]", "", owner[len(scope.path) :])
        where.add(scope.resource.get("resourceType", "") + rel)
        for i, ext in enumerate(exts):
            if not isinstance(ext, dict) or not isinstance(ext.get("url"), str):
                continue
            known = self.extensions.get(ext["url"])
            contexts = known.get("context") if known else None
            if not contexts or tkey == "Extension":
                continue
            allowed = [e for kind, e in contexts if kind == "element"]
            if any(kind != "element" for kind, _ in contexts) or not allowed:
                continue  # fhirpath/extension contexts: not checked offline
            if not any(e in where for e in allowed):
                issues.append(
                    Issue(
                        "error",
                        "extension",
                        f"{p}[{i}]",
                        f"extension {ext['url']} is not allowed here (this element is {', '.join(sorted(x for x in where if x and x != 'Element'))}; allowed: {', '.join(allowed)})",
                        "move the extension to an element its definition allows",
                        family="structure",
                    )
                )

    def _extension(self, ext: dict[str, Any], p: str, issues: list[Issue]) -> None:
        if not self.do_structure:
            return
        url = ext.get("url")
        if isinstance(url, str) and "extensions" in self.layers and not _nested_extension(p):
            known = self.extensions.get(url)
            if known is None:
                issues.append(unknown_extension(url, p, self.profiles))
            elif self.profiles is not None:  # checked against its definition: value, sub-extensions
                self.profiles.check_extension(ext, url, p, issues)
            elif known["types"]:
                allowed = {a[0].upper() + a[1:] for a in known["types"]}
                for k in ext:
                    if k.startswith("value") and k[5:6].isupper() and k[5:] not in allowed:
                        issues.append(
                            Issue(
                                "error",
                                "extension",
                                f"{p}.{k}",
                                f"extension {url} allows value types {', '.join(known['types'])}, not {k[5:]}",
                                family="structure",
                            )
                        )
        if "url" not in ext:
            issues.append(
                Issue(
                    "error",
                    "structure",
                    f"{p}.url",
                    "extension has no url",
                    "add the extension's canonical url",
                    family="structure",
                )
            )
        # a primitive value with only an id or extensions (``_valueDateTime``) exists, as in
        # FHIRPath (the official validator and the fast path agree)
        has_value = any(k.startswith(("value", "_value")) for k in ext)
        if has_value == ("extension" in ext):
            issues.append(
                Issue(
                    "error",
                    "ext-1",
                    p,
                    "Must have either extensions or value[x], not both",
                    "give the extension exactly one value[x] or nested extensions",
                    family="invariant",
                )
            )

    # ------------------------------------------------------------------ bindings

    def _binding(
        self, item: Any, t: str, bind: list[str], p: str, issues: list[Issue], element: str
    ) -> None:
        strength, url = bind
        vs = valueset(url)
        if vs is None:
            grammar = code_grammar(url, element) if strength == "required" else None
            if grammar is not None and t == "code" and isinstance(item, str) and not grammar(item):
                issues.append(
                    Issue(
                        "error",
                        "binding",
                        p,
                        f"{item!r} is not a MIME type (required value set {url.rsplit('/', 1)[-1]}, BCP 13)",
                        "use type/subtype, e.g. application/pdf or text/plain; charset=utf-8",
                        family="binding",
                    )
                )
            return
        codes, systems, bare = vs
        required = strength == "required"
        name = url.rsplit("/", 1)[-1]
        if t == "code":
            if isinstance(item, str) and item not in bare and required:
                shown = ", ".join(sorted(bare)[:12]) + (" ..." if len(bare) > 12 else "")
                issues.append(
                    Issue(
                        "error",
                        "binding",
                        p,
                        f"{item!r} is not in the required value set {name}",
                        f"use one of: {shown}",
                        family="binding",
                    )
                )
            return
        if t not in ("Coding", "CodeableConcept") or not isinstance(item, dict):
            return
        codings = [item] if t == "Coding" else item.get("coding")
        if not isinstance(codings, list):
            codings = []  # absent, or not an array (the structure layer reports that)
        for c in codings:
            if isinstance(c, dict) and f"{c.get('system')}|{c.get('code')}" in codes:
                return
        if required:
            issues.append(
                Issue(
                    "error",
                    "binding",
                    p,
                    f"no coding from the required value set {name}",
                    f"add a coding from {url}",
                    family="binding",
                )
            )
        elif any(isinstance(c, dict) and str(c.get("system")) in systems for c in codings):
            issues.append(
                Issue(
                    "warning",
                    "binding",
                    p,
                    f"code is not in the extensible value set {name} although its system is",
                    f"use a code from {url}",
                    family="binding",
                )
            )

    # ------------------------------------------------------------------ references


def _present(values: Any, i: int, kind: type | None = None) -> bool:
    """Whether the JSON array ``values`` holds a non-null item (of ``kind``) at index ``i``."""
    if not isinstance(values, list) or i >= len(values) or values[i] is None:
        return False
    return kind is None or isinstance(values[i], kind)


def _null(path: str, beside: str | None) -> Issue:
    """A null with nothing at the same index of its primitive/companion array (json.html)."""
    if beside is None:
        return Issue(
            "error",
            "json",
            path,
            "null is not allowed in FHIR JSON",
            "remove the element",
            family="json",
        )
    return Issue(
        "error",
        "json",
        path,
        f"null here needs a value at the same index of {beside!r} (json.html: null only fills the gaps between a primitive array and its _element array)",
        f"remove the null, or give {beside} an item at this index",
        family="json",
    )


_XVER_EXTENSION = re.compile(r"^http://hl7\.org/fhir/\d\.\d/StructureDefinition/extension-")


def _no_code(path: str, valueset: str, extensions: Any) -> Issue:
    """A primitive bound to a required value set carries extensions but no code. A cross-version
    extension standing in for the code is only a warning (as in the official validator)."""
    xver = isinstance(extensions, list) and any(
        isinstance(e, dict) and _XVER_EXTENSION.match(str(e.get("url"))) for e in extensions
    )
    return Issue(
        "warning" if xver else "error",
        "binding",
        path,
        f"no code provided, and a code is required from the value set {valueset}",
        "give the element a code from the value set (its own 'unknown'-like code if the value is not known)",
        family="binding",
    )


def _ele1(path: str) -> Issue:
    return Issue(
        "error",
        "ele-1",
        path,
        "All FHIR elements must have a @value or children (an id alone is not enough)",
        "add a value or an extension, or remove the element",
        family="invariant",
    )


def _attachment(item: dict[str, Any], p: str, issues: list[Issue]) -> None:
    """Attachment.size must equal the decoded length of Attachment.data when both are given."""
    import base64
    import binascii

    data, size = item.get("data"), item.get("size")
    if isinstance(data, str) and isinstance(size, int) and not isinstance(size, bool):
        try:
            actual = len(base64.b64decode(data, validate=False))
        except (binascii.Error, ValueError):
            return
        if actual != size:
            issues.append(
                Issue(
                    "error",
                    "attachment",
                    f"{p}.size",
                    f"stated size {size} does not match the data's {actual} bytes",
                    "correct size or data",
                    family="structure",
                )
            )


def unknown_extension(url: str, p: str, profiles: Any) -> Issue:
    """An extension whose definition is not loaded: a warning whatever its domain (an error with
    strict extensions), since it cannot be checked."""
    strict = profiles is not None and profiles.strict_extensions
    return Issue(
        "error" if strict else "warning",
        "extension",
        p,
        f"extension {url} not checked: its definition is not loaded",
        "load its IG with --ig (or igs=[...]); a core R4 extension URL may be misspelt",
        family="structure",
    )


def _nested_extension(path: str) -> bool:
    """Whether the extension at ``path`` sits inside another extension (its url is relative)."""
    last = max(path.rfind(".extension["), path.rfind(".modifierExtension["))
    return ".extension[" in path[:last] or ".modifierExtension[" in path[:last]


def _per1_holds(start: Any, end: Any) -> bool:
    """FHIRPath ``start <= end`` for dateTimes: compared up to the shared precision; equal up to
    it with different precisions is 'unknown' (empty), which fails the constraint as in the
    official validator."""
    if not (isinstance(start, str) and isinstance(end, str)):
        return True
    if len(start) > 10 and len(end) > 10:
        try:
            a = _dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
            b = _dt.datetime.fromisoformat(end.replace("Z", "+00:00"))
            if (a.tzinfo is None) != (b.tzinfo is None):
                return True
            return a <= b
        except ValueError:
            return True
    da, db = start[:10], end[:10]
    n = min(len(da), len(db))
    if da[:n] != db[:n]:
        return da[:n] < db[:n]
    return len(start) == len(end)


def _period(item: dict[str, Any], p: str, issues: list[Issue]) -> None:
    """per-1: if present, start SHALL have a lower value than end."""
    if not _per1_holds(item.get("start"), item.get("end")):
        issues.append(
            Issue(
                "error",
                "per-1",
                p,
                "If present, start SHALL have a lower value than end",
                "make start earlier than end, at the same precision",
                family="invariant",
            )
        )


def _did_you_mean(key: str, els: dict[str, Any], choices: dict[str, Any]) -> str | None:
    """``did you mean 'clinicalStatus'?`` for a misspelt element name (difflib), or None."""
    from fhir_adapter.suggest import close_matches, did_you_mean

    names = [n for n, row in els.items() if not row.get("choice")] + list(choices)
    return did_you_mean(close_matches(key, names, n=2, cutoff=0.8))
