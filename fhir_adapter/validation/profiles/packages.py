"""FHIR packages (the NPM-style ``package/`` format): finding them, reading them, their dependencies.

A package can be given as a ``.tgz``, an unpacked folder (holding ``package/package.json`` or
``package.json`` itself), or as ``name#version``, looked up in the tables shipped with
fhir-adapter and in the FHIR package cache (``~/.fhir/packages/<name>#<version>/package/``, the
layout the HL7 validator, Firely and SUSHI share). Dependencies are resolved from the same
places: the shipped tables, the FHIR package cache, packages given in the same call, and
``.tgz`` files beside a given ``.tgz``. A package or dependency that is nowhere is an
:class:`~fhir_adapter.errors.InputError` naming it and every place looked.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fhir_adapter.errors import InputError

#: Shorthands for the shipped packages.
SHORTHANDS = {
    "us-core": ("hl7.fhir.us.core", "6.1.0"),
    "ips": ("hl7.fhir.uv.ips", "1.1.0"),
}
#: The FHIR core package: built into the validator's tables, never looked up.
CORE = ("hl7.fhir.r4.core", "4.0.1")
#: Resource types a package contributes to validation.
_KINDS = frozenset({"StructureDefinition", "ValueSet", "CodeSystem"})
_KIND_MARKS = tuple(f'"{k}"'.encode() for k in _KINDS)
SNAPSHOT_FIX = "generate a snapshot, e.g. `sushi --snapshot`, or supply the published package"


@dataclass
class Package:
    """One package's identity and the conformance resources validation needs from it."""

    name: str
    version: str
    source: str  # where it was read from
    dependencies: dict[str, str] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # file name -> bytes (JSON resources)
    digest: str = ""  # sha256 over the resource files' names and bytes

    @property
    def key(self) -> str:
        """``name#version``."""
        return f"{self.name}#{self.version}"


def fhir_package_cache() -> Path:
    """The standard FHIR package cache folder (``~/.fhir/packages``)."""
    return Path.home() / ".fhir" / "packages"


def parse_spec(spec: str) -> tuple[str, str | None]:
    """``us-core`` / ``name#version`` / ``name`` -> (package name, version or None)."""
    name, _, version = spec.partition("#")
    short = SHORTHANDS.get(name)
    if short is not None:
        return short[0], version or short[1]
    return name, version or None


def looks_like_path(spec: str) -> bool:
    """Whether an ``igs`` item names a file or folder rather than a package."""
    return spec.endswith((".tgz", ".tar.gz", ".json")) or "/" in spec or "\\" in spec


def read_path(path: Path) -> Package:
    """Read a package from a ``.tgz``, a folder, or a single StructureDefinition ``.json``."""
    if not path.exists():
        raise InputError(
            "no such file or folder",
            file=str(path),
            fix="give a .tgz, a package folder or NAME#VERSION",
        )
    if path.is_file() and path.suffix == ".json":
        return _from_files(
            path, {path.name: path.read_bytes()}, {"name": "local", "version": path.stem}
        )
    if path.is_file():
        return _read_tgz(path)
    for root in (path / "package", path):
        if (root / "package.json").is_file():
            files = {
                p.name: p.read_bytes()
                for p in sorted(root.glob("*.json"))
                if p.name != "package.json"
            }
            meta = _json(root / "package.json", (root / "package.json").read_bytes())
            return _from_files(path, files, meta)
    loose = {p.name: p.read_bytes() for p in sorted(path.glob("*.json"))}
    if not loose:
        raise InputError(
            "not a FHIR package: no package/package.json and no .json resources",
            file=str(path),
            fix="give the package's .tgz or its unpacked folder",
        )
    return _from_files(path, loose, {"name": "local", "version": path.name})


def _read_tgz(path: Path) -> Package:
    try:
        with tarfile.open(path, "r:*") as tar:
            files: dict[str, bytes] = {}
            meta: dict[str, Any] | None = None
            for m in tar.getmembers():
                name = m.name.removeprefix("./")
                if not m.isfile() or not name.endswith(".json") or name.count("/") != 1:
                    continue  # package/<file>.json only: not examples, not other/
                if not name.startswith("package/"):
                    continue
                fh = tar.extractfile(m)
                data = fh.read() if fh else b""
                if name == "package/package.json":
                    meta = _json(path, data)
                else:
                    files[name[len("package/") :]] = data
    except (tarfile.TarError, OSError, EOFError) as err:
        raise InputError(
            f"cannot read package archive: {err}", file=str(path), fix="give a FHIR package .tgz"
        ) from None
    if meta is None:
        raise InputError(
            "not a FHIR package: no package/package.json in the archive",
            file=str(path),
            fix="give a FHIR package .tgz (the package/ folder format)",
        )
    return _from_files(path, files, meta)


def _json(where: Path, data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise InputError(f"not valid JSON: {err}", file=str(where), fix="repair the file") from None
    return value if isinstance(value, dict) else {}


def _from_files(source: Path, files: dict[str, bytes], meta: dict[str, Any]) -> Package:
    name, version = meta.get("name"), meta.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        raise InputError(
            "package.json has no name and version", file=str(source), fix="use a published package"
        )
    deps = meta.get("dependencies") or {}
    kept = {f: d for f, d in files.items() if any(k in d for k in _KIND_MARKS)}
    digest = hashlib.sha256()
    for fname in sorted(kept):
        digest.update(fname.encode() + b"\0" + hashlib.sha256(kept[fname]).digest())
    return Package(
        name,
        version,
        str(source),
        {str(k): str(v) for k, v in deps.items()},
        kept,
        digest.hexdigest(),
    )


def read_resources(pkg: Package) -> list[dict[str, Any]]:
    """The package's StructureDefinitions, ValueSets and CodeSystems; a profile or extension
    without a snapshot is refused."""
    out = []
    single = pkg.source.endswith(".json")
    for fname in sorted(pkg.files):
        res = _json(Path(pkg.source) / fname, pkg.files[fname])
        if res.get("resourceType") not in _KINDS:
            continue
        if res["resourceType"] == "StructureDefinition" and "snapshot" not in res:
            raise InputError(
                f"StructureDefinition {res.get('url', fname)} has only a differential (no snapshot)",
                file=pkg.source if single else f"{pkg.source}:{fname}",
                fix=SNAPSHOT_FIX,
            )
        out.append(res)
    return out


@dataclass
class Places:
    """Where packages are looked up, in order, and what each holds."""

    given: dict[str, Package] = field(default_factory=dict)  # name#version -> package read
    beside: list[Path] = field(default_factory=list)  # folders of given .tgz files
    shipped: dict[str, Path] = field(default_factory=dict)  # name#version -> shipped table file
    fhir_cache: bool = True  # look in ~/.fhir/packages (off when building the shipped tables)

    def describe(self, name: str, version: str) -> list[str]:
        """Every place looked for ``name#version``, as text."""
        key = f"{name}#{version}"
        out = [
            f"the tables shipped with fhir-adapter ({', '.join(sorted(self.shipped)) or 'none'})"
        ]
        out.append(f"the FHIR package cache {fhir_package_cache() / key / 'package'}")
        if self.given:
            out.append(f"the packages given ({', '.join(sorted(self.given))})")
        for d in self.beside:
            out.append(f"{d / (name + '-' + version + '.tgz')} and {d / (key + '.tgz')}")
        return out

    def find_cached(self, name: str, version: str) -> Path | None:
        """The package's folder or archive outside the shipped tables, if any."""
        folder = fhir_package_cache() / f"{name}#{version}"
        if self.fhir_cache and (folder / "package" / "package.json").is_file():
            return folder
        for d in self.beside:
            for candidate in (d / f"{name}-{version}.tgz", d / f"{name}#{version}.tgz"):
                if candidate.is_file():
                    return candidate
        return None


def latest_cached(name: str) -> str | None:
    """The highest version of ``name`` in the FHIR package cache (numeric comparison)."""
    root = fhir_package_cache()
    if not root.is_dir():
        return None
    versions = [p.name.partition("#")[2] for p in root.glob(f"{name}#*") if p.is_dir()]

    def order(v: str) -> tuple[Any, ...]:
        return tuple(int(x) if x.isdigit() else -1 for x in v.replace("-", ".").split("."))

    return max(versions, key=order) if versions else None


def missing_error(name: str, version: str, places: Places, needed_by: str | None) -> InputError:
    """The error for a package or dependency found nowhere."""
    what = f"package {name}#{version}" + (f" (a dependency of {needed_by})" if needed_by else "")
    looked = "; ".join(places.describe(name, version))
    return InputError(
        f"{what} not found; looked in: {looked}",
        field="--ig",
        fix=f"put {name}#{version} in {fhir_package_cache()} (as the HL7 validator or SUSHI do), "
        "or pass its .tgz or folder with --ig; or load without it (--allow-missing-deps: what it "
        "defines is then not checked)",
    )
