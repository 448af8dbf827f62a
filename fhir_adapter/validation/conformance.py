"""Rules for conformance resources that go beyond the StructureDefinitions.

As the official validator does: a CapabilityStatement's search parameter, and a SearchParameter
derived from another, must have the type of the definition they point at (official
search-parameter definitions); a composite SearchParameter needs two or more components; a
SearchParameter's expression must start at one of its bases; and a parameterised ValueSet (HL7
tools extension ``valueset-parameter``) may only use FHIRPath expressions, which must parse and
refer to declared parameters. A profile renames a choice element only after one of its types;
a CodeSystem's supplement, property codes and concept property types are consistent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from fhir_adapter.validation.codes import ABSOLUTE_URI
from fhir_adapter.validation.report import Issue
from fhir_adapter.validation.tables import choice_names, fhir_type, tables


def check(resource: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """Append issues for a CapabilityStatement or SearchParameter; other types are ignored."""
    rt = resource.get("resourceType")
    if rt == "CapabilityStatement":
        _capability(resource, path, issues)
    elif rt == "SearchParameter":
        _search_parameter(resource, path, issues)
    elif rt == "ValueSet":
        _valueset_parameters(resource, path, issues)
        _valueset_systems(resource, path, issues)
    elif rt == "StructureDefinition":
        _profile_paths(resource, path, issues)
    elif rt == "CodeSystem":
        _code_system(resource, path, issues)


def canonical_url(resource: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """A canonical resource's ``url`` must be absolute (fragments aside), as the official
    validator requires, contained resources included."""
    url = resource.get("url")
    if isinstance(url, str) and url and not url.startswith("#") and not ABSOLUTE_URI.match(url):
        issues.append(
            Issue(
                "error",
                "structure",
                f"{path}.url",
                f"canonical URL {url!r} must be an absolute URL",
                "use the full URL, e.g. http://example.org/fhir/ValueSet/my-codes",
                family="structure",
            )
        )


def _valueset_systems(vs: dict[str, Any], path: str, issues: list[Issue]) -> None:
    compose = vs.get("compose")
    if not isinstance(compose, dict):
        return
    for part in ("include", "exclude"):
        items = compose.get(part)
        for i, inc in enumerate(items if isinstance(items, list) else []):
            system = inc.get("system") if isinstance(inc, dict) else None
            if isinstance(system, str) and not ABSOLUTE_URI.match(system):
                issues.append(
                    Issue(
                        "error",
                        "structure",
                        f"{path}.compose.{part}[{i}].system",
                        f"code system {system!r} must be an absolute URI",
                        "use the code system's full url (for a contained one too)",
                        family="structure",
                    )
                )


def _code_system(cs: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """A supplement says so in ``content``; a concept's property refers to a declared property
    (CodeSystem.concept.property.code) and has its declared type (CodeSystem.property.type);
    property codes identify properties, so a repeated one is ambiguous (a warning)."""
    if "supplements" in cs and cs.get("content") not in (None, "supplement"):
        issues.append(
            Issue(
                "error",
                "structure",
                f"{path}.content",
                f"a code system supplement (it has supplements) must have content 'supplement', not {cs.get('content')!r}",
                "set content to supplement",
                family="structure",
            )
        )
    declared: dict[str, str] = {}
    props = cs.get("property")
    for i, prop in enumerate(props if isinstance(props, list) else []):
        code = prop.get("code") if isinstance(prop, dict) else None
        if not isinstance(code, str):
            continue
        if code in declared:
            # a warning: R4's own SNOMED CT code system declares 'Laterality' twice
            issues.append(
                Issue(
                    "warning",
                    "structure",
                    f"{path}.property[{i}].code",
                    f"a property with code {code!r} is already defined: concept properties with this code are ambiguous",
                    "give each property its own code",
                    family="structure",
                )
            )
            continue
        declared[code] = str(prop.get("type"))
    for p, prop in _concept_properties(cs.get("concept"), f"{path}.concept"):
        code = prop.get("code")
        value = next((k[5:] for k in prop if k.startswith("value") and len(k) > 5), None)
        if not isinstance(code, str) or value is None:
            continue
        if code not in declared:
            issues.append(
                Issue(
                    "warning",
                    "structure",
                    f"{p}.code",
                    f"property {code!r} is not declared in CodeSystem.property",
                    "declare it in CodeSystem.property (code, uri, type)",
                    family="structure",
                )
            )
        elif fhir_type(value) != declared[code] and value != declared[code]:
            issues.append(
                Issue(
                    "error",
                    "structure",
                    f"{p}.value{value}",
                    f"property {code!r} is declared with type {declared[code]}, not {fhir_type(value)}",
                    f"use value{declared[code][:1].upper() + declared[code][1:]}",
                    family="structure",
                )
            )


def _concept_properties(concepts: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, property) of every concept's properties, nested concepts included."""
    for i, c in enumerate(concepts if isinstance(concepts, list) else []):
        if not isinstance(c, dict):
            continue
        props = c.get("property")
        for j, prop in enumerate(props if isinstance(props, list) else []):
            if isinstance(prop, dict):
                yield f"{path}[{i}].property[{j}]", prop
        yield from _concept_properties(c.get("concept"), f"{path}[{i}].concept")


def _profile_paths(sd: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """A profile (derivation ``constraint``) of an R4 type may rename a choice element only
    after one of its types: ``Observation.valueQuantity``, not ``Observation.valueBla``.

    Only this is checked: other steps the tables do not hold are passed over (the tables may
    lack elements of some types), so an unknown name is never reported on its own."""
    rtype, types = sd.get("type"), tables()["types"]
    version = sd.get("fhirVersion")
    if (
        sd.get("derivation") != "constraint"
        or not isinstance(rtype, str)
        or rtype not in types
        or (isinstance(version, str) and not version.startswith("4.0"))
    ):
        return
    for part in ("differential", "snapshot"):
        elements = sd.get(part, {}).get("element") if isinstance(sd.get(part), dict) else None
        for i, el in enumerate(elements if isinstance(elements, list) else []):
            p = el.get("path") if isinstance(el, dict) else None
            bad = _bad_choice_step(p, rtype) if isinstance(p, str) else None
            if bad is not None:
                base, allowed = bad
                issues.append(
                    Issue(
                        "error",
                        "structure",
                        f"{path}.{part}.element[{i}].path",
                        f"{p!r} renames {base}[x] after a type it does not have (allowed: {', '.join(allowed)})",
                        f"use {base}[x], or {base} followed by one of its types (e.g. {base}{allowed[0][0].upper()}{allowed[0][1:]})",
                        family="structure",
                    )
                )


def _bad_choice_step(p: str, rtype: str) -> tuple[str, list[str]] | None:
    """(choice element, its types) when a step of element path ``p`` renames a choice after
    a type it does not allow; None otherwise (including paths the tables cannot follow)."""
    steps = p.split(".")
    if steps[0] != rtype:
        return None
    types, tkey = tables()["types"], rtype
    for step in steps[1:]:
        els = types.get(tkey, {}).get("el")
        if els is None:
            return None
        row = els.get(step[:-3] if step.endswith("[x]") else step)
        if row is not None:
            if len(row["types"]) != 1:
                return None
            tkey = row["types"][0]
            continue
        renamed = choice_names(tkey).get(step)
        if renamed is not None:
            tkey = renamed[1]
            continue
        for base, brow in els.items():
            if (
                brow.get("choice")
                and step.startswith(base)
                and step[len(base) : len(base) + 1].isupper()
            ):
                return base, list(brow["types"])
        return None
    return None


def _known_type(url: Any) -> str | None:
    if not isinstance(url, str):
        return None
    known: dict[str, str] = tables().get("search_params", {})
    return known.get(url.split("|", 1)[0])


def _capability(cs: dict[str, Any], path: str, issues: list[Issue]) -> None:
    for i, rest in enumerate(cs.get("rest") or []):
        if not isinstance(rest, dict):
            continue
        for j, res in enumerate(rest.get("resource") or []):
            if not isinstance(res, dict):
                continue
            for k, sp in enumerate(res.get("searchParam") or []):
                if not isinstance(sp, dict):
                    continue
                want = _known_type(sp.get("definition"))
                if want and sp.get("type") and sp["type"] != want:
                    issues.append(
                        Issue(
                            "error",
                            "search-param",
                            f"{path}.rest[{i}].resource[{j}].searchParam[{k}].type",
                            f"type {sp['type']!r} does not match its definition {sp['definition']} (type {want!r})",
                            f"use type {want!r}",
                            family="structure",
                        )
                    )


def _search_parameter(sp: dict[str, Any], path: str, issues: list[Issue]) -> None:
    want = _known_type(sp.get("derivedFrom"))
    if want and sp.get("type") and sp["type"] != want:
        issues.append(
            Issue(
                "error",
                "search-param",
                f"{path}.type",
                f"type {sp['type']!r} differs from the type {want!r} of derivedFrom {sp['derivedFrom']}",
                f"use type {want!r}",
                family="structure",
            )
        )
    _expression_matches_base(sp, path, issues)
    if sp.get("type") == "composite" and len(sp.get("component") or []) < 2:
        issues.append(
            Issue(
                "error",
                "search-param",
                f"{path}.component",
                "a composite SearchParameter must define two or more components",
                "add the components",
                family="structure",
            )
        )


def _expression_matches_base(sp: dict[str, Any], path: str, issues: list[Issue]) -> None:
    """Each ``|``-separated path of the expression must start at one of the base resource types."""
    expr, bases = sp.get("expression"), sp.get("base")
    base = [b for b in bases if isinstance(b, str)] if isinstance(bases, list) else None
    if not isinstance(expr, str) or not base or {"Resource", "DomainResource"} & set(base):
        return  # (a base that is not a string is the primitives layer's finding)
    resources = set(tables()["resources"])
    for part in expr.split("|"):
        head = part.strip().lstrip("(").split(".", 1)[0].strip()
        if head in resources and head not in base:
            issues.append(
                Issue(
                    "error",
                    "search-param",
                    f"{path}.expression",
                    f"the expression starts at {head}, which is not a base of this SearchParameter ({', '.join(base)})",
                    "make base and expression agree",
                    family="structure",
                )
            )
            return


VS_PARAMETER = "http://hl7.org/fhir/tools/StructureDefinition/valueset-parameter"
CQF_EXPRESSION = "http://hl7.org/fhir/StructureDefinition/cqf-expression"


def _expressions(node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(path, Expression) for every cqf-expression extension inside ``node``."""
    if isinstance(node, dict):
        if node.get("url") == CQF_EXPRESSION and isinstance(node.get("valueExpression"), dict):
            yield f"{path}.valueExpression", node["valueExpression"]
        for k, v in node.items():
            yield from _expressions(v, f"{path}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _expressions(v, f"{path}[{i}]")


def _valueset_parameters(vs: dict[str, Any], path: str, issues: list[Issue]) -> None:
    declared = {
        sub.get("valueCode")
        for ext in vs.get("extension") or []
        if isinstance(ext, dict) and ext.get("url") == VS_PARAMETER
        for sub in ext.get("extension") or []
        if isinstance(sub, dict)
        and sub.get("url") == "name"
        and isinstance(sub.get("valueCode"), str)
    }
    if not declared:
        return
    for p, expr in _expressions(vs.get("compose"), f"{path}.compose"):
        text = expr.get("expression")
        if expr.get("language") != "text/fhirpath":
            issues.append(
                Issue(
                    "error",
                    "valueset-parameter",
                    f"{p}.language",
                    f"a ValueSet parameter expression must be 'text/fhirpath', not {expr.get('language')!r}",
                    "use text/fhirpath",
                    family="structure",
                )
            )
            continue
        if not isinstance(text, str):
            continue
        try:
            from fhir_adapter.validation.invariants import check_syntax

            check_syntax(text)
        except Exception:
            issues.append(
                Issue(
                    "error",
                    "valueset-parameter",
                    f"{p}.expression",
                    f"{text!r} is not valid FHIRPath",
                    family="structure",
                )
            )
            continue
        for name in re.findall(r"%([A-Za-z][A-Za-z0-9_-]*)", text):
            if name not in declared:
                issues.append(
                    Issue(
                        "error",
                        "valueset-parameter",
                        f"{p}.expression",
                        f"%{name} is not a declared parameter of this ValueSet",
                        f"declare it with the {VS_PARAMETER} extension",
                        family="structure",
                    )
                )
