"""JSON text input: strict parsing (duplicate keys) and mapping issue paths to line and column."""

from __future__ import annotations

import bisect
import json
import json.decoder
import re
from collections.abc import Callable
from typing import Any

_WS = re.compile(r"[ \t\n\r]*")
# The standard library's C scanners (not in its type stubs): a string from just after its
# opening quote, and any JSON value, each returning the value and the index after it.
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]
_scan_once: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]

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


class Positions:
    """1-based (line, column) of FHIRPath-style paths (``Bundle.entry[0].resource.id``) in JSON
    text, found on demand.

    The position is that of the key (for object members) or of the value (for array items and
    the root). Columns count characters, as editors do. Only the containers on a requested path
    are scanned, each at most once and only as far as needed; the members they pass over are
    skipped by the standard library's C scanner. Issues cost at most about one parse of the text
    up to the last of them; valid input costs nothing. Resource-typed objects restart the path
    at their ``resourceType`` only at the root.
    """

    def __init__(self, text: str, root: str) -> None:
        self._text = text
        start = _WS.match(text).end()  # type: ignore[union-attr]
        #: path -> (position reported, position of the value)
        self._nodes: dict[str, tuple[int, int]] = {root: (start, start)}
        #: containers being scanned: path -> [position of the next member, its index]
        self._open: dict[str, list[int]] = {}
        self._done: set[str] = set()  # containers (and primitives) scanned to their end
        self._marks, self._mark_lines = [0], [1]  # positions whose line is known, ascending

    def get(self, path: str) -> tuple[int, int] | None:
        """(line, column) of ``path``, or None when the text has no such element."""
        found = self._find(path)
        return None if found is None else self._line_col(found[0])

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and self._find(path) is not None

    def __getitem__(self, path: str) -> tuple[int, int]:
        at = self.get(path)
        if at is None:
            raise KeyError(path)
        return at

    def _find(self, path: str) -> tuple[int, int] | None:
        hit = self._nodes.get(path)
        if hit is not None:
            return hit
        cut = path.rfind("[") if path.endswith("]") else path.rfind(".")
        if cut <= 0:
            return None
        parent = path[:cut]
        if parent in self._done:
            return None
        at = self._find(parent)
        if at is None:
            return None
        self._scan(parent, at[1], path)
        return self._nodes.get(path)

    def _scan(self, path: str, value: int, want: str) -> None:
        """Record the members of the container at ``value`` up to ``want`` (or to its end).

        The scan stops at ``want`` before skipping its value, so a later request for a path
        inside it does not parse it twice; the next scan of this container skips it first.
        """
        text, nodes, ws = self._text, self._nodes, _WS.match
        state = self._open.get(path)
        if state is None:
            if text[value] not in "{[":
                self._done.add(path)
                return
            state = self._open[path] = [ws(text, value + 1).end(), 0, -1]  # type: ignore[union-attr]
        is_object = text[value] == "{"
        i, n, pending = state
        if pending >= 0:  # the value of the member where the last scan stopped
            i = ws(text, _scan_once(text, pending)[1]).end()  # type: ignore[union-attr]
            if text[i] == ",":
                i = ws(text, i + 1).end()  # type: ignore[union-attr]
        while text[i] not in "}]":
            if is_object:
                key, j = _scanstring(text, i + 1)
                j = ws(text, ws(text, j).end() + 1).end()  # type: ignore[union-attr]
                child = f"{path}.{key}"
            else:
                j, child = i, f"{path}[{n}]"
            nodes.setdefault(child, (i, j))
            n += 1
            if child == want:
                state[0], state[1], state[2] = i, n, j
                return
            i = ws(text, _scan_once(text, j)[1]).end()  # type: ignore[union-attr]
            if text[i] == ",":
                i = ws(text, i + 1).end()  # type: ignore[union-attr]
        del self._open[path]
        self._done.add(path)

    def _line_col(self, pos: int) -> tuple[int, int]:
        marks = self._marks
        k = bisect.bisect_right(marks, pos) - 1
        line = self._mark_lines[k] + self._text.count("\n", marks[k], pos)
        if marks[k] != pos:
            marks.insert(k + 1, pos)
            self._mark_lines.insert(k + 1, line)
        return line, pos - (self._text.rfind("\n", 0, pos) + 1) + 1


def line_map(text: str, root: str) -> Positions:
    """Positions of the issue paths of ``text`` (see :class:`Positions`), computed lazily."""
    return Positions(text, root)
