"""FHIR primitive values: the R4 regexes, ranges and limits, and quick accept checks.

``check_primitive`` reports every problem of a value; ``fast_primitive`` / ``fast_element`` /
``fast_list`` build checks that return True only for values ``check_primitive`` passes silently,
so the walker can skip the detailed path for the common, valid case.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from fhir_adapter.validation.report import Issue
from fhir_adapter.validation.tables import tables

INT_RANGE = {
    "integer": (-(2**31), 2**31 - 1),
    "unsignedInt": (0, 2**31 - 1),
    "positiveInt": (1, 2**31 - 1),
}


_HTML_TAG = re.compile(r"<[A-Za-z][A-Za-z0-9]*(\s[^<>]*)?/?>")


MAX_STRING = 1024 * 1024


@cache
def regex(type_name: str) -> re.Pattern[str] | None:
    """The compiled R4 regex of a primitive type (None if it has none)."""
    rx = tables()["primitives"][type_name]["regex"]
    # The spec's regexes follow Java/XML Schema, where \s is ASCII whitespace: a no-break
    # space inside a string is content, not whitespace.
    return re.compile(rx, re.ASCII) if rx else None


@cache
def real_date(ymd: str) -> bool:
    """Whether ``YYYY-MM-DD`` is a day of the calendar."""
    try:
        _dt.date.fromisoformat(ymd)
    except ValueError:
        return False
    return True


def jtype_name(v: Any) -> str:
    """How a JSON value's type reads in a message ("a string", "an array", ...)."""
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


@cache
def fast_primitive(t: str, jtype: str) -> Callable[[Any], bool]:
    """True only for a value of primitive type ``t`` that ``Walker._primitive`` passes silently."""
    if jtype == "boolean":
        return lambda v: v is True or v is False
    if jtype == "integer":
        lo, hi = INT_RANGE[t]
        return lambda v: type(v) is int and lo <= v <= hi
    if jtype == "number":
        return lambda v: type(v) is int or type(v) is float
    rx = regex(t)
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
                    and (len(v) < 10 or real_date(v[:10]))
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
            and not (dates and len(v) >= 10 and not real_date(v[:10]))
        )

    return ok


def fast_element(
    t: str, jtype: str, max_: int, allowed: Callable[[Any], bool] | None
) -> Callable[[Any], bool]:
    """``fast_primitive`` for a whole element: cardinality, JSON shape and, for a required
    binding, ``allowed`` (the code is in the value set or matches its grammar)."""
    one = fast_primitive(t, jtype)
    if allowed is not None:
        prim = one

        def one(v: Any) -> bool:
            return prim(v) and allowed(v)

    return one if max_ == 1 else fast_list(one, max_)


def fast_list(one: Callable[[Any], bool], max_: int) -> Callable[[Any], bool]:
    """A fast accept check for a repeating element whose items ``one`` accepts."""

    def ok(v: Any) -> bool:
        if type(v) is not list or not v or (max_ >= 0 and len(v) > max_):
            return False
        for x in v:  # noqa: SIM110 - faster than all(genexpr); runs for most arrays
            if x is None or not one(x):
                return False
        return True

    return ok


def check_primitive(v: Any, t: str, jtype: str, p: str, issues: list[Issue]) -> None:
    """Issues for a value of primitive type ``t`` (JSON type ``jtype``) at path ``p``."""
    if jtype == "boolean":
        if not isinstance(v, bool):
            issues.append(
                Issue(
                    "error",
                    "primitive",
                    p,
                    f"{t} must be true or false, got {jtype_name(v)}",
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
                    f"{t} must be a JSON integer, got {jtype_name(v)}",
                    family="primitive",
                )
            )
            return
        lo, hi = INT_RANGE[t]
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
                    f"{t} must be a JSON number, got {jtype_name(v)}",
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
                f"{t} must be a JSON string, got {jtype_name(v)}",
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
    rx = regex(t)
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
    elif t in ("date", "dateTime", "instant") and len(v) >= 10 and not real_date(v[:10]):
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
