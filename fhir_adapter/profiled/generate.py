"""Regenerate the profile index (``data/igs.json``) from the official IG packages.

    python -m fhir_adapter.profiled.generate [--igs DIR] [--out FILE]

``DIR`` holds the published packages as ``<name>-<version>.tgz`` (default: ``../shared/igs``
beside the checkout). For every package named in :data:`PACKAGES` the index records each
resource profile's canonical URL and type, the top-level elements the profile makes required
that base R4 leaves optional (with their allowed types, upper bound, binding strength and
modifier flag, so an unknown fact can be marked data-absent in the right shape), for a
document profile (Composition) the entries each section slice requires, and the enumerated codes
of the value sets the profile modes read codes from (:data:`VALUESETS`). Output is sorted JSON: the same packages always give
the same bytes (``tests/profiled/test_index.py`` regenerates it and compares).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

OUT = Path(__file__).with_name("data") / "igs.json"
DEFAULT_IGS = Path(__file__).resolve().parents[2].parent / "shared" / "igs"

#: The packages whose profiles the output modes claim (file stem in the IG directory).
PACKAGES = (
    "hl7.fhir.us.core-3.1.1",
    "hl7.fhir.us.core-6.1.0",
    "hl7.fhir.us.core-7.0.0",
    "hl7.fhir.uv.ips-1.1.0",
)
#: Value sets whose enumerated codes (with the package's displays) the output modes use.
VALUESETS = ("http://hl7.org/fhir/us/core/ValueSet/us-core-diagnosticreport-category",)


def _members(tgz: Path) -> dict[str, Any]:
    """The package's ``package/*.json`` resources (examples and sub-folders left out)."""
    out: dict[str, Any] = {}
    with tarfile.open(tgz) as tar:
        for m in tar.getmembers():
            parts = m.name.split("/")
            if len(parts) == 2 and parts[0] == "package" and parts[1].endswith(".json"):
                fh = tar.extractfile(m)
                if fh is not None:
                    out[parts[1]] = json.loads(fh.read().decode("utf-8"))
    return out


def _requires(sd: dict[str, Any]) -> dict[str, Any]:
    """Top-level elements the profile requires (min >= 1) that base R4 leaves optional."""
    out: dict[str, Any] = {}
    rtype = sd["type"]
    for el in sd["snapshot"]["element"]:
        eid: str = el["id"]
        if ":" in eid or eid.count(".") != 1 or not eid.startswith(rtype + "."):
            continue
        if el.get("min", 0) < 1 or el.get("base", {}).get("min", 0) >= 1:
            continue
        name = eid.split(".", 1)[1]
        out[name] = {
            "max": el.get("max", "*"),
            "types": sorted({t["code"] for t in el.get("type", [])}),
        }
        if "binding" in el:
            out[name]["binding"] = el["binding"].get("strength")
        if el.get("isModifier"):
            out[name]["modifier"] = True
    return out


def _sections(sd: dict[str, Any]) -> dict[str, Any]:
    """Composition section slices: how many entries each needs (``entry_min``), and its
    required entry slices (``required_slices``: per slice, the profiles an entry may conform
    to; each such slice needs at least one entry, e.g. ``problem``: Condition-uv-ips)."""
    out: dict[str, Any] = {}
    for el in sd["snapshot"]["element"]:
        parts = el["id"].split(".")
        if len(parts) != 3 or not parts[1].startswith("section:"):
            continue
        section = out.setdefault(parts[1].split(":", 1)[1], {"required_slices": {}})
        if parts[2] == "entry":
            section["entry_min"] = el.get("min", 0)
        elif parts[2].startswith("entry:") and el.get("min", 0) >= 1:
            urls = sorted(u for t in el.get("type", []) for u in t.get("targetProfile", []))
            section["required_slices"][parts[2].split(":", 1)[1]] = urls
    return out


def index_package(tgz: Path) -> dict[str, Any]:
    """The index entry of one package file."""
    members = _members(tgz)
    meta = members["package.json"]
    if meta.get("fhirVersions") != ["4.0.1"]:
        raise SystemExit(f"{tgz}: not a FHIR 4.0.1 package ({meta.get('fhirVersions')})")
    profiles: dict[str, Any] = {}
    valuesets: dict[str, Any] = {}
    for res in members.values():
        rt = res.get("resourceType")
        if rt == "StructureDefinition" and res.get("kind") == "resource":
            if res.get("derivation") != "constraint" or "snapshot" not in res:
                continue
            profiles[res["id"]] = {
                "url": res["url"],
                "type": res["type"],
                "requires": _requires(res),
            }
            if res["type"] == "Composition":
                profiles[res["id"]]["sections"] = _sections(res)
        elif rt == "ValueSet" and res.get("url") in VALUESETS:
            valuesets[res["url"]] = [
                {"system": inc["system"], "code": c["code"], "display": c["display"]}
                for inc in res.get("compose", {}).get("include", [])
                for c in inc.get("concept", [])
            ]
    return {
        "name": meta["name"],
        "version": meta["version"],
        "canonical": meta["canonical"],
        "sha256": hashlib.sha256(tgz.read_bytes()).hexdigest(),
        "profiles": dict(sorted(profiles.items())),
        "valuesets": dict(sorted(valuesets.items())),
    }


def build(igs: Path) -> dict[str, Any]:
    """The whole index from the packages in ``igs``."""
    out: dict[str, Any] = {}
    for stem in PACKAGES:
        tgz = igs / f"{stem}.tgz"
        if not tgz.is_file():
            raise SystemExit(f"{tgz}: package not found (give --igs DIR holding {stem}.tgz)")
        entry = index_package(tgz)
        out[f"{entry['name']}#{entry['version']}"] = entry
    return out


def render(index: dict[str, Any]) -> str:
    """The index as the exact text written to disk."""
    return json.dumps(index, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--igs", type=Path, default=DEFAULT_IGS, help="folder of IG .tgz files")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the index")
    args = parser.parse_args(argv)
    text = render(build(args.igs))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(text)} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
