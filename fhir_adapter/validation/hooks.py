"""Typed hooks: the checks that run on one datatype value once the walk has passed over it
(Extension, Reference, Coding, Quantity, Narrative, Period, Range, Attachment), extension contexts and
bindings. The walk (``engine``) decides where they apply; the checks live here and in the
per-value modules (``primitives``, ``codes``, ``xhtml``, ``textlinks``, ``references``)."""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any

from fhir_adapter.validation.codes import check_coding, check_quantity, code_grammar, coding_key
from fhir_adapter.validation.findings import finding
from fhir_adapter.validation.plans import QUANTITY_TYPES
from fhir_adapter.validation.references import ResourceScope, check_reference_type
from fhir_adapter.validation.report import Issue
from fhir_adapter.validation.tables import fhir_type, valueset
from fhir_adapter.validation.textlinks import check_text_links
from fhir_adapter.validation.xhtml import check_narrative


class TypedHooks:
    """The datatype checks of the walker (a base class of ``Walker``, which sets the attributes
    declared here)."""

    types: dict[str, Any]
    resources: frozenset[str]
    extensions: dict[str, Any]
    profiles: Any
    layers: frozenset[str]
    do_structure: bool
    do_prim: bool
    do_bind: bool
    do_codes: bool
    do_inv: bool
    do_refs: bool
    fast_accept: bool
    _clean_codings: set[tuple[str, str, str | None]]

    def _hooks(
        self,
        item: dict[str, Any],
        t: str,
        p: str,
        issues: list[Issue],
        scope: ResourceScope,
        root: dict[str, Any],
        row: dict[str, Any],
    ) -> None:
        """The checks of datatype ``t`` on one of its values."""
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
            if not per1_holds(item.get("start"), item.get("end")):
                issues.append(finding("per-1", p))
        elif t == "Range" and self.do_inv:
            holds = rng2_holds(item.get("low"), item.get("high"))
            if holds is None:
                issues.append(finding("constraint_unchecked", p, key="rng-2", err=_RNG2_UNITS))
            elif not holds:
                issues.append(finding("rng-2", p))
        elif t == "Attachment" and self.do_prim:
            _attachment(item, p, issues)

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
                here = ", ".join(sorted(x for x in where if x and x != "Element"))
                issues.append(
                    finding(
                        "ext_context",
                        f"{p}[{i}]",
                        url=ext["url"],
                        here=here,
                        allowed=", ".join(allowed),
                    )
                )

    def _extension(self, ext: dict[str, Any], p: str, issues: list[Issue]) -> None:
        """An extension: known (and checked against its definition), url, ext-1."""
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
                for k in ext:
                    if k.startswith("value") and k[5:6].isupper():
                        got = fhir_type(k[5:])
                        if got not in known["types"]:
                            allowed = ", ".join(known["types"])
                            issues.append(
                                finding(
                                    "ext_value_type", f"{p}.{k}", url=url, allowed=allowed, got=got
                                )
                            )
        if "url" not in ext:
            issues.append(finding("ext_no_url", f"{p}.url"))
        # a primitive value with only an id or extensions (``_valueDateTime``) exists, as in
        # FHIRPath (the official validator and the fast path agree)
        has_value = any(k.startswith(("value", "_value")) for k in ext)
        if has_value == ("extension" in ext):
            issues.append(finding("ext-1", p))

    def _binding(
        self, item: Any, t: str, bind: list[str], p: str, issues: list[Issue], element: str
    ) -> None:
        """A value against its element's binding (required: error; extensible: warning when
        its system is the value set's but the code is not)."""
        strength, url = bind
        vs = valueset(url)
        name = url.rsplit("/", 1)[-1]
        if vs is None:
            grammar = code_grammar(url, element) if strength == "required" else None
            if grammar is not None and t == "code" and isinstance(item, str) and not grammar(item):
                issues.append(finding("not_mime", p, value=item, name=name))
            return
        codes, systems, bare = vs
        required = strength == "required"
        if t == "code":
            if isinstance(item, str) and item not in bare and required:
                shown = ", ".join(sorted(bare)[:12]) + (" ..." if len(bare) > 12 else "")
                issues.append(finding("code_not_in_vs", p, value=item, name=name, shown=shown))
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
            issues.append(finding("no_required_coding", p, name=name, url=url))
        elif any(isinstance(c, dict) and str(c.get("system")) in systems for c in codings):
            issues.append(finding("not_in_extensible", p, name=name, url=url))


_XVER_EXTENSION = re.compile(r"^http://hl7\.org/fhir/\d\.\d/StructureDefinition/extension-")


def no_code(path: str, valueset: str, extensions: Any) -> Issue:
    """A primitive bound to a required value set carries extensions but no code. A cross-version
    extension standing in for the code is only a warning (as in the official validator)."""
    xver = isinstance(extensions, list) and any(
        isinstance(e, dict) and _XVER_EXTENSION.match(str(e.get("url"))) for e in extensions
    )
    return finding("no_code", path, "warning" if xver else None, url=valueset)


def unknown_extension(url: str, p: str, profiles: Any) -> Issue:
    """An extension whose definition is not loaded: a warning whatever its domain (an error with
    strict extensions), since it cannot be checked."""
    strict = profiles is not None and profiles.strict_extensions
    return finding("ext_unknown", p, "error" if strict else None, url=url)


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
            issues.append(finding("attachment_size", f"{p}.size", size=size, actual=actual))


def _nested_extension(path: str) -> bool:
    """Whether the extension at ``path`` sits inside another extension (its url is relative)."""
    last = max(path.rfind(".extension["), path.rfind(".modifierExtension["))
    return ".extension[" in path[:last] or ".modifierExtension[" in path[:last]


def per1_holds(start: Any, end: Any) -> bool:
    """per-1, FHIRPath ``start <= end`` for dateTimes: compared up to the shared precision; equal
    up to it with different precisions is 'unknown' (empty), which fails the constraint as in the
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


_RNG2_UNITS = "low and high are in different units, which are not converted offline"


def rng2_holds(low: Any, high: Any) -> bool | None:
    """rng-2, FHIRPath ``low <= high`` for two quantities: their values compared when both have
    one, in the same unit (system and code; the unit text when neither has a code). A missing
    value leaves the comparison empty, which holds. None: different units (UCUM conversion, as
    the official validator does, is not done here)."""
    if not isinstance(low, dict) or not isinstance(high, dict):
        return True
    a, b = _number(low.get("value")), _number(high.get("value"))
    if a is None or b is None:
        return True  # no value (or not a number, reported as such): FHIRPath's empty
    if _unit(low) != _unit(high):
        return None
    return a <= b


def _number(v: Any) -> float | None:
    return v if type(v) in (int, float) else None


def _unit(q: dict[str, Any]) -> tuple[Any, Any]:
    return (q.get("system"), q["code"]) if q.get("code") is not None else (None, q.get("unit"))
