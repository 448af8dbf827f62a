"""Findings of the base R4 walk: one table of kinds and one factory (as ``profiles.findings`` for
profile findings). Call sites stay one line: ``issues.append(finding("empty_array", path))``."""

from __future__ import annotations

from typing import Any

from fhir_adapter.validation.report import Issue, Severity

#: kind -> (severity, rule, family, message, fix); message and fix are ``str.format`` templates
KINDS: dict[str, tuple[Severity, str, str, str, str | None]] = {
    # JSON shape
    "not_resource_object": ("error", "json", "json", "a resource must be a JSON object, not {got}", None),
    "no_resource_type": ("error", "json", "json", "resource has no resourceType", 'add "resourceType": "<Type>"'),
    "empty_object": ("error", "json", "json", "empty object", "remove it or fill it in"),
    "empty_array": ("error", "json", "json", "empty array", "remove the element"),
    "null": ("error", "json", "json", "null is not allowed in FHIR JSON", "remove the element"),
    "null_gap": ("error", "json", "json", "null here needs a value at the same index of {beside!r} (json.html: null only fills the gaps between a primitive array and its _element array)", "remove the null, or give {beside} an item at this index"),
    # structure and cardinality
    "unknown_resource_type": ("error", "structure", "structure", "unknown resourceType {rt!r}", "use an R4 resource type name"),
    "unknown_element": ("error", "structure", "structure", "unknown element {key!r} in {tkey}", "{fix}"),
    "choice_twice": ("error", "structure", "structure", "only one of {base}[x] may be present (also {other})", "keep one"),
    "choice_suffix": ("error", "structure", "structure", "{key}[x] needs a type suffix, e.g. {example}", None),
    "missing": ("error", "cardinality", "cardinality", "missing required element {name!r} (min {min})", "add {name}"),
    "not_array": ("error", "structure", "structure", "{key} must be an array (max {max})", "wrap the value in [ ]"),
    "too_many": ("error", "cardinality", "cardinality", "{n} items, at most {max} allowed", None),
    "not_single": ("error", "cardinality", "cardinality", "{key} allows one value (max 1), got an array", "use a single value, not [ ]"),
    "not_object": ("error", "structure", "structure", "expected an object, got {got}", None),
    "not_type_object": ("error", "structure", "structure", "expected a {t} object, got {got}", None),
    "not_companion": ("error", "structure", "structure", "{key!r} is not the companion of a primitive element", "remove it"),
    "companion_shape": ("error", "structure", "structure", "{key} must be {shape}, as {name} is", "align the _element companion with its primitive element"),
    "companion_not_object": ("error", "structure", "structure", "a primitive's companion must be an object (id, extension)", None),
    "ele-1": ("error", "ele-1", "invariant", "All FHIR elements must have a @value or children (an id alone is not enough)", "add a value or an extension, or remove the element"),
    # extensions
    "ext_context": ("error", "extension", "structure", "extension {url} is not allowed here (this element is {here}; allowed: {allowed})", "move the extension to an element its definition allows"),
    "ext_value_type": ("error", "extension", "structure", "extension {url} allows value types {allowed}, not {got}", None),
    "ext_unknown": ("warning", "extension", "structure", "extension {url} not checked: its definition is not loaded", "load its IG with --ig (or igs=[...]); a core R4 extension URL may be misspelt"),
    "ext_no_url": ("error", "structure", "structure", "extension has no url", "add the extension's canonical url"),
    "ext-1": ("error", "ext-1", "invariant", "Must have either extensions or value[x], not both", "give the extension exactly one value[x] or nested extensions"),
    # bindings
    "not_mime": ("error", "binding", "binding", "{value!r} is not a MIME type (required value set {name}, BCP 13)", "use type/subtype, e.g. application/pdf or text/plain; charset=utf-8"),
    "code_not_in_vs": ("error", "binding", "binding", "{value!r} is not in the required value set {name}", "use one of: {shown}"),
    "no_required_coding": ("error", "binding", "binding", "no coding from the required value set {name}", "add a coding from {url}"),
    "not_in_extensible": ("warning", "binding", "binding", "code is not in the extensible value set {name} although its system is", "use a code from {url}"),
    "no_code": ("error", "binding", "binding", "no code provided, and a code is required from the value set {url}", "give the element a code from the value set (its own 'unknown'-like code if the value is not known)"),
    "constraint_unchecked": ("information", "invariant-unchecked", "invariant", "constraint {key} not checked: its FHIRPath evaluation failed here ({err})", None),
    # datatype rules
    "rng-2": ("error", "rng-2", "invariant", "If present, low SHALL have a lower value than high", "make low lower than high (in the same unit)"),
    "per-1": ("error", "per-1", "invariant", "If present, start SHALL have a lower value than end", "make start earlier than end, at the same precision"),
    "attachment_size": ("error", "attachment", "structure", "stated size {size} does not match the data's {actual} bytes", "correct size or data"),
}  # fmt: skip


def finding(kind: str, path: str, severity: Severity | None = None, **values: Any) -> Issue:
    """The Issue of ``kind`` at ``path`` (``severity`` overrides the kind's default)."""
    sev, rule, family, message, fix = KINDS[kind]
    return Issue(
        severity or sev,
        rule,
        path,
        message.format(**values) if values else message,
        fix.format(**values) if fix and values else fix,
        family=family,
    )
