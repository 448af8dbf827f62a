"""The part of a case file the schema accepted, so the checks of meaning can run on it in the
same pass as the schema check (every problem of a file is reported in one run).

A rejected optional field is left out; a rejected required field whose schema is an enum gets a
stand-in value; an item still invalid is left out entirely, its key remembered (references to
it are not reported again) and the remaining items' positions mapped back to the file's.
Stand-ins only let checking go on: a file with schema problems is never converted.
"""

from __future__ import annotations

import re
from typing import Any

from fhir_adapter.case.model import SECTIONS
from fhir_adapter.case.schema import case_schema, schema_problems
from fhir_adapter.case.source import Lines
from fhir_adapter.errors import InputError

#: Top-level fields the model needs, with stand-ins for a rejected or missing value.
_STAND_INS: dict[str, Any] = {
    "id": "case-with-problems",
    "title": "(case with problems)",
    "patient": {"sex": "unknown"},
}


class Salvage:
    """The accepted part of ``data``: ``data``, the keys of left-out items (``known``), and a
    ``lines`` map and :meth:`restore` that translate positions back to the file's."""

    def __init__(
        self, data: dict[str, Any], version: int, rejected: set[tuple[Any, ...]], lines: Lines
    ) -> None:
        self.schema = case_schema(version)
        self.data = {k: _copy(v) for k, v in data.items()}
        self.known: dict[str, str] = {}
        self.dropped: dict[str, set[int]] = {}
        for _ in range(3):  # stand-ins and removals can uncover nothing new; 3 rounds is plenty
            for path in sorted(rejected, key=len):
                self._repair(path)
            rejected = {p for p, _ in schema_problems(self._kept(), version, Lines(), "")}
            if not rejected:
                break
            for path in rejected:  # what is left: leave out the whole item or field
                self._drop(path)
        self.data = self._kept()
        self.lines = self._reindex(lines)

    def _item_schema(self, section: str) -> dict[str, Any]:
        node = self.schema["properties"][section]["items"]
        while "$ref" in node:
            node = self.schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        return dict(node)

    def _repair(self, path: tuple[Any, ...]) -> None:
        if not path:
            for k, v in _STAND_INS.items():
                self.data.setdefault(k, v)
            return
        head = path[0]
        if head in SECTIONS and len(path) >= 2 and isinstance(path[1], int):
            items = self.data.get(head)
            if not isinstance(items, list) or not isinstance(items[path[1]], dict):
                self._drop(path)
                return
            item, schema = items[path[1]], self._item_schema(head)
            allowed = schema.get("properties", {})
            for unknown in set(item) - set(allowed):
                del item[unknown]
            if len(path) >= 3 and path[2] in item and path[2] not in schema.get("required", ()):
                del item[path[2]]
            elif len(path) >= 3 and "enum" in allowed.get(path[2], {}):
                item[path[2]] = allowed[path[2]]["enum"][0]
            elif len(path) == 2 and set(schema.get("required", ())) <= set(item):
                pass  # an unknown key, removed above
            else:
                self._drop(path)
        elif head in _STAND_INS:
            self.data[head] = _STAND_INS[head]
        else:
            self.data.pop(head, None)

    def _drop(self, path: tuple[Any, ...]) -> None:
        head = path[0] if path else None
        if head in SECTIONS and len(path) >= 2 and isinstance(path[1], int):
            self.dropped.setdefault(head, set()).add(path[1])
            item = self.data[head][path[1]]
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                self.known[item["key"]] = SECTIONS[head]
        elif head in _STAND_INS:
            self.data[head] = _STAND_INS[head]
        elif head is not None:
            self.data.pop(head, None)

    def _kept(self) -> dict[str, Any]:
        out = dict(self.data)
        for section, indexes in self.dropped.items():
            if isinstance(out.get(section), list):
                out[section] = [x for i, x in enumerate(out[section]) if i not in indexes]
        return out

    def _new_index(self, section: str, old: int) -> int | None:
        gone = self.dropped.get(section, set())
        return None if old in gone else old - sum(1 for g in gone if g < old)

    def _old_index(self, section: str, new: int) -> int:
        gone = self.dropped.get(section, set())
        old = new
        for g in sorted(gone):
            if g <= old:
                old += 1
        return old

    def _reindex(self, lines: Lines) -> Lines:
        if not self.dropped:
            return lines
        out = Lines()
        out.problems = lines.problems

        def move(path: tuple[Any, ...]) -> tuple[Any, ...] | None:
            if len(path) >= 2 and path[0] in self.dropped and isinstance(path[1], int):
                new = self._new_index(path[0], path[1])
                return None if new is None else (path[0], new, *path[2:])
            return path

        for path, line in lines.items():
            if (moved := move(path)) is not None:
                out[moved] = line
        for path, col in lines.cols.items():
            if (moved := move(path)) is not None:
                out.cols[moved] = col
        for path, at in lines.key_at.items():
            if (moved := move(path)) is not None:
                out.key_at[moved] = at
        return out

    def restore(self, problem: InputError) -> InputError:
        """``problem`` with item positions in its field path as the file has them."""
        field = problem.field or ""
        m = re.match(r"^(\w+)\[(\d+)\]", field)
        if m and m.group(1) in self.dropped:
            old = self._old_index(m.group(1), int(m.group(2)))
            problem.field = f"{m.group(1)}[{old}]{field[m.end() :]}"
        return problem


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
