"""Terminology tables: concept keys to codings (SNOMED CT, LOINC, RxNorm, ...).

Each table is ``<table>.yaml`` holding ``concepts: {key: {text, codings: [...]}}`` (see
``mappings/README.md``). The shipped tables come with fhir-adapter; **add-on directories** of
the user's extend them, in this order: ``mappings:`` in ``fhir-adapter.yaml``, the
``FHIR_ADAPTER_MAPPINGS`` environment variable (``os.pathsep``-separated), ``--mappings DIR``.
A key defined in two places is an error naming both files, unless the later definition says
``override: true``. Tables load once per process, on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fhir_adapter.errors import MappingError
from fhir_adapter.paths import MAPPINGS_DIR
from fhir_adapter.suggest import close_matches, did_you_mean, unit_matches

ENV_VAR = "FHIR_ADAPTER_MAPPINGS"
#: The shape of a table file, for error messages (a pip-installed user has no mappings/README).
TABLE_SHAPE = (
    "a table file holds 'concepts: {KEY: {text: ..., codings: [{system: ..., code: ..., "
    "display: ..., verified: ...}]}}'; `fhir-adapter concepts add` writes one"
)


@dataclass(frozen=True, slots=True)
class Coding:
    """One code of a code system, with its official display (and where it was verified)."""

    system: str
    code: str
    display: str
    verified: str | None = field(default=None, compare=False)

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
    file: str | None = field(default=None, compare=False)
    note: str | None = field(default=None, compare=False)

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
            file=self.file,
            field=f"concepts.{self.key}.codings",
            fix="add the coding to the table",
        )


@dataclass(frozen=True, slots=True)
class AddOn:
    """An add-on mappings directory and where it was configured (for error messages)."""

    path: Path
    origin: str


class Terminology:
    """The shipped tables of ``directory`` extended by the tables of the ``addons`` directories."""

    def __init__(
        self,
        directory: Path = MAPPINGS_DIR,
        addons: Sequence[AddOn | Path | str] = (),
        *,
        missing_ok: bool = False,
    ) -> None:
        """``missing_ok``: skip add-on directories that do not exist (listed in ``skipped``)
        instead of raising MappingError."""
        self.directory = Path(directory)
        self.skipped: list[AddOn] = []
        seen = {self.directory.resolve()}
        unique = []
        for a in addons:
            addon = a if isinstance(a, AddOn) else AddOn(Path(a), "argument")
            if addon.path.resolve() not in seen:  # the same directory twice is read once
                seen.add(addon.path.resolve())
                unique.append(addon)
        self.skipped = [a for a in unique if missing_ok and not a.path.is_dir()]
        self.addons = tuple(a for a in unique if a not in self.skipped)
        for a in self.addons:
            if a.path.exists() and not a.path.is_dir():
                raise MappingError(
                    "is a file, not an add-on mappings directory",
                    file=str(a.path),
                    field=a.origin,
                    fix="give the directory that holds the <table>.yaml files",
                )
            if not a.path.is_dir():
                raise MappingError(
                    "add-on mappings directory not found",
                    file=str(a.path),
                    field=a.origin,
                    fix="create it (fhir-adapter concepts add creates it) or correct the path",
                )
        self._tables: dict[str, dict[str, Concept]] = {}

    @property
    def directories(self) -> tuple[Path, ...]:
        """Every directory read, shipped first."""
        return (self.directory, *(a.path for a in self.addons))

    def table_names(self) -> list[str]:
        """Every table name in the shipped and add-on directories."""
        names = {p.stem for d in self.directories for p in d.glob("*.yaml")}
        return sorted(names)

    def table(self, name: str) -> dict[str, Concept]:
        """All concepts of table ``name``, shipped and add-on, keyed by concept key."""
        table = self._tables.get(name)
        if table is None:
            table = self._tables[name] = self._merge(name)
        return table

    def _merge(self, name: str) -> dict[str, Concept]:
        files = [d / f"{name}.yaml" for d in self.directories]
        present = [f for f in files if f.is_file()]
        if not present:
            raise MappingError(
                f"terminology table {name!r} not found",
                file=", ".join(str(f) for f in files),
                fix=f"check the name, or create {name}.yaml in an add-on directory: {TABLE_SHAPE}",
            )
        out: dict[str, Concept] = {}
        for path in present:
            addon = path.parent != self.directory
            for key, concept, override in _load_table(path, name, addon=addon):
                earlier = out.get(key)
                if earlier is not None and not override:
                    raise MappingError(
                        f"concept {key!r} is defined twice: in {earlier.file} and in {path}",
                        file=str(path),
                        field=f"concepts.{key}",
                        fix="rename one of them, or add 'override: true' to this one to replace"
                        " the other",
                    )
                out[key] = concept
        return out

    def has(self, table: str, key: str) -> bool:
        """Whether ``table`` defines concept ``key``."""
        return key in self.table(table)

    def concept(self, table: str, key: str) -> Concept:
        """Concept ``key`` of ``table``; MappingError naming the files read and the fix when absent."""
        try:
            return self.table(table)[key]
        except KeyError:
            message, fix = self.missing(table, key)
            raise MappingError(message, field=f"concepts.{key}", fix=fix) from None

    def files_read(self, table: str) -> list[str]:
        """The files table ``table`` was read from."""
        return [
            str(d / f"{table}.yaml") for d in self.directories if (d / f"{table}.yaml").is_file()
        ]

    def missing(self, table: str, key: str) -> tuple[str, str]:
        """(message, fix) for a concept key that ``table`` lacks: the files read, close keys, and
        how to find and add the concept."""
        concepts = self.table(table)
        wanted = key.lower().replace("_", " ")
        # a key given as one of the concept's codes or as its text ('dx' -> plain_radiography)
        close = [
            k
            for k, c in concepts.items()
            if c.text.lower() == wanted or any(x.code.lower() == key.lower() for x in c.codings)
        ]
        if not close:
            keys = list(concepts)
            close = unit_matches(key, keys) if table == "units" else close_matches(key, keys)
        message = f"{key!r} is not in table {table!r} (read: {', '.join(self.files_read(table))})"
        hint = did_you_mean(close)
        words = key.replace("_", " ")
        find = (
            f"find it with `fhir-adapter concepts search {_quote(words)} --kind {kind_of(table)}`"
            f" and add it with `fhir-adapter concepts add ... --table {table}`"
        )
        if table == "units" and not hint:
            find = "units are UCUM codes (mg/d, not mg/day); " + find
        return message, f"{hint} Otherwise {find}" if hint else find

    def all_concepts(self) -> Iterable[Concept]:
        """Every concept of every table (shipped and add-on)."""
        for name in self.table_names():
            yield from self.table(name).values()


#: Table name -> the concept kind it holds (``concepts search --kind``); other tables: their name.
TABLE_KINDS = {
    "conditions": "condition",
    "findings": "finding",
    "labs": "lab",
    "qualifiers": "qualifier",
    "reports": "report",
    "medications": "medication",
    "routes": "route",
    "body_sites": "body-site",
    "modalities": "modality",
    "units": "unit",
    "hl7": "code",
    "procedures": "procedure",
    "specimen_types": "specimen",
    "social_history": "social-history",
}


def kind_of(table: str) -> str:
    """The concept kind of a table (``conditions`` -> ``condition``)."""
    return TABLE_KINDS.get(table, table)


def _quote(text: str) -> str:
    return text if text.replace("_", "").isalnum() else f"'{text}'"


def _load_table(path: Path, name: str, *, addon: bool) -> list[tuple[str, Concept, bool]]:
    """(key, concept, marked override) for every concept of one table file."""
    import yaml

    try:
        loader = getattr(
            yaml, "CSafeLoader", yaml.SafeLoader
        )  # libyaml when installed: ~10x faster
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise MappingError(
            f"malformed YAML: {getattr(err, 'problem', err)}",
            file=str(path),
            line=mark.line + 1 if mark else None,
            fix=f"fix the YAML syntax at that line; {TABLE_SHAPE}",
        ) from None
    concepts = raw.get("concepts", False) if isinstance(raw, dict) else False
    concepts = {} if concepts is None else concepts  # "concepts:" with nothing under it yet
    if not isinstance(concepts, dict):
        raise MappingError("no 'concepts' mapping", file=str(path), fix=TABLE_SHAPE)
    out = []
    for key, body in concepts.items():
        field_ = f"concepts.{key}"
        if not isinstance(body, dict) or not isinstance(body.get("text"), str):
            raise MappingError(
                "concept needs a 'text'", file=str(path), field=field_, fix=TABLE_SHAPE
            )
        override = body.get("override", False)
        if override not in (True, False) or (override and not addon):
            raise MappingError(
                "'override' must be true or false, and only add-on tables may override",
                file=str(path),
                field=f"{field_}.override",
                fix="write 'override: true' in an add-on table to replace a shipped concept",
            )
        codings = []
        for i, c in enumerate(body.get("codings") or []):
            try:
                verified = c.get("verified")
                codings.append(
                    Coding(
                        str(c["system"]),
                        str(c["code"]),
                        str(c["display"]),
                        None if verified is None else str(verified),
                    )
                )
            except (KeyError, TypeError, AttributeError):
                raise MappingError(
                    "coding needs system, code and display",
                    file=str(path),
                    field=f"{field_}.codings[{i}]",
                    fix=TABLE_SHAPE,
                ) from None
        note = body.get("note")
        concept = Concept(
            name,
            str(key),
            body["text"],
            tuple(codings),
            str(path),
            None if note is None else str(note),
        )
        out.append((str(key), concept, bool(override)))
    return out


# --------------------------------------------------------------------------- configuration

_cli_addons: tuple[str, ...] = ()


def configured_addons() -> list[AddOn]:
    """Add-on directories from ``fhir-adapter.yaml``, the environment and ``--mappings``, in
    that order (a relative path in the settings file is relative to that file)."""
    from fhir_adapter.config import config_path, read_config

    out: list[AddOn] = []
    setting = read_config(MappingError).get("mappings")
    if setting is not None:
        cfg = config_path()
        items = [setting] if isinstance(setting, str) else setting
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise MappingError(
                "'mappings' must be a directory or a list of directories",
                file=str(cfg),
                field="mappings",
                fix="e.g. mappings: [my-mappings]",
            )
        out += [AddOn(cfg.parent / i, f"mappings: in {cfg}") for i in items]
    env = os.environ.get(ENV_VAR)
    if env:
        out += [AddOn(Path(p), f"${ENV_VAR}") for p in env.split(os.pathsep) if p]
    out += [AddOn(Path(p), "--mappings") for p in _cli_addons]
    return out


def use_mappings(directories: Iterable[str]) -> None:
    """Add ``--mappings`` directories to the default terminology (the CLI calls this)."""
    global _cli_addons
    _cli_addons = tuple(directories)
    default_terminology.cache_clear()


@cache
def default_terminology() -> Terminology:
    """The shipped tables extended by the configured add-on directories (loaded lazily)."""
    return Terminology(MAPPINGS_DIR, configured_addons())
