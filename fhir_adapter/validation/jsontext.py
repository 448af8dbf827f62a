"""JSON text input: strict parsing (duplicate keys) and mapping issue paths to line and column."""

from __future__ import annotations

import json
from typing import Any

#: The deepest JSON nesting validated; orjson (which also encodes what the client sends) stops
#: at the same depth. Real resources need a few dozen levels.
MAX_DEPTH = 254


def too_deep(obj: Any) -> bool:
    """Whether ``obj`` nests deeper than MAX_DEPTH (arrays and objects; measured without
    recursion, so any depth is safe to ask about)."""
    import orjson

    try:
        orjson.dumps(obj)  # in C, and refuses more than MAX_DEPTH levels
        return False
    except TypeError:
        pass  # too deep, or a value orjson cannot encode: measure
    level, depth = [obj], 0
    while level and depth <= MAX_DEPTH:
        nxt: list[Any] = []
        for v in level:
            children = v.values() if type(v) is dict else v if type(v) is list else ()
            nxt.extend([c for c in children if type(c) is dict or type(c) is list])
        depth += 1
        level = nxt
    return depth > MAX_DEPTH


class DuplicateKeyError(ValueError):
    """A JSON object has the same key twice."""

    def __init__(self, key: str) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise DuplicateKeyError(k)
        out[k] = v
    return out


def loads_strict(text: str | bytes) -> Any:
    """``json.loads`` that raises DuplicateKeyError on a repeated key."""
    return json.loads(text, object_pairs_hook=_pairs)


def line_map(text: str, root: str) -> dict[str, tuple[int, int]]:
    """Map FHIRPath-style paths (``Bundle.entry[0].resource.id``) to 1-based (line, column).

    The position is that of the key (for object members) or of the value (for array items and
    the root). Columns count characters, as editors do. A small scanner over the JSON text: the
    standard library parser does not report positions. Resource-typed objects restart the path
    at their ``resourceType`` only at the root.
    """
    pos: dict[str, tuple[int, int]] = {}
    i, n, line, line_start = 0, len(text), 1, 0
    stack: list[list[Any]] = []  # [kind, path, index or pending key]
    path = root
    expect_key = False

    def value_path() -> str:
        if not stack:
            return root
        kind, p, k = stack[-1]
        return f"{p}[{k}]" if kind == "a" else (f"{p}.{k}" if k is not None else p)

    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
            line_start = i
        elif ch in " \t\r,:":
            if ch == "," and stack and stack[-1][0] == "a":
                stack[-1][2] += 1
            if ch == "," and stack and stack[-1][0] == "o":
                expect_key = True
            i += 1
        elif ch == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            if stack and stack[-1][0] == "o" and expect_key:
                stack[-1][2] = text[i + 1 : j]
                expect_key = False
            pos.setdefault(value_path(), (line, i - line_start + 1))
            i = j + 1
        elif ch in "{[":
            path = value_path()
            pos.setdefault(path, (line, i - line_start + 1))
            stack.append(["o" if ch == "{" else "a", path, None if ch == "{" else 0])
            expect_key = ch == "{"
            i += 1
        elif ch in "}]":
            stack.pop()
            expect_key = False
            i += 1
        else:
            j = i
            while j < n and text[j] not in ",}]\n \t\r":
                j += 1
            pos.setdefault(value_path(), (line, i - line_start + 1))
            i = j
    return pos
