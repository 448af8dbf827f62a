"""Profile findings: one table of kinds and one factory. Every finding names the profile
(canonical|version), the element id with its slice, the JSON path (the Issue's path; the line is
added from it) and, where there is one, the fix."""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from fhir_adapter.validation.report import Issue, Severity


class At(NamedTuple):
    """Where a finding is: profile label, element id (with slices), JSON path."""

    prof: str
    eid: str
    path: str


#: kind -> (severity, rule, family, message, fix); message and fix are ``str.format`` templates
KINDS: dict[str, tuple[Severity, str, str, str, str | None]] = {
    "too_few": ("error", "profile-cardinality", "cardinality", "{n} value(s), the profile requires at least {lo}{why}", "add {name}"),
    "too_many": ("error", "profile-cardinality", "cardinality", "{n} value(s), the profile allows at most {hi}", "remove the extra values"),
    "forbidden": ("error", "profile-cardinality", "cardinality", "{n} value(s), the profile allows none", "remove it: the profile forbids it"),
    "wrong_type": ("error", "profile-type", "structure", "type {got} is not allowed by the profile (allowed: {allowed})", "use one of: {allowed}"),
    "not_fixed": ("error", "profile-fixed", "structure", "value must be exactly {want} (fixed by the profile)", "set it to {want}"),
    "not_pattern": ("error", "profile-pattern", "structure", "value does not match the profile's pattern {want}", "include {want}"),
    "too_long": ("error", "profile-maxlength", "primitive", "{n} characters, the profile allows at most {hi}", "shorten it to {hi} characters"),
    "not_in_vs": ("error", "profile-binding", "binding", "{shown} is not in the required value set {url}", "use a code from {url}"),
    "not_in_extensible": ("warning", "profile-binding", "binding", "{shown} is not in the extensible value set {url}", "use a code from {url} where one fits"),
    "no_code": ("error", "profile-binding", "binding", "no code given, and the required value set {url} needs one", "add a coding from {url}"),
    "undecided": ("warning", "terminology-unchecked", "binding", "cannot decide offline whether {shown} is in value set {url}: {why}", "check it with a terminology server, or accept it (--strict-terminology makes this an error)"),
    "no_slice": ("error", "profile-slicing", "structure", "closed slicing: this value matches no slice", "make it match one of the profile's slices, or remove it"),
    "not_at_end": ("error", "profile-slicing", "structure", "open-at-end slicing: values that match no slice must come last", "move it after the values of the profile's slices"),
    "out_of_order": ("error", "profile-slicing", "structure", "slice {slice} is out of order (ordered slicing)", "put the values in the order of the profile's slices"),
    "slice_unresolved": ("information", "profile-unchecked", "structure", "{n} value(s) not assigned to a slice: the references the slicing follows do not resolve inside the bundle", "validate the whole bundle to check them"),
    "slice_unmatchable": ("information", "profile-unchecked", "structure", "slice not checked: {why}", None),
    "bad_target": ("error", "profile-target", "reference", "the referenced {got} does not conform to any allowed target ({allowed})", "reference a resource that conforms to one of them"),
    "not_conformant": ("error", "profile-type", "structure", "value does not conform to {urls}: {first}", "fix the value so it conforms to the type's profile"),
    "constraint_failed": ("information", "profile-unchecked", "invariant", "constraint {key} could not be evaluated offline: {err}", None),
    "must_support": ("information", "must-support", "structure", "must-support element is empty", "populate it when the data exists (an obligation, not an error)"),
}  # fmt: skip


def finding(kind: str, at: At, severity: Severity | None = None, **values: Any) -> Issue:
    """The Issue of ``kind`` at ``at`` (``severity`` overrides the kind's default)."""
    sev, rule, family, message, fix = KINDS[kind]
    values.setdefault("name", at.eid.rsplit(".", 1)[-1])
    values.setdefault("why", "")
    text = f"{message.format(**values)} [profile {at.prof}, element {at.eid}]"
    return Issue(
        severity or sev, rule, at.path, text, fix.format(**values) if fix else None, family=family
    )


def constraint(severity: str, key: str, at: At, human: str, expression: str) -> Issue:
    """A profile constraint (FHIRPath) that does not hold: its own key, text and expression."""
    sev: Severity = "error" if severity == "error" else "warning"
    text = f"{human} [profile {at.prof}, element {at.eid}]"
    return Issue(
        sev, key, at.path, text, f"make it satisfy {key}: {expression}", family="invariant"
    )


def wrong_resource_type(path: str, url: str, rtype: str, ptype: str) -> Issue:
    """A resource claiming (or asked to meet) a profile of another resource type."""
    return Issue("error", "profile-type", path, f"profile {url} is for {ptype} resources, not {rtype}", f"remove the claim, or use a {rtype} profile", family="structure")  # fmt: skip


def claim_not_loaded(path: str, url: str) -> Issue:
    """A meta.profile claim that was not checked."""
    return Issue("warning", "profile-not-loaded", f"{path}.meta.profile", f"profile {url} is claimed in meta.profile but was not checked: it is not loaded", "load its IG with --ig (or igs=[...])", family="structure")  # fmt: skip


def show(v: object) -> str:
    """A value as short JSON for messages."""
    text = json.dumps(v, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."
