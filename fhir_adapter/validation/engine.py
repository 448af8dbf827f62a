"""The table-driven walker: one pass over a resource, the same ordered checks at every element.

Per element: known name -> array-ness and count -> null/empty -> JSON type and primitive syntax ->
binding -> external code syntax -> recurse (complex types, backbone elements, contained and
bundled resources) -> required elements and choice exclusivity -> invariants. References are
collected during the walk and checked per resource and per bundle afterwards.

Speed without a second rule set: each property has a quick check built from the same tables
that returns True only when the full checks would report nothing (``plans``); anything else takes
the full path, which produces the issues. ``fast_accept = False`` turns the shortcuts off; tests
compare both.

This module is the walk. The checks live elsewhere: ``hooks`` (datatype checks after a value's
walk, extension contexts, bindings), ``primitives`` (primitive syntax), ``codes`` (Coding and
Quantity), ``xhtml`` (narratives), ``invariants`` (FHIRPath constraints), ``references``
(references and bundle rules); its findings come from ``findings``.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.validation.findings import finding
from fhir_adapter.validation.hooks import TypedHooks, no_code
from fhir_adapter.validation.jsontext import MAX_DEPTH
from fhir_adapter.validation.plans import Plan, PlanCompiler, Spec
from fhir_adapter.validation.primitives import check_primitive, jtype_name
from fhir_adapter.validation.references import ResourceScope, check_bundle, check_contained_refs
from fhir_adapter.validation.report import Issue
from fhir_adapter.validation.tables import tables

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


class TooDeep(Exception):
    """The walk reached an element nested more than ``MAX_DEPTH`` levels deep."""


#: The shortest path that can be ``MAX_DEPTH`` levels deep (each level adds at least two
#: characters, ``.a`` or ``[0]``): only paths this long have their levels counted, so the depth
#: guard costs one ``len`` per object walked.
_LONG_PATH = 2 * MAX_DEPTH - 1


class Walker(PlanCompiler, TypedHooks):
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
        self._plans: dict[str, Plan] = {}
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
            issues.append(finding("not_resource_object", path, got=jtype_name(node)))
            return
        rt = node.get("resourceType")
        if not isinstance(rt, str) or not rt:
            issues.append(finding("no_resource_type", path))
            return
        if rt not in self.resources:
            issues.append(finding("unknown_resource_type", path, rt=rt))
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
        if len(path) >= _LONG_PATH and path.count(".") + path.count("[") >= MAX_DEPTH - 1:
            raise TooDeep(path)
        plan = self._plans.get(tkey) or self._plan(tkey)
        els, choices, fast = plan.els, plan.choices, plan.fast
        seen_choice: dict[str, str] = {}
        if not node and self.do_json:
            issues.append(finding("empty_object", path))
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
                            finding(
                                "choice_twice", f"{path}.{key}", base=base, other=seen_choice[base]
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
                    example = f"{key}{row['types'][0][0].upper()}{row['types'][0][1:]}"
                    issues.append(
                        finding("choice_suffix", f"{path}.{key}", key=key, example=example)
                    )
            elif self.do_structure:
                fix = _did_you_mean(key, els, choices) or "remove it or check the spelling"
                issues.append(
                    finding("unknown_element", f"{path}.{key}", key=key, tkey=tkey, fix=fix)
                )
        if len(node) == 1 and "id" in node and not plan.is_resource and tkey != "Element":
            issues.append(finding("ele-1", path))
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
                    issues.append(finding("missing", f"{path}.{name}", name=name, min=row["min"]))
        if plan.invariants:
            self.invariants.check(tkey, node, path, scope.resource, root, issues)

    def _element(
        self,
        key: str,
        value: Any,
        spec: Spec,
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
                        finding(
                            "not_array", path, key=key, max="*" if row["max"] < 0 else row["max"]
                        )
                    )
                items: list[Any] = [value]
                is_list = False
            else:
                if not value:
                    if self.do_json:
                        issues.append(finding("empty_array", path))
                    return
                if row["max"] > 1 and len(value) > row["max"] and self.do_structure:
                    issues.append(finding("too_many", path, n=len(value), max=row["max"]))
                items = value
        else:
            if isinstance(value, list):
                if self.do_structure:
                    issues.append(finding("not_single", path, key=key))
                return
            items = [value]
        t, bind, bb, inv_key = spec.type, spec.bind, spec.bb, spec.inv_key
        for i, item in enumerate(items):
            p = f"{path}[{i}]" if is_list else path
            if item is None:
                if self.do_json and not (is_list and _present(parent.get(f"_{key}"), i, dict)):
                    beside = f"_{key}" if t in self.primitives and is_list else None
                    issues.append(_null(p, beside))
                continue
            if bb:
                if not isinstance(item, dict):
                    issues.append(finding("not_object", p, got=jtype_name(item)))
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
                issues.append(finding("not_type_object", p, t=t, got=jtype_name(item)))
            return
        if t not in self.types:
            return
        plan = self._plans.get(t) or self._plan(t)
        if plan.leaf is None or not plan.leaf(item):
            self.obj(item, t, p, issues, scope, root)
        self._hooks(item, t, p, issues, scope, root, row)

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
                issues.append(finding("not_companion", p, key=key))
            return
        is_list = isinstance(value, list)
        if is_list != (row is not None and row["max"] != 1):
            if self.do_structure:
                shape = "an array" if not is_list else "a single object"
                issues.append(finding("companion_shape", p, key=key, shape=shape, name=name))
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
                issues.append(finding("companion_not_object", ip))
                continue
            self.obj(item, "Element", ip, issues, scope, root)
            if not has_value and len(item) == 1 and "id" in item:
                issues.append(finding("ele-1", ip))
            elif not has_value and required and self.do_bind:
                issues.append(no_code(ip, required, item.get("extension")))
            exts = item.get("extension")
            if "extensions" in self.layers and isinstance(exts, list):
                # the element is the primitive itself: its type, and <parent type>.<name>
                owner = f"{path}.{name}"
                self._contexts(exts, f"{tkey}.{name}", owner, f"{ip}.extension", scope, issues, t)


def _present(values: Any, i: int, kind: type | None = None) -> bool:
    """Whether the JSON array ``values`` holds a non-null item (of ``kind``) at index ``i``."""
    if not isinstance(values, list) or i >= len(values) or values[i] is None:
        return False
    return kind is None or isinstance(values[i], kind)


def _null(path: str, beside: str | None) -> Issue:
    """A null with nothing at the same index of its primitive/companion array (json.html)."""
    return finding("null", path) if beside is None else finding("null_gap", path, beside=beside)


def _did_you_mean(key: str, els: dict[str, Any], choices: dict[str, Any]) -> str | None:
    """``did you mean 'clinicalStatus'?`` for a misspelt element name (difflib), or None."""
    from fhir_adapter.suggest import close_matches, did_you_mean

    names = [n for n, row in els.items() if not row.get("choice")] + list(choices)
    return did_you_mean(close_matches(key, names, n=2, cutoff=0.8))
