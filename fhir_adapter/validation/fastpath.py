"""Exact shortcuts for the simplest FHIRPath constraint shapes, so the engine runs less often.

Most R4 constraints are Boolean combinations (``or``, ``and``, ``implies``) of a few term shapes
on plain element paths: ``path.exists()``, ``path.empty()``, ``path.where(a='x' and b='y')
.empty()`` and comparisons of a path with a literal (``period >= 0``, ``type = 'document'``).
Each term is decided on the JSON directly as True, False or "unknown" (a comparison on an absent,
repeated or differently typed value); the combination is decided with three-valued logic and
whatever stays unknown goes to the engine. ``tests/validation/test_fastpath.py`` checks every
decision against fhirpathpy. Anything else returns None (= run the engine).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

_PATH = r"[A-Za-z_][A-Za-z0-9_]*(?:\.`?[A-Za-z_][A-Za-z0-9_]*`?)*"
_TERM = re.compile(rf"^\(?\s*({_PATH})\.(exists|empty)\(\)\s*\)?$")
Decider = Callable[[Any], "bool | None"]


@cache
def _type_suffixes() -> frozenset[str]:
    """Capitalised FHIR type names: the suffixes a choice element's JSON name can carry."""
    from fhir_adapter.validation.tables import suffix_types

    return frozenset(suffix_types())


@cache
def _choice_bases() -> frozenset[str]:
    """Names of choice elements (``value`` of ``value[x]``) in any R4 type."""
    from fhir_adapter.validation.tables import tables

    return frozenset(
        name
        for t in tables()["types"].values()
        for name, row in t["el"].items()
        if row.get("choice")
    )


_CAMEL = re.compile(r"(?=[A-Z])")


_NAMES_CACHE: dict[tuple[str, ...], frozenset[str]] = {}


def fhirpath_names(node: dict[str, Any]) -> frozenset[str]:
    """``_names_of`` for a node, cached by its key sequence (nodes of one type repeat it)."""
    keys = tuple(node)
    got = _NAMES_CACHE.get(keys)
    if got is None:
        if len(_NAMES_CACHE) > 50_000:
            _NAMES_CACHE.clear()
        got = _NAMES_CACHE[keys] = _names_of(keys)
    return got


def _names_of(keys: tuple[str, ...]) -> frozenset[str]:
    """The FHIRPath names a JSON object's keys may stand for.

    ``valueQuantity`` is ``value`` in FHIRPath and ``_status`` carries ``status``; every camel-case
    prefix is included, which can only make the skip test more conservative, never wrong.
    """
    out = set()
    for k in keys:
        k = k.lstrip("_")
        out.add(k)
        for m in _CAMEL.finditer(k):
            if m.start():
                out.add(k[: m.start()])
    return frozenset(out)


@cache
def _choice_json_names(name: str) -> frozenset[str]:
    """The JSON names a choice element can take (``valueQuantity``, ``valueString``, ...)."""
    return frozenset(name + suffix for suffix in _type_suffixes())


def _values(node: Any, names: list[str]) -> list[Any]:
    """The JSON values a plain FHIRPath path reaches from ``node`` (nulls dropped)."""
    choice_bases = _choice_bases()
    items = [node]
    for name in names:
        nxt: list[Any] = []
        for it in items:
            if type(it) is not dict:
                continue
            v = it.get(name)
            if v is None:
                if name not in choice_bases:
                    continue
                json_names = _choice_json_names(name)
                vs = [it[k] for k in it if k in json_names]
            else:
                vs = [v]
            for v in vs:
                if type(v) is list:
                    nxt.extend(v if None not in v else [x for x in v if x is not None])
                elif v is not None:
                    nxt.append(v)
        items = nxt
        if not items:
            break
    return items


def _has(node: Any, names: list[str], i: int) -> bool:
    """``bool(_values(node, names[i:]))``, stopping at the first value found."""
    if i == len(names):
        return True
    if type(node) is not dict:
        return False
    name = names[i]
    v = node.get(name)
    if v is None:
        last = i == len(names) - 1
        if last and "_" + name in node:
            return True  # a primitive with only an id or extensions exists in FHIRPath
        if name not in _choice_bases():
            return False
        json_names = _choice_json_names(name)  # value[x]: valueQuantity, valueString, ...
        for k in node:
            if k in json_names and _has_value(node[k], names, i):
                return True
            if last and k[0] == "_" and k[1:] in json_names:
                return True
        return False
    return _has_value(v, names, i)


def _has_value(v: Any, names: list[str], i: int) -> bool:
    """Whether JSON value ``v`` (an element or array of them) has ``names[i + 1:]``."""
    if type(v) is list:
        for x in v:  # noqa: SIM110 - faster than any(genexpr)
            if x is not None and _has(x, names, i + 1):
                return True
        return False
    return v is not None and _has(v, names, i + 1)


def _split(expr: str, op: str) -> list[str]:
    """Split at top-level occurrences of `` op `` (outside parentheses and quotes)."""
    parts, depth, quote, start, i = [], 0, False, 0, 0
    token = f" {op} "
    while i < len(expr):
        ch = expr[i]
        if ch == "'":
            quote = not quote
        elif not quote and ch == "(":
            depth += 1
        elif not quote and ch == ")":
            depth -= 1
        elif not quote and depth == 0 and expr.startswith(token, i):
            parts.append(expr[start:i])
            i += len(token)
            start = i
            continue
        i += 1
    parts.append(expr[start:])
    return [p.strip() for p in parts]


_COMPARE = re.compile(
    rf"^\(?\s*({_PATH})\s*(=|!=|>=|<=|>|<)\s*('[^'\\]*'|-?[0-9]+(?:\.[0-9]+)?)\s*\)?$"
)
_WHERE = re.compile(
    rf"^\(?\s*({_PATH})\.where\(((?:\s*[A-Za-z]+\s*=\s*'[^'\\]*'\s*(?:and|$|(?=\))))+)\)"
    r"\.(exists|empty)\(\)\s*\)?$"
)
_CRITERION = re.compile(r"([A-Za-z]+)\s*=\s*'([^'\\]*)'")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def _names(path: str) -> list[str]:
    return [n.strip("`") for n in path.split(".")]


def _compare(m: re.Match[str]) -> Decider:
    names, op, lit = _names(m.group(1)), _OPS[m.group(2)], m.group(3)
    if lit.startswith("'"):
        text = lit[1:-1]
        if op not in (_OPS["="], _OPS["!="]):
            return lambda node: None
        # Only code-like strings are decided: a date, time or number-like string may be typed
        # differently by the engine (dates compare by precision, not text).
        code_like = re.compile(r"[A-Za-z][A-Za-z0-9\-]*")

        def decide_text(node: Any) -> bool | None:
            vals = _values(node, names)
            if len(vals) != 1 or type(vals[0]) is not str or not code_like.fullmatch(vals[0]):
                return None
            return op(vals[0], text)

        return decide_text
    number = float(lit)

    def decide_number(node: Any) -> bool | None:
        vals = _values(node, names)
        if len(vals) != 1 or type(vals[0]) not in (int, float):
            return None
        return op(vals[0], number)

    return decide_number


def _where(m: re.Match[str]) -> Decider:
    names = _names(m.group(1))
    criteria = _CRITERION.findall(m.group(2))
    want_exists = m.group(3) == "exists"

    def decide(node: Any) -> bool | None:
        hits = 0
        for item in _values(node, names):
            if not isinstance(item, dict):
                return None
            values = [item.get(k) for k, _ in criteria]
            if any(v is not None and type(v) is not str for v in values):
                return None
            hits += all(v == lit for v, (_, lit) in zip(values, criteria, strict=True))
        return (hits > 0) == want_exists

    return decide


def _term(text: str) -> Decider | None:
    m = _TERM.match(text)
    if m:
        names = _names(m.group(1))
        want_exists = m.group(2) == "exists"

        def decide(node: Any) -> bool:
            return _has(node, names, 0) == want_exists

        return decide
    m = _WHERE.match(text)
    if m and len(_CRITERION.findall(m.group(2))) == m.group(2).count("="):
        return _where(m)
    m = _COMPARE.match(text)
    if m:
        return _compare(m)
    return None


def _is_chain(text: str) -> bool:
    """A single invocation chain: no whitespace or operator outside parentheses and quotes."""
    depth, quote = 0, False
    for ch in text:
        if ch == "'":
            quote = not quote
        elif quote:
            continue
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif depth == 0 and (ch.isspace() or ch in "|=<>!+-*/&~"):
            return False
    return depth == 0 and not quote


def _empty_if_absent(text: str) -> Decider | None:
    """For ``name.<chain>.empty()``: True when ``name`` is absent (the chain is then empty)."""
    m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\.", text)
    if not m or not text.endswith(".empty()") or not _is_chain(text):
        return None
    names = [m.group(1)]
    return lambda node: True if not _has(node, names, 0) else None


def _any(ds: list[Decider]) -> Decider:
    """Three-valued ``or``: True if any is True, False if all are False, else unknown."""

    def decide(node: Any) -> bool | None:
        unknown = False
        for d in ds:
            r = d(node)
            if r:
                return True
            unknown = unknown or r is None
        return None if unknown else False

    return decide


def _all(ds: list[Decider]) -> Decider:
    """Three-valued ``and``: False if any is False, True if all are True, else unknown."""

    def decide(node: Any) -> bool | None:
        unknown = False
        for d in ds:
            r = d(node)
            if r is False:
                return False
            unknown = unknown or r is None
        return None if unknown else True

    return decide


def _grouped(text: str) -> Decider | None:
    """A parenthesised ``or`` / ``and`` combination as one side of ``implies`` (US Core's
    ``(status='a' or status='b') implies ...``, vital signs' ``(x.empty() and y.empty())``)."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        return None
    inner = text[1:-1]
    depth = 0
    for ch in inner:  # the outer parentheses must enclose the whole text
        depth += (ch == "(") - (ch == ")")
        if depth < 0:
            return None
    return compile_fast(inner) if depth == 0 else None


def compile_fast(expr: str) -> Decider | None:
    """A function deciding ``expr`` on a node (True/False/None = unknown), or None if the
    expression has no decidable shape."""
    expr = expr.strip()
    for op in ("or", "and"):
        parts = _split(expr, op)
        if len(parts) > 1:
            terms = [_term(p) for p in parts]
            if op == "or":
                # undecidable parts can still be shown empty (True) when their focus is absent
                deciders = [t or _empty_if_absent(p) for t, p in zip(terms, parts, strict=True)]
                known = [d for d in deciders if d is not None]
                if len(known) == len(parts) and all(terms):
                    return _any(known)
                if known:
                    some = _any(known)
                    return lambda node: True if some(node) else None
                return None
            if all(terms):
                return _all([t for t in terms if t])
            first = terms[0]
            if first is not None:
                return lambda node: False if first(node) is False else None
            return None
    parts = _split(expr, "implies")
    if len(parts) == 2:
        a = _term(parts[0]) or _grouped(parts[0])
        b = _term(parts[1]) or _grouped(parts[1])
        if a is None:
            return None

        def implies(node: Any) -> bool | None:
            ra = a(node)
            if ra is False:
                return True
            if ra is None or b is None:
                return None
            rb = b(node)
            # true implies X = X; an unknown consequent stays unknown
            return rb

        return implies
    return _term(expr)
