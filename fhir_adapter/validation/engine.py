"""The table-driven walker: one pass over a resource, the same ordered checks at every element.

Per element: known name -> array-ness and count -> null/empty -> JSON type and primitive syntax ->
binding -> external code syntax -> recurse (complex types, backbone elements, contained and
bundled resources) -> required elements and choice exclusivity -> invariants. References are
collected during the walk and checked per resource and per bundle afterwards.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any
from xml.etree import ElementTree

from fhir_adapter import codesystems as cs
from fhir_adapter.validation.report import Issue
from fhir_adapter.validation.tables import choice_names, displays, tables, ucum_common, valueset

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
)

_INT_RANGE = {
    "integer": (-(2**31), 2**31 - 1),
    "unsignedInt": (0, 2**31 - 1),
    "positiveInt": (1, 2**31 - 1),
}
_REF = re.compile(
    r"^(#[A-Za-z0-9\-.]{1,64}|urn:uuid:\S+"
    r"|urn:oid:[0-2](\.(0|[1-9][0-9]*))+"
    r"|((https?://[^\s]+/)?[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}(/_history/[A-Za-z0-9\-.]{1,64})?)"
    r"|https?://\S+)$"
)
_XHTML_NS = "{http://www.w3.org/1999/xhtml}"
_ABSOLUTE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
_HTML_TAG = re.compile(r"<[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?/?>")
MAX_STRING = 1024 * 1024
QUANTITY_TYPES = frozenset(
    {"Quantity", "SimpleQuantity", "MoneyQuantity", "Age", "Count", "Distance", "Duration"}
)
#: Datatypes with checks of their own after the element walk (see ``Walker._typed``).
_HOOKED_TYPES = QUANTITY_TYPES | {"Extension", "Reference", "Narrative", "Period", "Attachment"}
_RESTFUL = re.compile(
    r"/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[A-Za-z0-9\-.]{1,64})?$"
)
# Elements and attributes the R4 narrative rules (Narrative.div, txt-1) allow: basic HTML, no
# active content. Hand-written: it is the spec's own short list, not a general HTML sanitizer.
_XHTML_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "b",
        "big",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "tt",
        "ul",
        "var",
    ]
)
_XHTML_ATTRS = frozenset(
    [
        "abbr",
        "accesskey",
        "align",
        "alt",
        "axis",
        "bgcolor",
        "border",
        "cellhalign",
        "cellpadding",
        "cellspacing",
        "cellvalign",
        "char",
        "charoff",
        "charset",
        "cite",
        "class",
        "colspan",
        "compact",
        "coords",
        "dir",
        "frame",
        "headers",
        "height",
        "href",
        "hreflang",
        "hspace",
        "id",
        "lang",
        "longdesc",
        "name",
        "nowrap",
        "rel",
        "rev",
        "rowspan",
        "rules",
        "scope",
        "shape",
        "span",
        "src",
        "start",
        "style",
        "summary",
        "tabindex",
        "title",
        "type",
        "valign",
        "value",
        "vspace",
        "width",
    ]
)


@cache
def _regex(type_name: str) -> re.Pattern[str] | None:
    rx = tables()["primitives"][type_name]["regex"]
    # The spec's regexes follow Java/XML Schema, where \s is ASCII whitespace: a no-break
    # space inside a string is content, not whitespace.
    return re.compile(rx, re.ASCII) if rx else None


@cache
def _ucum_parser() -> Any:
    from ucumvert import get_ucum_parser

    return get_ucum_parser()


@cache
def ucum_ok(code: str) -> bool:
    """Whether ``code`` is valid UCUM syntax (parsed with the ucumvert UCUM grammar)."""
    if code in ucum_common():
        return True  # verified with the same grammar when the tables were generated
    try:
        _ucum_parser().parse(code)
    except Exception:
        return False
    return True


@dataclass
class ResourceScope:
    """What the walk gathers about one resource: its references and contained ids."""

    resource: dict[str, Any]
    path: str
    container: dict[str, Any] | None = None
    refs: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    contained_ids: set[str] = field(default_factory=set)


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
    #: For a type without constraints: True when an object holds only fast-accepted primitive
    #: properties and every required one (``obj`` would report nothing).
    leaf: Callable[[dict[str, Any]], bool] | None


class Walker:
    """Validates resources against the compiled R4 tables; one instance serves many resources."""

    def __init__(self, layers: frozenset[str]) -> None:
        self.layers = layers
        t = tables()
        self.types: dict[str, Any] = t["types"]
        self.primitives: dict[str, Any] = t["primitives"]
        self.resources = frozenset(t["resources"])
        self._resource_like = self.resources | {"Resource", "DomainResource"}
        self.extensions: dict[str, Any] = t.get("extensions", {})
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
            return whole if row["max"] == 1 else _fast_list(whole, row["max"])
        bare: frozenset[str] | None = None
        bind = row.get("bind")
        if bind is not None and bind[0] == "required" and t == "code":
            vs = valueset(bind[1])
            bare = vs[2] if vs is not None else None
        return _fast_element(t, self.primitives[t]["json"], row["max"], bare)

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
                key = _coding_key(v)
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
                    f"a resource must be a JSON object, not {_jtype(node)}",
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
            self._contained_refs(scope, issues)
        if self.do_structure and rt in ("CapabilityStatement", "SearchParameter", "ValueSet"):
            from fhir_adapter.validation import conformance

            conformance.check(node, path, issues)
        if rt == "Bundle" and (self.do_bundle or self.do_refs):
            self._bundle(node, path, issues)

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
                self._element(key, value, spec, f"{path}.{key}", issues, scope, root)
                continue
            if key == "resourceType" and plan.is_resource:
                continue
            if key[0] == "_":
                self._primitive_companion(key, value, tkey, choices, path, issues, scope, root)
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
                        "remove it or check the spelling",
                        family="structure",
                    )
                )
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
                if self.do_json:
                    issues.append(
                        Issue(
                            "error",
                            "json",
                            p,
                            "null is not allowed in FHIR JSON",
                            "remove the element",
                            family="json",
                        )
                    )
                continue
            if bb:
                if not isinstance(item, dict):
                    issues.append(
                        Issue(
                            "error",
                            "structure",
                            p,
                            f"expected an object, got {_jtype(item)}",
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
                self._binding(item, t, bind, p, issues)
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
                self._primitive(item, t, prim["json"], p, issues)
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
                        f"expected a {t} object, got {_jtype(item)}",
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
        elif t == "Coding" and self.do_codes:
            # system, code and display repeat across a bundle; a Coding that passed passes again
            key = _coding_key(item)
            if not (self.fast_accept and key is not None and key in self._clean_codings):
                n = len(issues)
                self._coding(item, p, issues)
                if len(issues) == n and key is not None:
                    if len(self._clean_codings) >= 10_000:
                        self._clean_codings.clear()
                    self._clean_codings.add(key)
        elif t in QUANTITY_TYPES and self.do_codes:
            self._quantity(item, p, issues)
        elif t == "Narrative" and self.do_prim:
            self._narrative(item, p, issues)
        elif t == "Period" and self.do_inv:
            _period(item, p, issues)
        elif t == "Attachment" and self.do_prim:
            _attachment(item, p, issues)

    # ------------------------------------------------------------------ primitives

    def _primitive(self, v: Any, t: str, jtype: str, p: str, issues: list[Issue]) -> None:
        if jtype == "boolean":
            if not isinstance(v, bool):
                issues.append(
                    Issue(
                        "error",
                        "primitive",
                        p,
                        f"{t} must be true or false, got {_jtype(v)}",
                        family="primitive",
                    )
                )
            return
        if jtype == "integer":
            if isinstance(v, bool) or not isinstance(v, int):
                issues.append(
                    Issue(
                        "error",
                        "primitive",
                        p,
                        f"{t} must be a JSON integer, got {_jtype(v)}",
                        family="primitive",
                    )
                )
                return
            lo, hi = _INT_RANGE[t]
            if not lo <= v <= hi:
                issues.append(
                    Issue(
                        "error",
                        "primitive",
                        p,
                        f"{v} is out of range for {t} ({lo}..{hi})",
                        family="primitive",
                    )
                )
            return
        if jtype == "number":
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                issues.append(
                    Issue(
                        "error",
                        "primitive",
                        p,
                        f"{t} must be a JSON number, got {_jtype(v)}",
                        "write the number without quotes",
                        family="primitive",
                    )
                )
            return
        if not isinstance(v, str):
            issues.append(
                Issue(
                    "error",
                    "primitive",
                    p,
                    f"{t} must be a JSON string, got {_jtype(v)}",
                    family="primitive",
                )
            )
            return
        if not v:
            issues.append(
                Issue("error", "json", p, "empty string", "remove the element", family="json")
            )
            return
        if t == "xhtml":
            return  # checked with its Narrative
        if len(v) > MAX_STRING and t != "base64Binary":
            issues.append(
                Issue(
                    "error",
                    "primitive",
                    p,
                    "value is longer than the maximum of 1 MB",
                    family="primitive",
                )
            )
            return
        if t == "markdown" and _HTML_TAG.search(v):
            issues.append(
                Issue(
                    "warning",
                    "primitive",
                    p,
                    "markdown contains what looks like an embedded HTML tag",
                    "escape the < or remove the tag; presentation layers escape HTML in markdown",
                    family="primitive",
                )
            )
        if v != v.strip() and t not in ("string", "markdown", "base64Binary"):
            issues.append(
                Issue(
                    "error",
                    "primitive",
                    p,
                    f"{t} value {v!r} has leading or trailing whitespace",
                    family="primitive",
                )
            )
            return
        rx = _regex(t)
        if rx is not None and not rx.fullmatch(v):
            issues.append(
                Issue(
                    "error",
                    "primitive",
                    p,
                    f"{v[:60]!r} is not a valid {t}",
                    _PRIM_FIX.get(t),
                    family="primitive",
                )
            )
        elif t in ("date", "dateTime", "instant") and len(v) >= 10 and not _real_date(v[:10]):
            issues.append(
                Issue(
                    "error",
                    "primitive",
                    p,
                    f"{v[:10]!r} is not a calendar date",
                    "use a day that exists in that month",
                    family="primitive",
                )
            )

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
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            ip = f"{p}[{i}]" if isinstance(value, list) else p
            if item is None and isinstance(value, list):
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
            # HL7's cross-version (/fhir/5.0/...) and tooling extensions are known to the official
            # validator without an IG; only core-namespace and foreign URLs must resolve here.
            hl7_other = url.startswith("http://hl7.org/fhir/") and not url.startswith(
                "http://hl7.org/fhir/StructureDefinition/"
            )
            if known is None and not hl7_other:
                issues.append(
                    Issue(
                        "error",
                        "extension",
                        p,
                        f"extension {url} is unknown (not an R4 core extension), so it is not allowed here",
                        "use a core extension, or validate against the IG that defines it (or --skip extensions)",
                        family="structure",
                    )
                )
            elif known is not None and known["types"]:
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
        has_value = any(k.startswith("value") for k in ext)
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

    def _coding(self, c: dict[str, Any], p: str, issues: list[Issue]) -> None:
        system, code = c.get("system"), c.get("code")
        if not isinstance(system, str):
            return
        if not _ABSOLUTE.match(system):
            issues.append(
                Issue(
                    "error",
                    "code-system",
                    f"{p}.system",
                    f"Coding.system {system!r} must be an absolute URI, not a local reference",
                    "use the code system's canonical URI",
                    family="code",
                )
            )
            return
        canonical = cs.NON_CANONICAL.get(system)
        if canonical:
            issues.append(
                Issue(
                    "warning",
                    "code-system",
                    f"{p}.system",
                    f"{system} is not the canonical R4 URI",
                    f"use {canonical}",
                    family="code",
                )
            )
            system = canonical
        if not isinstance(code, str):
            return
        check = cs.CHECKS.get(system)
        if check and not check(code):
            what = {
                cs.SNOMED: "SNOMED CT concept id (partition, check digit)",
                cs.LOINC: "LOINC code (check digit)",
                cs.ICD10CM: "ICD-10-CM code",
            }[system]
            issues.append(
                Issue(
                    "error",
                    "code-syntax",
                    f"{p}.code",
                    f"{code!r} is not a valid {what}",
                    "check the code for typos",
                    family="code",
                )
            )
        if system == cs.ICD10 and re.fullmatch(r"[A-Z][0-9][0-9A-Z]\.[0-9A-Z]{2,4}", code):
            issues.append(
                Issue(
                    "warning",
                    "code-system",
                    f"{p}.system",
                    f"{code!r} looks like an ICD-10-CM code but the system is WHO ICD-10",
                    f"use {cs.ICD10CM} for ICD-10-CM",
                    family="code",
                )
            )
        if system == cs.UCUM:
            _check_ucum(code, p, issues)
        known = displays().get(system)
        if known is not None:
            self._known_code(known, system, code, c.get("display"), p, issues)

    def _known_code(
        self,
        known: dict[str, Any],
        system: str,
        code: str,
        display: Any,
        p: str,
        issues: list[Issue],
    ) -> None:
        """Code and display against a code system the R4 definitions hold completely (HL7,
        DICOM). Warnings: a newer edition of HL7 terminology may add codes or displays."""
        names = known.get(code)
        if names is None:
            issues.append(
                Issue(
                    "warning",
                    "code-unknown",
                    f"{p}.code",
                    f"{code!r} is not a code of {system} (as published with FHIR R4)",
                    "check the code and its case",
                    family="code",
                )
            )
            return
        if not isinstance(display, str) or not names:
            return
        allowed = [names] if isinstance(names, str) else names
        if _norm_display(display) not in {_norm_display(n) for n in allowed}:
            issues.append(
                Issue(
                    "warning",
                    "code-display",
                    f"{p}.display",
                    f"display {display!r} is not the display of {system}#{code}",
                    f"use {allowed[0]!r}",
                    family="code",
                )
            )

    def _quantity(self, q: dict[str, Any], p: str, issues: list[Issue]) -> None:
        code = q.get("code")
        if q.get("system") == cs.UCUM and isinstance(code, str):
            _check_ucum(code, p, issues)

    def _narrative(self, n: dict[str, Any], p: str, issues: list[Issue]) -> None:
        div = n.get("div")
        if not isinstance(div, str):
            return
        if self.fast_accept and _simple_xhtml_ok(div):
            return
        dp = f"{p}.div"
        try:
            el = ElementTree.fromstring(div)
        except ElementTree.ParseError as err:
            issues.append(
                Issue(
                    "error",
                    "txt-1",
                    dp,
                    f"narrative is not well-formed XHTML: {err}",
                    family="invariant",
                )
            )
            return
        if el.tag != f"{_XHTML_NS}div":
            issues.append(
                Issue(
                    "error",
                    "txt-1",
                    dp,
                    "narrative root must be a <div> in the XHTML namespace",
                    'use <div xmlns="http://www.w3.org/1999/xhtml">',
                    family="invariant",
                )
            )
            return
        for e in el.iter():
            tag = e.tag.replace(_XHTML_NS, "") if isinstance(e.tag, str) else ""
            if tag not in _XHTML_ELEMENTS:
                issues.append(
                    Issue(
                        "error",
                        "txt-1",
                        dp,
                        f"element <{tag}> is not allowed in a narrative",
                        "use basic HTML only (no script, form, style elements)",
                        family="invariant",
                    )
                )
                return
            for a in e.attrib:
                name = a.rsplit("}", 1)[-1]
                if name not in _XHTML_ATTRS or (
                    name in ("href", "src")
                    and e.attrib[a].strip().lower().startswith("javascript:")
                ):
                    issues.append(
                        Issue(
                            "error",
                            "txt-1",
                            dp,
                            f"attribute {name!r} is not allowed in a narrative",
                            "remove event handlers and active content",
                            family="invariant",
                        )
                    )
                    return
        if not "".join(el.itertext()).strip() and el.find(f".//{_XHTML_NS}img") is None:
            issues.append(
                Issue(
                    "error",
                    "txt-2",
                    dp,
                    "The narrative SHALL have some non-whitespace content",
                    "write the narrative text",
                    family="invariant",
                )
            )

    # ------------------------------------------------------------------ bindings

    def _binding(self, item: Any, t: str, bind: list[str], p: str, issues: list[Issue]) -> None:
        strength, url = bind
        vs = valueset(url)
        if vs is None:
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
        codings = (
            [item]
            if t == "Coding"
            else (item.get("coding") if isinstance(item, dict) else None) or []
        )
        if t not in ("Coding", "CodeableConcept") or not isinstance(item, dict):
            return
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

    def _contained_refs(self, scope: ResourceScope, issues: list[Issue]) -> None:
        res = scope.container or scope.resource
        raw = res.get("contained")
        contained: list[Any] = raw if isinstance(raw, list) else []
        ids = {c.get("id") for c in contained if isinstance(c, dict)} if contained else set()
        local: set[str] = set()
        for ref, p, targets in scope.refs:
            if not _REF.match(ref):
                issues.append(
                    Issue(
                        "error",
                        "reference",
                        f"{p}.reference",
                        f"{ref!r} is not a valid literal reference",
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
                    self._target_type(target.get("resourceType"), targets, p, issues)
            elif "/" in ref and not ref.startswith(("urn:", "http://", "https://")):
                self._target_type(ref.split("/", 1)[0], targets, p, issues, literal=True)
        if scope.container is not None:
            return  # the container checks its own contained resources (dom-3)
        if contained:
            local |= {v[1:] for v in _strings(res) if v.startswith("#")}
        for i, c in enumerate(contained):
            if isinstance(c, dict) and c.get("id") not in local and not _refers_to_container(c):
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

    def _target_type(
        self,
        rtype: Any,
        targets: tuple[str, ...],
        p: str,
        issues: list[Issue],
        literal: bool = False,
    ) -> None:
        if not isinstance(rtype, str):
            return
        if literal and rtype not in self.resources:
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

    def _entry_rules(self, e: dict[str, Any], btype: Any, ep: str, issues: list[Issue]) -> None:
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

    def _bundle(self, b: dict[str, Any], path: str, issues: list[Issue]) -> None:
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
            if self.do_bundle and isinstance(fu, str) and isinstance(r, dict):
                rid, rt = r.get("id"), r.get("resourceType")
                rest = _RESTFUL.search(fu) if "/" in fu else None
                if not _ABSOLUTE.match(fu):
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
                    (r.get("meta") or {}).get("versionId")
                    if isinstance(r.get("meta"), dict)
                    else None
                )
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
            if self.do_bundle:
                self._entry_rules(e, btype, ep, issues)
            if isinstance(fu, str) and isinstance(r, dict):
                full.setdefault(fu, r)
                versions[fu] = versions.get(fu, 0) + 1
        raw_links = b.get("link")
        links: list[Any] = raw_links if isinstance(raw_links, list) else []
        if (
            self.do_bundle
            and sum(isinstance(x, dict) and x.get("relation") == "self" for x in links) > 1
        ):
            issues.append(
                Issue(
                    "error",
                    "bundle",
                    f"{path}.link",
                    "the link relation 'self' can only occur once",
                    family="bundle",
                )
            )
        if not self.do_refs or btype not in (
            "transaction",
            "batch",
            "document",
            "collection",
            "message",
        ):
            return
        # Resolve references inside the bundle (urn:uuid must resolve; Type/id against fullUrls).
        for i, e in enumerate(entries):
            r = e.get("resource") if isinstance(e, dict) else None
            if not isinstance(r, dict):
                continue
            fu = e.get("fullUrl") if isinstance(e.get("fullUrl"), str) else ""
            base = fu.rsplit("/", 2)[0] + "/" if fu.startswith("http") else ""
            gathered = self._scopes.get(f"{path}.entry[{i}].resource")
            for ref, p, targets in gathered.refs if gathered else ():
                if ref.startswith("#"):
                    continue
                key = (
                    base + ref
                    if base and "/" in ref and not ref.startswith(("urn:", "http"))
                    else ref
                )
                target = full.get(key) or full.get(ref)
                matches = versions.get(key, 0) or versions.get(ref, 0)
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
                    self._target_type(target.get("resourceType"), targets, p, issues)
                elif ref.startswith("urn:") and btype in ("transaction", "batch", "document"):
                    issues.append(
                        Issue(
                            "error",
                            "reference",
                            f"{p}.reference",
                            f"{ref!r} resolves to no entry of this bundle",
                            "add the entry or fix the reference",
                            family="reference",
                        )
                    )


@cache
def _fast_primitive(t: str, jtype: str) -> Callable[[Any], bool]:
    """True only for a value of primitive type ``t`` that ``Walker._primitive`` passes silently."""
    if jtype == "boolean":
        return lambda v: v is True or v is False
    if jtype == "integer":
        lo, hi = _INT_RANGE[t]
        return lambda v: type(v) is int and lo <= v <= hi
    if jtype == "number":
        return lambda v: type(v) is int or type(v) is float
    rx = _regex(t)
    limit = None if t == "base64Binary" else MAX_STRING
    strip = t not in ("string", "markdown", "base64Binary")
    dates = t in ("date", "dateTime", "instant")
    markdown = t == "markdown"
    if t == "xhtml":
        return lambda v: type(v) is str and v != ""
    # Specialised shapes of the general check below, for the common types (fewer tests per value).
    if rx is not None and limit is not None and not markdown:
        fm = rx.fullmatch
        seen: set[str] = set()  # short values that passed: codes, systems, statuses repeat

        def remember(v: str) -> bool:
            if len(v) <= 200:
                if len(seen) >= 4096:
                    seen.clear()  # bounded: a long stream keeps re-learning its common values
                seen.add(v)
            return True

        if not strip:
            return lambda v: (
                type(v) is str
                and (v in seen or (0 < len(v) <= limit and fm(v) is not None and remember(v)))
            )
        if not dates:
            return lambda v: (
                type(v) is str
                and (
                    v in seen
                    or (
                        0 < len(v) <= limit and fm(v) is not None and v == v.strip() and remember(v)
                    )
                )
            )
        return lambda v: (
            type(v) is str
            and (
                v in seen
                or (
                    0 < len(v) <= limit
                    and fm(v) is not None
                    and v == v.strip()
                    and (len(v) < 10 or _real_date(v[:10]))
                    and remember(v)
                )
            )
        )

    def ok(v: Any) -> bool:
        return (
            type(v) is str
            and v != ""
            and (limit is None or len(v) <= limit)
            and not (markdown and _HTML_TAG.search(v))
            and not (strip and v != v.strip())
            and (rx is None or rx.fullmatch(v) is not None)
            and not (dates and len(v) >= 10 and not _real_date(v[:10]))
        )

    return ok


def _fast_element(
    t: str, jtype: str, max_: int, codes: frozenset[str] | None
) -> Callable[[Any], bool]:
    """``_fast_primitive`` for a whole element: cardinality, JSON shape and required codes."""
    one = _fast_primitive(t, jtype)
    if codes is not None:
        prim = one

        def one(v: Any) -> bool:
            return prim(v) and v in codes

    return one if max_ == 1 else _fast_list(one, max_)


def _fast_list(one: Callable[[Any], bool], max_: int) -> Callable[[Any], bool]:
    """A fast accept check for a repeating element whose items ``one`` accepts."""

    def ok(v: Any) -> bool:
        if type(v) is not list or not v or (max_ >= 0 and len(v) > max_):
            return False
        for x in v:  # noqa: SIM110 - faster than all(genexpr); runs for most arrays
            if x is None or not one(x):
                return False
        return True

    return ok


_XHTML_ROOT = '<div xmlns="http://www.w3.org/1999/xhtml">'
_XHTML_TOKEN = re.compile(
    r"<(/?)([a-z][a-z0-9]*)(/?)>|([^<&\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]+)"
    r"|&(?:amp|lt|gt|quot|apos);"
)


def _simple_xhtml_ok(div: str) -> bool:
    """True for a narrative in a simple XHTML subset that the full check passes silently.

    The subset: the exact XHTML root, allowed elements without attributes, text of valid XML
    characters, the five named entities; well nested, with some text or an image. Hand-written
    because it decides the common case without building a parser per resource (about 5x faster);
    anything outside the subset gets the full ElementTree check.
    """
    if not div.startswith(_XHTML_ROOT) or "]]>" in div:
        return False
    stack, text, pos, end = ["div"], False, len(_XHTML_ROOT), len(div)
    match = _XHTML_TOKEN.match
    while pos < end:
        m = match(div, pos)
        if m is None or not stack:
            return False
        pos = m.end()
        closing, name, empty, chunk = m.groups()
        if name is not None:
            if name not in _XHTML_ELEMENTS or (closing and empty):
                return False
            if closing:
                if stack.pop() != name:
                    return False
            elif not empty:
                stack.append(name)
            text = text or name == "img"
        elif chunk is not None:
            text = text or not chunk.isspace()
        else:
            text = True  # an entity is content
    return not stack and text


def _coding_key(c: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(system, code, display) of a Coding whose checks depend only on them, else None."""
    system, code, display = c.get("system"), c.get("code"), c.get("display")
    if type(system) is str and type(code) is str and (display is None or type(display) is str):
        return system, code, display
    return None


def _norm_display(text: str) -> str:
    """A display compared case-insensitively, with runs of whitespace as one space."""
    return " ".join(text.split()).casefold()


def _human(key: str) -> str:
    from fhir_adapter.validation.invariants import human

    return human(key)


@cache
def _real_date(ymd: str) -> bool:
    try:
        _dt.date.fromisoformat(ymd)
    except ValueError:
        return False
    return True


def _check_ucum(code: str, p: str, issues: list[Issue]) -> None:
    """A ``code-syntax`` error at ``p.code`` when ``code`` is not valid UCUM."""
    if not ucum_ok(code):
        fix = "use a UCUM code, e.g. mg/d (not mg/day)"
        issues.append(
            Issue(
                "error",
                "code-syntax",
                f"{p}.code",
                f"{code!r} is not valid UCUM",
                fix,
                family="code",
            )
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


def _jtype(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    return "an object"


_PRIM_FIX = {
    "dateTime": "use YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss+zz:zz (a time needs a timezone)",
    "date": "use YYYY, YYYY-MM or YYYY-MM-DD",
    "instant": "use YYYY-MM-DDThh:mm:ss(.sss)+zz:zz with a timezone",
    "id": "use 1-64 characters from A-Z a-z 0-9 - .",
    "code": "no leading/trailing or repeated whitespace",
    "uri": "no whitespace in URIs",
    "time": "use hh:mm:ss",
}
