"""Walks over JSON trees that never recurse (a hostile or broken input can nest thousands of
levels deep): references, reference rewriting, and read-back differences. How deep a bundle
may nest is the validator's rule (:func:`fhir_adapter.validation.jsontext.too_deep`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any


def references(node: Any) -> Iterator[str]:
    """Every ``reference`` string inside a resource."""
    todo = [node]
    while todo:
        value = todo.pop()
        if isinstance(value, dict):
            for k, v in value.items():
                if k == "reference" and isinstance(v, str):
                    yield v
                else:
                    todo.append(v)
        elif isinstance(value, list):
            todo.extend(value)


def outside_references(resource: Any) -> Iterator[str]:
    """The references of a resource that point outside it: in a Bundle (a document sent as one
    resource) references to its own entries' fullUrls resolve inside it and are left out."""
    inside: set[str] = set()
    if isinstance(resource, dict) and resource.get("resourceType") == "Bundle":
        entries = resource.get("entry")
        for e in entries if isinstance(entries, list) else []:
            if isinstance(e, dict) and isinstance(e.get("fullUrl"), str):
                inside.add(e["fullUrl"])
    return (ref for ref in references(resource) if ref not in inside)


def _map(node: Any, leaf: Callable[[str, Any], Any]) -> Any:
    """A copy of ``node`` in which each object member ``(key, value)`` with a non-container
    value becomes ``leaf(key, value)``."""
    root: list[Any] = [None]
    todo: list[tuple[Any, Any, Any]] = [(node, root, 0)]
    while todo:
        value, parent, slot = todo.pop()
        if isinstance(value, dict):
            out: Any = {}
            parent[slot] = out
            for k, v in value.items():
                if isinstance(v, (dict, list)):
                    todo.append((v, out, k))
                else:
                    out[k] = leaf(k, v)
        elif isinstance(value, list):
            out = [None] * len(value)
            parent[slot] = out
            for i, v in enumerate(value):
                if isinstance(v, (dict, list)):
                    todo.append((v, out, i))
                else:
                    out[i] = v
        else:
            parent[slot] = value
    return root[0]


def rewrite_refs(node: Any, mapping: dict[str, str]) -> Any:
    """A copy of ``node`` with every ``reference`` found in ``mapping`` replaced."""
    if not mapping:
        return node
    return _map(node, lambda k, v: mapping.get(v, v) if k == "reference" else v)


def relative_refs(node: Any, base: str) -> Any:
    """A copy with absolute references to ``base`` made relative (servers may answer either)."""
    prefix = base + "/"

    def leaf(k: str, v: Any) -> Any:
        if k == "reference" and isinstance(v, str) and v.startswith(prefix):
            return v[len(prefix) :]
        return v

    return _map(node, leaf)


def differences(sent: Any, got: Any, path: str, limit: int = 50) -> list[str]:
    """What differs between a resource as sent and as read back (``meta`` and ``id`` ignored;
    elements the server added are not differences); at most ``limit`` lines."""
    out: list[str] = []
    todo: list[tuple[Any, Any, str]] = [(sent, got, path)]
    while todo and len(out) < limit:
        a, b, where = todo.pop()
        if isinstance(a, dict) and isinstance(b, dict):
            for k in reversed(list(a)):
                if k in ("meta", "id"):
                    continue
                if k not in b:
                    out.append(f"{where}.{k} missing")
                else:
                    todo.append((a[k], b[k], f"{where}.{k}"))
        elif isinstance(a, list) and isinstance(b, list):
            if len(a) != len(b):
                out.append(f"{where}: {len(a)} items sent, {len(b)} read back")
            for i in reversed(range(min(len(a), len(b)))):
                todo.append((a[i], b[i], f"{where}[{i}]"))
        elif a != b:
            out.append(f"{where}: sent {_short(a)}, read back {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."
