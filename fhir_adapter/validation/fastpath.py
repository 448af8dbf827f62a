"""Exact shortcuts for the simplest FHIRPath constraint shapes, so the engine runs less often.

Most R4 constraints are Boolean combinations of plain element paths tested with ``exists()`` or
``empty()`` (``code.empty() or system.exists()``, ``period.empty() or periodUnit.exists()``).
For those this module decides the result by walking the JSON directly. For longer expressions
``A or REST`` / ``A implies REST`` whose leading term ``A`` is simple, it decides the result when
``A`` alone does (true for ``or``, false for ``implies``) and otherwise defers to the engine.
Only this small subset is handled; ``tests/validation/test_fastpath.py`` checks it agrees with
fhirpathpy. Anything else returns None (= run the engine).
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
    from fhir_adapter.validation.tables import tables

    t = tables()
    names = set(t["primitives"]) | {k for k, v in t["types"].items() if v["kind"] == "complex-type"}
    return frozenset(n[0].upper() + n[1:] for n in names)


def _values(node: Any, names: list[str]) -> list[Any]:
    items = [node]
    for name in names:
        nxt: list[Any] = []
        for it in items:
            if not isinstance(it, dict):
                continue
            keys = (
                [name]
                if name in it
                else [k for k in it if k.startswith(name) and k[len(name) :] in _type_suffixes()]
            )
            for k in keys:
                v = it[k]
                if isinstance(v, list):
                    nxt.extend(x for x in v if x is not None)
                elif v is not None:
                    nxt.append(v)
        items = nxt
        if not items:
            break
    return items


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


def _term(text: str) -> Decider | None:
    m = _TERM.match(text)
    if not m:
        return None
    names = [n.strip("`") for n in m.group(1).split(".")]
    want_exists = m.group(2) == "exists"

    def decide(node: Any) -> bool:
        return bool(_values(node, names)) == want_exists

    return decide


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
    return lambda node: True if not _values(node, names) else None


def compile_fast(expr: str) -> Decider | None:
    """A function deciding ``expr`` on a node (True/False), or None if not decidable here."""
    expr = expr.strip()
    for op in ("or", "and"):
        parts = _split(expr, op)
        if len(parts) > 1:
            terms = [_term(p) for p in parts]
            if all(terms):
                fs = [t for t in terms if t]
                if op == "or":
                    return lambda node: any(f(node) for f in fs)
                return lambda node: all(f(node) for f in fs)
            first = terms[0]
            if op == "or":
                # any term decided true makes the whole disjunction true
                deciders = [t or _empty_if_absent(p) for t, p in zip(terms, parts, strict=True)]
                known = [d for d in deciders if d is not None]
                if known:
                    return lambda node: True if any(d(node) for d in known) else None
                return None
            if first is not None and op == "and":
                return lambda node: False if not first(node) else None
            return None
    parts = _split(expr, "implies")
    if len(parts) == 2:
        a, b = _term(parts[0]), _term(parts[1])
        if a is not None and b is not None:
            return lambda node: (not a(node)) or b(node)
        if a is not None:
            return lambda node: True if not a(node) else None
        return None
    single = _term(expr)
    return single
