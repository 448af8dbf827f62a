"""Loading IG packages as profile tables: shipped tables, the user's table cache, or generated.

``Loader().load(["us-core", "path/to/pkg.tgz"])`` returns a :class:`ProfileSet` holding every
profile, extension definition, value set and code system of the packages and their dependencies.
A package's table is taken, in order, from the tables shipped with fhir-adapter (by
``name#version``, or by content digest for a given file), from the user's cache
(``<user cache dir>/fhir-adapter/igs/``, keyed by content digest and generator version;
``XDG_CACHE_HOME`` is honoured), or generated from the package's snapshots and then cached.
"""

from __future__ import annotations

import gzip
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fhir_adapter.errors import InputError
from fhir_adapter.validation.profiles import packages as pk

SHIPPED = Path(__file__).resolve().parents[1] / "data" / "igs"


def cache_dir() -> Path:
    """Where generated tables are cached (platformdirs' user cache dir; XDG_CACHE_HOME honoured)."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("fhir-adapter", appauthor=False)) / "igs"


@cache
def _read_table(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return data


@dataclass
class ProfileSet:
    """Everything loaded: packages (in load order) and indexes over their tables."""

    packages: list[dict[str, Any]] = field(default_factory=list)
    profiles: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # url -> versions
    valuesets: dict[str, dict[str, Any]] = field(default_factory=dict)
    codesystems: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # dependencies not available (waived)

    def add(self, table: dict[str, Any]) -> None:
        """Index one package table (the first package to define a canonical wins)."""
        if any(t["package"] == table["package"] for t in self.packages):
            return
        self.packages.append(table)
        label = f"{table['package']['name']}#{table['package']['version']}"
        for url, prof in table["profiles"].items():
            prof.setdefault("package", label)
            self.profiles.setdefault(url, []).append(prof)
        for url, vs in table["valuesets"].items():
            self.valuesets.setdefault(url, vs)
        for url, cs in table["codesystems"].items():
            self.codesystems.setdefault(url, cs)
        for m in table["package"].get("missing", []):
            if m not in self.missing:
                self.missing.append(m)

    def profile(self, canonical: str) -> dict[str, Any] | None:
        """The loaded profile for ``url`` or ``url|version`` (a plain url: the first loaded)."""
        url, _, version = canonical.partition("|")
        found = self.profiles.get(url)
        if not found:
            return None
        if version:
            return next((p for p in found if p.get("version") == version), None)
        return found[0]

    def extension_rows(self) -> dict[str, dict[str, Any]]:
        """Extension url -> {types, context} in the engine's table format."""
        out = {}
        for url, versions in self.profiles.items():
            p = versions[0]
            if p["type"] == "Extension" and "context" in p:
                out[url] = {"types": p.get("value_types", []), "context": p["context"]}
        return out


class Loader:
    """Resolves IG specs to tables; one instance per ``Validator``."""

    def __init__(
        self,
        shipped_dir: Path = SHIPPED,
        cache: bool = True,
        fhir_cache: bool = True,
        allow_missing: bool = False,
    ) -> None:
        self.shipped_dir = shipped_dir
        self.use_cache = cache
        #: a dependency found nowhere is recorded as missing instead of raising
        self.allow_missing = allow_missing
        self.places = pk.Places(shipped=self._shipped(), fhir_cache=fhir_cache)
        self.tables: dict[str, dict[str, Any]] = {}  # name#version -> table

    def _shipped(self) -> dict[str, Path]:
        return {
            p.name.removesuffix(".json.gz"): p for p in sorted(self.shipped_dir.glob("*#*.json.gz"))
        }

    def _digests(self) -> dict[str, str]:
        index = self.shipped_dir / "index.json"
        return json.loads(index.read_text()) if index.is_file() else {}

    def load(self, specs: list[str]) -> ProfileSet:
        """Load every package named in ``specs`` (and dependencies); raises InputError."""
        given: list[pk.Package] = []
        named: list[tuple[str, str | None]] = []
        for spec in specs:
            if pk.looks_like_path(spec) or (Path(spec).exists() and not spec.startswith("hl7.")):
                path = Path(spec).expanduser()
                pkg = pk.read_path(path)
                given.append(pkg)
                self.places.given[pkg.key] = pkg
                if path.is_file() and path.suffix != ".json":
                    self.places.beside.append(path.parent)
            else:
                named.append(pk.parse_spec(spec))
        out = ProfileSet()
        out.add(self.table(*pk.CORE))
        for pkg in given:
            self._add_with_deps(self.table_for(pkg), out)
        for name, version in named:
            if version is None:
                version = pk.latest_cached(name)
                if version is None:
                    raise pk.missing_error(name, "<any version>", self.places, None)
            self._add_with_deps(self.table(name, version), out)
        return out

    def _add_with_deps(self, table: dict[str, Any], out: ProfileSet) -> None:
        out.add(table)
        for name, version in table["package"]["dependencies"].items():
            key = f"{name}#{version}"
            if (name, version) == pk.CORE or key in table["package"].get("missing", []):
                continue
            self._add_with_deps(self.table(name, version, needed_by=self._label(table)), out)

    @staticmethod
    def _label(table: dict[str, Any]) -> str:
        return f"{table['package']['name']}#{table['package']['version']}"

    def table(self, name: str, version: str, needed_by: str | None = None) -> dict[str, Any]:
        """The table of ``name#version`` from the places (shipped, given, FHIR cache, beside)."""
        key = f"{name}#{version}"
        got = self.tables.get(key)
        if got is not None:
            return got
        if key in self.places.shipped:
            got = self.tables[key] = _read_table(self.places.shipped[key])
            return got
        pkg = self.places.given.get(key)
        if pkg is None:
            found = self.places.find_cached(name, version)
            if found is None:
                raise pk.missing_error(name, version, self.places, needed_by)
            pkg = pk.read_path(found)
        return self.table_for(pkg)

    def table_for(self, pkg: pk.Package) -> dict[str, Any]:
        """The table of a package read from files: shipped (same content), cached, or built."""
        got = self.tables.get(pkg.key)
        if got is not None:
            return got
        if self._digests().get(pkg.key) == pkg.digest:
            got = self.tables[pkg.key] = _read_table(self.places.shipped[pkg.key])
            return got
        from fhir_adapter.validation.profiles.compiler import GENERATOR_VERSION, dump

        cached = cache_dir() / f"{pkg.key}-{pkg.digest[:20]}-g{GENERATOR_VERSION}.json.gz"
        if self.use_cache and cached.is_file():
            try:
                got = _read_table(cached)
            except (OSError, ValueError, EOFError):
                got = None  # a damaged cache file is rebuilt
            if got is not None and (self.allow_missing or not got["package"].get("missing")):
                self.tables[pkg.key] = got
                return got
        got = self.tables[pkg.key] = self.build_table(
            pkg, pk.read_resources(pkg), offline_waived=self.allow_missing
        )
        if self.use_cache:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                tmp = cached.with_suffix(f".tmp{os.getpid()}")
                tmp.write_bytes(dump(got))
                tmp.replace(cached)  # atomic: a concurrent reader sees the old file or the new
            except OSError:
                pass  # an unwritable cache only costs the next run a rebuild
        return got

    def build_table(
        self, pkg: pk.Package, resources: list[dict[str, Any]], offline_waived: bool = False
    ) -> dict[str, Any]:
        """Generate a package's table; dependencies must be loadable (or, for the shipped
        tables built offline, are recorded as missing)."""
        from fhir_adapter.validation.profiles.compiler import build

        deps: list[dict[str, Any]] = [self.table(*pk.CORE)]
        missing = []
        for name, version in sorted(pkg.dependencies.items()):
            if (name, version) == pk.CORE:
                continue
            try:
                deps.append(self.table(name, version, needed_by=pkg.key))
            except InputError:
                if not offline_waived:
                    raise
                missing.append(f"{name}#{version}")

        def lookup(url: str) -> dict[str, Any] | None:
            for t in deps:
                got = t["profiles"].get(url.split("|")[0])
                if got is not None:
                    return got
            return None

        table = build(pkg.name, pkg.version, resources, pkg.dependencies, pkg.digest, lookup)
        if missing:
            table["package"]["missing"] = missing
        return table
