"""Generate the offline SNOMED CT index (``data/snomed-ips.json.gz``) from the IPS package.

The IPS 1.1.0 package (``hl7.fhir.uv.ips``) carries the SNOMED CT IPS free set as value-set
expansions with preferred-term displays. This keeps, per concept, its code, display and the free
sets it belongs to; plus the edition and the licence text the package states. Run::

    python -m fhir_adapter.concepts.generate [--package ../shared/igs/hl7.fhir.uv.ips-1.1.0.tgz]

The output is deterministic: the same package gives byte-identical JSON.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
import tarfile
from pathlib import Path
from typing import Any

from fhir_adapter.codesystems import SNOMED
from fhir_adapter.paths import PACKAGE_DIR

OUT = PACKAGE_DIR / "concepts" / "data" / "snomed-ips.json.gz"
DEFAULT_PACKAGE = PACKAGE_DIR.parent.parent / "shared" / "igs" / "hl7.fhir.uv.ips-1.1.0.tgz"

#: IPS value set id -> the concept kinds (``concepts search --kind``) its members serve.
#: Only the SNOMED CT IPS free sets; the reaction set enumerates members of the problems set.
FREE_SETS: dict[str, tuple[str, ...]] = {
    "problems-snomed-ct-ips-free-set": ("condition", "finding"),
    "procedures-snomed-ct-ips-free-set": ("procedure",),
    "allergy-intolerance-snomed-ct-ips-free-set": ("allergy",),
    "allergy-reaction-snomed-ct-ips-free-set": ("reaction", "finding"),
    "results-specimen-type-snomed-ct-ips-free-set": ("specimen",),
    "results-microorganism-snomed-ct-ips-free-set": ("organism",),
    "results-blood-group-snomed-ct-ips-free-set": ("qualifier",),
    "results-presence-absence-snomed-ct-ips-free-set": ("qualifier",),
    "medical-devices-snomed-ct-ips-free-set": ("device",),
    "medications-snomed-ct-ips-free-set": ("medication",),
    "vaccines-snomed-ct-ips-free-set": ("vaccine",),
    "target-diseases-snomed-ct-ips-free-set": ("condition",),
}


def _read_package(path: Path) -> dict[str, dict[str, Any]]:
    """``package/<name>.json`` resources of a package (.tgz or unpacked folder) by file name."""
    out: dict[str, dict[str, Any]] = {}
    if path.is_dir():
        root = path / "package" if (path / "package").is_dir() else path
        for f in root.glob("*.json"):
            out[f.name] = json.loads(f.read_text(encoding="utf-8"))
        return out
    with tarfile.open(path, "r:gz") as tar:
        for member in tar.getmembers():
            name = member.name
            if name.count("/") == 1 and name.startswith("package/") and name.endswith(".json"):
                fh = tar.extractfile(member)
                if fh is not None:
                    out[name.split("/", 1)[1]] = json.loads(fh.read())
    return out


def build(package: Path) -> dict[str, Any]:
    """The index: source package, edition, licence, value sets and concepts."""
    files = _read_package(package)
    manifest = files["package.json"]
    displays: dict[str, str] = {}
    members: dict[str, set[int]] = {}
    valuesets: list[dict[str, Any]] = []
    editions: set[str] = set()
    copyrights: set[str] = set()
    for i, (vs_id, kinds) in enumerate(FREE_SETS.items()):
        vs = files[f"ValueSet-{vs_id}.json"]
        valuesets.append({"id": vs_id, "url": vs["url"], "title": vs["title"], "kinds": kinds})
        copyrights.add(vs["copyright"])
        expansion = vs.get("expansion")
        if expansion:
            for p in expansion.get("parameter", ()):
                if p.get("name") == "version":
                    editions.add(p["valueUri"].split("|", 1)[1])
            for c in expansion["contains"]:
                if c["system"] != SNOMED:
                    continue
                displays.setdefault(c["code"], c["display"])
                members.setdefault(c["code"], set()).add(i)
        else:  # enumerated (FSN displays): keep members the expansions give a preferred term for
            for inc in vs["compose"]["include"]:
                for c in inc.get("concept", ()):
                    if inc.get("system") == SNOMED and c["code"] in displays:
                        members[c["code"]].add(i)
    if len(editions) != 1 or len(copyrights) != 1:
        raise ValueError(f"free sets disagree on edition or licence: {editions} {len(copyrights)}")
    concepts = [[code, displays[code], sorted(members[code])] for code in sorted(displays, key=int)]
    return {
        "package": {
            "name": manifest["name"],
            "version": manifest["version"],
            "date": manifest["date"],
            "license": manifest["license"],
        },
        "system": SNOMED,
        "edition": editions.pop(),
        "copyright": copyrights.pop(),
        "valuesets": valuesets,
        "concepts": concepts,
    }


def dump(index: dict[str, Any]) -> bytes:
    """The index as canonical JSON bytes (sorted keys, no spaces)."""
    return json.dumps(index, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def main(argv: list[str] | None = None) -> int:
    """Command line: regenerate the shipped index (or write it to ``--out``)."""
    parser = argparse.ArgumentParser(prog="python -m fhir_adapter.concepts.generate")
    parser.add_argument("--package", type=Path, default=DEFAULT_PACKAGE, help="IPS 1.1.0 .tgz")
    parser.add_argument("--out", type=Path, default=OUT, help="output .json.gz")
    args = parser.parse_args(argv)
    data = dump(build(args.package))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(gzip.compress(data, mtime=0))  # mtime=0: byte-identical rebuilds
    digest = hashlib.sha256(args.package.read_bytes()).hexdigest()[:12]
    print(f"wrote {args.out} ({len(data)} bytes of JSON) from {args.package} ({digest})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
