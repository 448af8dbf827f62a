"""Slicing: which slice each repetition of a sliced element belongs to, and the slicing rules.

Discriminators were resolved by the generator into per-slice criteria (``match``): ``fixed``
(exact value at the path), ``pattern`` (partial match), ``in`` (required value set), ``exists`` /
``empty``, ``type`` (the value's type, or a resource's type) and ``profile`` (the value, or the
resource a reference resolves to inside the bundle, conforms to one of the profiles). A value
belongs to a slice when every criterion holds (as HL7's validator and Medplum do); criteria the
generator could not resolve make the slice unmatchable, which is reported once per profile.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fhir_adapter.validation.tables import fhir_type

_EXT_FN = re.compile(r"""^extension\(['"]([^'"]+)['"]\)$""")
_OF_TYPE = re.compile(r"^ofType\(([A-Za-z]+)\)$")


def values_at(
    item: Any, path: str, resolve: Callable[[dict[str, Any]], Any], lost: list[int] | None = None
) -> list[Any]:
    """The values a discriminator path selects from ``item`` (a FHIRPath subset: names,
    ``$this``, ``resolve()``, ``extension('url')``, ``ofType(T)``). A reference that does not
    resolve inside the bundle is counted in ``lost``."""
    current = [item]
    if path in ("", "$this"):
        return current
    for seg in path.split("."):
        if seg == "$this":
            continue
        nxt: list[Any] = []
        if seg == "resolve()":
            for v in current:
                if isinstance(v, dict):
                    target = resolve(v)
                    if target is not None:
                        nxt.append(target)
                    elif lost is not None:
                        lost.append(1)
        elif (m := _EXT_FN.match(seg)) is not None:
            for v in current:
                if isinstance(v, dict):
                    nxt.extend(
                        e
                        for e in _list(v.get("extension"))
                        if isinstance(e, dict) and e.get("url") == m.group(1)
                    )
        elif (m := _OF_TYPE.match(seg)) is not None:
            nxt = [v for v in current if type_of(v, m.group(1))]
        else:
            name = seg.removesuffix("[x]")
            for v in current:
                if not isinstance(v, dict):
                    continue
                got = v.get(name)
                if got is None:
                    got = next(
                        (
                            v[k]
                            for k in v
                            if k.startswith(name) and k[len(name) : len(name) + 1].isupper()
                        ),
                        None,
                    )
                if isinstance(got, list):
                    nxt.extend(got)
                elif got is not None:
                    nxt.append(got)
        current = nxt
    return current


def _list(v: Any) -> list[Any]:
    """A JSON array, or nothing when the value is not one (the structure layer reports that)."""
    return v if isinstance(v, list) else []


def choice_types(item: Any, path: str, resolve: Callable[[dict[str, Any]], Any]) -> list[str]:
    """The FHIR types of the choice element a path ends in (``value`` -> ``Quantity``,
    ``valueString`` -> ``string``)."""
    head, _, last = path.rpartition(".")
    last = last.removesuffix("[x]")
    out: list[str] = []
    for v in values_at(item, head, resolve) if head else [item]:
        if isinstance(v, dict):
            out.extend(
                fhir_type(k[len(last) :])
                for k in v
                if k.startswith(last) and k[len(last) : len(last) + 1].isupper()
            )
    return out


def type_of(value: Any, t: str) -> bool:
    """Whether a JSON value can be of FHIR type ``t`` (resources by resourceType)."""
    if isinstance(value, dict) and "resourceType" in value:
        return bool(value["resourceType"] == t)
    return True


def pattern_matches(pattern: Any, value: Any) -> bool:
    """FHIR pattern[x]: every property in the pattern is in the value with a matching value;
    every array item of the pattern matches some item of the value's array."""
    if isinstance(pattern, dict):
        if not isinstance(value, dict):
            return False
        return all(pattern_matches(v, value.get(k)) for k, v in pattern.items())
    if isinstance(pattern, list):
        if not isinstance(value, list):
            value = [value] if value is not None else []
        return all(any(pattern_matches(p, v) for v in value) for p in pattern)
    if isinstance(pattern, (int, float)) and not isinstance(pattern, bool):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value == pattern
    return bool(pattern == value)


def fixed_matches(fixed: Any, value: Any) -> bool:
    """FHIR fixed[x]: the value equals the fixed value exactly (no extra properties)."""
    if isinstance(fixed, dict):
        return (
            isinstance(value, dict)
            and set(fixed) == set(value)
            and all(fixed_matches(v, value[k]) for k, v in fixed.items())
        )
    if isinstance(fixed, list):
        return (
            isinstance(value, list)
            and len(fixed) == len(value)
            and all(fixed_matches(a, b) for a, b in zip(fixed, value, strict=True))
        )
    return pattern_matches(fixed, value)


class Matcher:
    """Evaluates a slice's criteria on one value."""

    def __init__(
        self,
        resolve: Callable[[dict[str, Any]], Any],
        conforms: Callable[[Any, str], bool],
        member: Callable[[str, Any], bool | None],
    ) -> None:
        self.resolve = resolve
        self.conforms = conforms
        self.member = member

    def matches(
        self, item: Any, criteria: list[list[Any]], choice_type: str | None = None
    ) -> bool | None:
        """True when ``item`` satisfies every criterion of a slice, False when one fails, None
        when that cannot be decided (a reference the criteria follow does not resolve)."""
        undecided = False
        for kind, path, arg in criteria:
            if (
                kind == "type"
                and path in ("$this", "value", "value[x]")
                and choice_type is not None
            ):
                if choice_type not in arg:
                    return False
                continue
            if kind == "type" and not path.endswith(("resolve()", "resource")):
                if not any(t in arg for t in choice_types(item, path, self.resolve)):
                    return False
                continue
            lost: list[int] = []
            values = values_at(item, path, self.resolve, lost)
            ok = self._holds(kind, arg, values)
            if ok is False and lost:
                undecided = True
            elif not ok:
                return False
        return None if undecided else True

    def _holds(self, kind: str, arg: Any, values: list[Any]) -> bool | None:
        if kind == "fixed":
            return any(fixed_matches(arg, v) for v in values)
        if kind == "pattern":
            return any(pattern_matches(arg, v) for v in values)
        if kind == "exists":
            return bool(values)
        if kind == "empty":
            return not values
        if kind == "in":
            return any(self.member(arg, v) for v in values)
        if kind == "type":
            return any(isinstance(v, dict) and v.get("resourceType") in arg for v in values)
        if kind == "profile":
            return any(self.conforms(v, url) for v in values for url in arg)
        return False
