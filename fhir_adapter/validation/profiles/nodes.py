"""Profile tables as objects: one :class:`Node` per element a profile constrains.

Built once per profile from its table (see ``compiler``); the walk reads their attributes only.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from fhir_adapter.validation.report import Issue


class Node:
    """One constrained element (or slice) of a profile, with its children and slices."""

    __slots__ = (
        "base_path",
        "bind",
        "bind_types",
        "checked",
        "children",
        "cons",
        "fixed",
        "id",
        "match",
        "max",
        "maxlen",
        "min",
        "ms",
        "name",
        "ordered",
        "pattern",
        "rules",
        "slices",
        "slicing",
        "targets",
        "tprof",
        "types",
    )

    def __init__(self, row: dict[str, Any]) -> None:
        self.id: str = row.get("id", "")
        self.name: str | None = row.get("name")
        self.min: int | None = row.get("min")
        self.max: int | None = row.get("max")
        self.types: tuple[str, ...] | None = tuple(row["types"]) if "types" in row else None
        self.tprof: dict[str, list[str]] = row.get("tprof") or {}
        self.targets: list[str] | None = row.get("targets")
        self.fixed: Any = row["fixed"][1] if "fixed" in row else None
        self.pattern: Any = row["pattern"][1] if "pattern" in row else None
        self.bind: list[str] | None = row.get("bind")
        self.bind_types: list[str] = row.get("bt") or []
        self.cons: list[list[str]] = row.get("cons") or []
        self.base_path: str = row.get("bp", "")
        self.maxlen: int | None = row.get("maxlen")
        self.ms: bool = bool(row.get("ms"))
        #: whether the node has rules on its values (see ``values.check``)
        self.checked = any(
            x is not None and x != []
            for x in (self.types, self.fixed, self.pattern, self.bind, self.maxlen, self.targets)
        ) or bool(self.cons)
        s = row.get("slicing")
        slices = row.get("slices") or []
        self.slicing: list[list[str]] | None = (
            s["disc"] if s and (slices or s["rules"] == "closed") else None
        )
        self.rules: str = s["rules"] if s else "open"
        self.ordered: bool = bool(s and s.get("ordered"))
        self.slices: list[Node] = [Node(x) for x in slices] if self.slicing is not None else []
        self.match: list[list[Any]] = row.get("match") or []
        self.children: list[tuple[str, Node]] = [
            (name, Node(child)) for name, child in sorted((row.get("ch") or {}).items())
        ]


class Profile:
    """A loaded profile: identity and its root node."""

    __slots__ = ("label", "package", "root", "type", "url", "version")

    def __init__(self, table: dict[str, Any]) -> None:
        self.url: str = table["url"]
        self.version: str = table.get("version", "")
        self.label = f"{self.url}|{self.version}" if self.version else self.url
        self.type: str = table["type"]
        self.package: str = table.get("package", "")
        self.root = Node(table["root"])


class Ctx(NamedTuple):
    """The profile being applied, where its findings go, and the resource it is applied to."""

    prof: Profile
    issues: list[Issue]
    res: dict[str, Any]
