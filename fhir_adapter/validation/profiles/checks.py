"""Profile findings: one-line factories, each naming the profile (canonical|version), the element
id with its slice, the JSON path (the Issue's path; the line is added from it) and the fix."""

from __future__ import annotations

from fhir_adapter.validation.report import Issue, Severity


def _at(prof: str, eid: str, msg: str) -> str:
    return f"{msg} [profile {prof}, element {eid}]"


def finding(
    sev: Severity, rule: str, family: str, prof: str, eid: str, path: str, msg: str, fix: str | None
) -> Issue:
    """Any profile finding."""
    return Issue(sev, rule, path, _at(prof, eid, msg), fix, family=family)


def too_few(prof: str, eid: str, path: str, n: int, lo: int, why: str = "") -> Issue:
    return finding(
        "error",
        "profile-cardinality",
        "cardinality",
        prof,
        eid,
        path,
        f"{n} value(s), the profile requires at least {lo}" + (f" ({why})" if why else ""),
        f"add {eid.rsplit('.', 1)[-1]}",
    )


def too_many(prof: str, eid: str, path: str, n: int, hi: int) -> Issue:
    return finding(
        "error",
        "profile-cardinality",
        "cardinality",
        prof,
        eid,
        path,
        f"{n} value(s), the profile allows at most {hi}",
        "remove the extra values" if hi else "remove it: the profile forbids it",
    )


def wrong_type(prof: str, eid: str, path: str, got: str, allowed: list[str]) -> Issue:
    return finding(
        "error",
        "profile-type",
        "structure",
        prof,
        eid,
        path,
        f"type {got} is not allowed by the profile (allowed: {', '.join(allowed)})",
        f"use one of: {', '.join(allowed)}",
    )


def not_fixed(prof: str, eid: str, path: str, want: object) -> Issue:
    return finding(
        "error",
        "profile-fixed",
        "structure",
        prof,
        eid,
        path,
        f"value must be exactly {_show(want)} (fixed by the profile)",
        f"set it to {_show(want)}",
    )


def not_pattern(prof: str, eid: str, path: str, want: object) -> Issue:
    return finding(
        "error",
        "profile-pattern",
        "structure",
        prof,
        eid,
        path,
        f"value does not match the profile's pattern {_show(want)}",
        f"include {_show(want)}",
    )


def too_long(prof: str, eid: str, path: str, n: int, hi: int) -> Issue:
    return finding(
        "error",
        "profile-maxlength",
        "primitive",
        prof,
        eid,
        path,
        f"{n} characters, the profile allows at most {hi}",
        f"shorten it to {hi} characters",
    )


def not_in_vs(
    sev: Severity, prof: str, eid: str, path: str, strength: str, url: str, shown: str
) -> Issue:
    return finding(
        sev,
        "profile-binding",
        "binding",
        prof,
        eid,
        path,
        f"{shown} is not in the {strength} value set {url}",
        f"use a code from {url}",
    )


def no_code(prof: str, eid: str, path: str, url: str) -> Issue:
    return finding(
        "error",
        "profile-binding",
        "binding",
        prof,
        eid,
        path,
        f"no code given, and the required value set {url} needs one",
        f"add a coding from {url}",
    )


def undecided(
    sev: Severity, prof: str, eid: str, path: str, url: str, shown: str, why: str
) -> Issue:
    return finding(
        sev,
        "terminology-unchecked",
        "binding",
        prof,
        eid,
        path,
        f"cannot decide offline whether {shown} is in value set {url}: {why}",
        "check it with a terminology server, or accept it (--strict-terminology makes this an error)",
    )


def no_slice(prof: str, eid: str, path: str, closed: bool) -> Issue:
    what = (
        "closed slicing: this value matches no slice"
        if closed
        else "open-at-end slicing: values that match no slice must come last"
    )
    return finding(
        "error",
        "profile-slicing",
        "structure",
        prof,
        eid,
        path,
        what,
        "make it match one of the profile's slices, or remove it",
    )


def slice_unresolved(prof: str, eid: str, path: str, n: int) -> Issue:
    return finding(
        "information",
        "profile-unchecked",
        "structure",
        prof,
        eid,
        path,
        f"{n} value(s) not assigned to a slice: the references the slicing follows do not resolve inside the bundle",
        "validate the whole bundle to check them",
    )


def out_of_order(prof: str, eid: str, path: str, slice_name: str) -> Issue:
    return finding(
        "error",
        "profile-slicing",
        "structure",
        prof,
        eid,
        path,
        f"slice {slice_name} is out of order (ordered slicing)",
        "put the values in the order of the profile's slices",
    )


def slice_unmatchable(prof: str, eid: str, path: str, why: str) -> Issue:
    return finding(
        "information",
        "profile-unchecked",
        "structure",
        prof,
        eid,
        path,
        f"slice not checked: {why}",
        None,
    )


def bad_target(prof: str, eid: str, path: str, got: str, allowed: list[str]) -> Issue:
    return finding(
        "error",
        "profile-target",
        "reference",
        prof,
        eid,
        path,
        f"the referenced {got} does not conform to any allowed target ({', '.join(allowed)})",
        "reference a resource that conforms to one of them",
    )


def not_conformant(prof: str, eid: str, path: str, urls: list[str], first: str) -> Issue:
    return finding(
        "error",
        "profile-type",
        "structure",
        prof,
        eid,
        path,
        f"value does not conform to {' or '.join(urls)}: {first}",
        "fix the value so it conforms to the type's profile",
    )


def constraint(sev: str, key: str, prof: str, eid: str, path: str, human: str) -> Issue:
    return finding(
        "error" if sev == "error" else "warning", key, "invariant", prof, eid, path, human, None
    )


def constraint_failed(prof: str, eid: str, path: str, key: str, err: str) -> Issue:
    return finding(
        "information",
        "profile-unchecked",
        "invariant",
        prof,
        eid,
        path,
        f"constraint {key} could not be evaluated offline: {err}",
        None,
    )


def must_support(prof: str, eid: str, path: str) -> Issue:
    return finding(
        "information",
        "must-support",
        "structure",
        prof,
        eid,
        path,
        "must-support element is empty",
        "populate it when the data exists (an obligation, not an error)",
    )


def claim_not_loaded(path: str, url: str) -> Issue:
    return Issue(
        "warning",
        "profile-not-loaded",
        f"{path}.meta.profile",
        f"profile {url} is claimed in meta.profile but was not checked: it is not loaded",
        "load its IG with --ig (or igs=[...])",
        family="structure",
    )


def _show(v: object) -> str:
    import json

    text = json.dumps(v, separators=(",", ":"))
    return text if len(text) <= 120 else text[:117] + "..."
