"""Terminology tables from ``mappings/``: concept keys to codings (SNOMED CT, LOINC, RxNorm, ...).

Each table is ``mappings/<table>.yaml`` holding ``concepts: {key: {text, codings: [...]}}``;
see ``mappings/README.md``. Tables load once per process, on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fhir_adapter.errors import MappingError
from fhir_adapter.paths import MAPPINGS_DIR


@dataclass(frozen=True, slots=True)
class Coding:
    """One code of a code system, with its official display."""

    system: str
    code: str
    display: str

    def to_fhir(self) -> dict[str, str]:
        """The FHIR ``Coding`` JSON object."""
        return {"system": self.system, "code": self.code, "display": self.display}


@dataclass(frozen=True, slots=True)
class Concept:
    """A case concept: human text and zero or more codings (text-only when none is honest)."""

    table: str
    key: str
    text: str
    codings: tuple[Coding, ...]

    def to_codeable_concept(self) -> dict[str, Any]:
        """The FHIR ``CodeableConcept`` JSON object."""
        cc: dict[str, Any] = {}
        if self.codings:
            cc["coding"] = [c.to_fhir() for c in self.codings]
        cc["text"] = self.text
        return cc

    def coding(self, system: str | None = None) -> Coding:
        """The first coding (of ``system`` when given); MappingError when there is none."""
        for c in self.codings:
            if system is None or c.system == system:
                return c
        wanted = f" in {system}" if system else ""
        raise MappingError(
            f"concept {self.key!r} has no coding{wanted}",
            file=str(MAPPINGS_DIR / f"{self.table}.yaml"),
            field=f"concepts.{self.key}.codings",
            fix="add the coding to the table",
        )


class Terminology:
    """Read access to the terminology tables of one ``mappings/`` directory."""

    def __init__(self, directory: Path = MAPPINGS_DIR) -> None:
        self.directory = directory
        self._tables: dict[str, dict[str, Concept]] = {}

    def table(self, name: str) -> dict[str, Concept]:
        """All concepts of table ``name`` (``mappings/<name>.yaml``), keyed by concept key."""
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = _load_table(self.directory / f"{name}.yaml", name)
        return table

    def has(self, table: str, key: str) -> bool:
        """Whether ``table`` defines concept ``key``."""
        return key in self.table(table)

    def concept(self, table: str, key: str) -> Concept:
        """Concept ``key`` of ``table``; MappingError naming the table and the fix when absent."""
        try:
            return self.table(table)[key]
        except KeyError:
            raise MappingError(
                f"concept {key!r} is not in table {table!r}",
                file=str(self.directory / f"{table}.yaml"),
                field=f"concepts.{key}",
                fix=f"add {key!r} with its verified codings to mappings/{table}.yaml",
            ) from None


def _load_table(path: Path, name: str) -> dict[str, Concept]:
    import yaml

    try:
        loader = getattr(
            yaml, "CSafeLoader", yaml.SafeLoader
        )  # libyaml when installed: ~10x faster
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except FileNotFoundError:
        raise MappingError(
            f"terminology table {name!r} not found",
            file=str(path),
            fix="create it following mappings/README.md",
        ) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise MappingError(
            f"malformed YAML: {getattr(err, 'problem', err)}",
            file=str(path),
            line=mark.line + 1 if mark else None,
        ) from None
    concepts = raw.get("concepts") if isinstance(raw, dict) else None
    if not isinstance(concepts, dict):
        raise MappingError("no 'concepts' mapping", file=str(path), fix="see mappings/README.md")
    out: dict[str, Concept] = {}
    for key, body in concepts.items():
        field = f"concepts.{key}"
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise MappingError("concept needs a 'text'", file=str(path), field=field)
        codings = []
        for i, c in enumerate(body.get("codings") or []):
            try:
                codings.append(Coding(str(c["system"]), str(c["code"]), str(c["display"])))
            except (KeyError, TypeError):
                raise MappingError(
                    "coding needs system, code and display",
                    file=str(path),
                    field=f"{field}.codings[{i}]",
                ) from None
        out[str(key)] = Concept(name, str(key), body["text"], tuple(codings))
    return out


@cache
def default_terminology() -> Terminology:
    """The terminology of the project's own ``mappings/`` directory (shared, loaded lazily)."""
    return Terminology()
