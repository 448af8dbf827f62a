"""Checks of Codings and Quantities: code-system URIs, code syntax and check digits, UCUM,
and codes and displays of the HL7 and DICOM code systems the R4 definitions hold completely."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from fhir_adapter import codesystems as cs
from fhir_adapter.validation.report import Issue
from fhir_adapter.validation.tables import displays, ucum_common

ABSOLUTE_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


MIMETYPES = "http://hl7.org/fhir/ValueSet/mimetypes"
_HL7_VALUESETS = ("http://hl7.org/fhir/ValueSet/", "http://terminology.hl7.org/ValueSet/")
# BCP 13 (RFC 6838) media types: a registered top-level type, a subtype, optional parameters.
# Hand-written: the value set is a grammar, not a list the definitions could expand.
_MIME = re.compile(
    r"(application|audio|example|font|haptics|image|message|model|multipart|text|video)"
    r"/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}"
    # parameter values: a quoted string or any run without ';' or spaces (the FHIR spec itself
    # writes canonicalization=http://hl7.org/fhir/canonicalization/json#document unquoted)
    r"""(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"]*"|[^;\s"]+))*""",
    re.ASCII | re.IGNORECASE,
)
#: Elements whose definition allows more than the grammar: CapabilityStatement.format's comment
#: in the R4 definitions allows "xml", "json" and "ttl" besides MIME types.
_GRAMMAR_EXTRAS = {"CapabilityStatement.format": frozenset({"xml", "json", "ttl"})}


def mime_type_ok(value: str) -> bool:
    """Whether ``value`` is a BCP 13 media type such as ``application/pdf; charset=utf-8``."""
    return _MIME.fullmatch(value) is not None


def code_grammar(valueset_url: str, element: str) -> Any:
    """For a required binding to a value set defined by a grammar (not expandable), a check of
    a code for ``element`` (``Type.name``); None when there is none."""
    if valueset_url != MIMETYPES:
        return None
    extras = _GRAMMAR_EXTRAS.get(element, frozenset())
    return lambda v: v in extras or mime_type_ok(v)


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


def check_ucum(code: str, p: str, issues: list[Issue]) -> None:
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


_R4_DEFINED = "http://hl7.org/fhir/"
_SID = "http://hl7.org/fhir/sid/"


def coding_key(c: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(system, code, display) of a Coding whose checks depend only on them, else None."""
    system, code, display = c.get("system"), c.get("code"), c.get("display")
    if type(system) is str and type(code) is str and (display is None or type(display) is str):
        return system, code, display
    return None


def _norm_display(text: str) -> str:
    """A display compared case-insensitively, with runs of whitespace as one space."""
    return " ".join(text.split()).casefold()


def check_coding(c: dict[str, Any], p: str, issues: list[Issue]) -> None:
    """Issues for a Coding: system URI, code syntax and check digits, HL7/DICOM code and display."""
    system, code = c.get("system"), c.get("code")
    if not isinstance(system, str):
        return
    if not ABSOLUTE_URI.match(system):
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
    if system.startswith(_HL7_VALUESETS):
        issues.append(
            Issue(
                "error",
                "code-system",
                f"{p}.system",
                f"{system} is a value set, not a code system",
                "use the URI of the code system the code comes from (the value set's compose.include.system)",
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
        check_ucum(code, p, issues)
    known = displays().get(system)
    if known is not None:
        _known_code(known, system, code, c.get("display"), p, issues)


def _known_code(
    known: dict[str, Any],
    system: str,
    code: str,
    display: Any,
    p: str,
    issues: list[Issue],
) -> None:
    """Code and display against a code system the R4 definitions hold completely (HL7,
    DICOM). An unknown code of a code system that FHIR R4 itself defines (``http://hl7.org/fhir/
    <name>``, version 4.0.1, fixed with R4) is an error, as in the official validator; for
    HL7 terminology (THO), DICOM and the rest, and for displays, only a warning: their newer
    editions may add codes or displays."""
    names = known.get(code)
    if names is None:
        defined_by_r4 = system.startswith(_R4_DEFINED) and not system.startswith(_SID)
        issues.append(
            Issue(
                "error" if defined_by_r4 else "warning",
                "code-unknown",
                f"{p}.code",
                f"{code!r} is not a code of {system}"
                + (
                    " (defined by FHIR R4, version 4.0.1)"
                    if defined_by_r4
                    else " (as published with FHIR R4)"
                ),
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


def check_quantity(q: dict[str, Any], p: str, issues: list[Issue]) -> None:
    """UCUM syntax of a Quantity's code when its system is UCUM."""
    code = q.get("code")
    if q.get("system") == cs.UCUM and isinstance(code, str):
        check_ucum(code, p, issues)
