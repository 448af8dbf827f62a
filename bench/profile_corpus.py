"""A private-corpus-like score for profile validation: valid IG examples, and instances that each
break one profile rule that base R4 allows.

    python bench/profile_corpus.py [IGS_DIR] [--show N]

Population: every JSON example in ``package/example/`` of the official packages in IGS_DIR
(default ``../shared/igs``), checked against the profiles it claims and the one its
ImplementationGuide names for it. Valid set: the examples as published (a profile error on one
is a false positive). Broken set: for each example and each rule its profile's *snapshot* sets
on an element the example uses, one mutant breaking that rule alone:

- ``required``: an element the profile makes mandatory (min above the base's) is removed;
- ``max``: an element the profile limits to one value gets a second;
- ``fixed``: a primitive with a fixed value is changed;
- ``pattern``: a coding matching the profile's pattern gets another system;
- ``type``: a choice element gets a type base R4 allows and the profile does not;
- ``slice``: the values matching a mandatory slice (fixed/pattern discriminator) are removed;
- ``binding``: a code under a required binding whose value set is enumerated is replaced;
- ``maxLength``: a string is made one character too long;
- ``extension``: an extension the package defines gets a value type its definition does not
  allow, or loses a sub-extension its definition requires (e.g. us-core-race's ``text``).

The mutants are derived from the packages' own StructureDefinitions, independently of the
validator's compiled tables. A mutant counts only if base R4 validation finds nothing new in it
(so the rule it breaks is a profile rule); it is caught if profile validation reports a new
error. Prints per kind: mutants, caught; and the false positives on the valid set.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tarfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_IGS = Path(__file__).resolve().parents[1].parent / "shared" / "igs"
PACKAGES = {
    "hl7.fhir.us.core-3.1.1": "hl7.fhir.us.core#3.1.1",
    "hl7.fhir.us.core-6.1.0": "hl7.fhir.us.core#6.1.0",
    "hl7.fhir.us.core-7.0.0": "hl7.fhir.us.core#7.0.0",
    "hl7.fhir.uv.ips-1.1.0": "hl7.fhir.uv.ips#1.1.0",
}
#: Official examples that break their own profile, with the reason (not false positives).
KNOWN_DEFECTS = {
    ("hl7.fhir.us.core-3.1.1", "Observation-satO2-fiO2.json"): (
        "L/min is not in ucum-vitals-common, which US Core 3.1.1 binds as required"
    ),
}
OTHER_TYPES = {"string": "x", "boolean": True, "integer": 1, "dateTime": "2020-01-02"}


def read_package(tgz: Path) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """(url -> resource of the package, [(example file, example)])."""
    defs: dict[str, Any] = {}
    examples = []
    with tarfile.open(tgz) as tar:
        for m in tar.getmembers():
            name = m.name.rsplit("/", 1)[-1]
            if not m.isfile() or not name.endswith(".json") or name.startswith("."):
                continue
            fh = tar.extractfile(m)
            if fh is None:
                continue
            data = json.load(fh)
            if m.name.startswith("package/example/"):
                examples.append((name, data))
            elif m.name.count("/") == 1 and isinstance(data, dict):
                if data.get("resourceType") == "ImplementationGuide":
                    defs["__ig__"] = data
                elif data.get("url"):
                    defs[data["url"]] = data
    return defs, sorted(examples, key=lambda x: x[0])


def profile_for(example: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any] | None:
    """The example's profile: meta.profile claimed, else the IG's exampleCanonical."""
    claims = (example.get("meta") or {}).get("profile") or []
    for url in claims:
        if url.split("|")[0] in defs:
            return defs[url.split("|")[0]]  # type: ignore[no-any-return]
    key = f"{example.get('resourceType')}/{example.get('id')}"
    for r in (defs.get("__ig__") or {}).get("definition", {}).get("resource", []):
        if r.get("reference", {}).get("reference") == key and r.get("exampleCanonical") in defs:
            return defs[r["exampleCanonical"]]  # type: ignore[no-any-return]
    return None


def holders(node: Any, segs: list[str]) -> Iterator[tuple[dict[str, Any], str]]:
    """(object, JSON key) for each place element path ``segs`` occurs in ``node``."""
    if not isinstance(node, dict) or not segs:
        return
    seg = segs[0]
    if seg.endswith("[x]"):
        keys = [
            k for k in node if k.startswith(seg[:-3]) and k[len(seg) - 3 : len(seg) - 2].isupper()
        ]
    else:
        keys = [seg] if seg in node else []
    for k in keys:
        if len(segs) == 1:
            yield node, k
            continue
        values = node[k] if isinstance(node[k], list) else [node[k]]
        for v in values:
            yield from holders(v, segs[1:])


def sliced_holders(
    node: Any, eid: str, els: dict[str, dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], str]]:
    """Like ``holders`` for an element id that may name slices (``a.b:s.c``): only the values
    that match each slice's (single, value/pattern) discriminator are followed; nothing when a
    slice cannot be told apart this simply."""
    parts = eid.split(".")
    yield from _walk_ids(node, parts[0], parts[1:], els)


def _walk_ids(
    node: Any, prefix: str, rest: list[str], els: dict[str, dict[str, Any]]
) -> Iterator[tuple[dict[str, Any], str]]:
    if not isinstance(node, dict) or not rest:
        return
    seg, _, slice_name = rest[0].partition(":")
    slicer_id = f"{prefix}.{seg}"
    here = f"{slicer_id}:{slice_name}" if slice_name else slicer_id
    want = None
    if slice_name:
        slicer = els.get(slicer_id) or {}
        discs = (slicer.get("slicing") or {}).get("discriminator", [])
        if len(discs) != 1 or discs[0]["type"] not in ("value", "pattern") or "/" in slice_name:
            return
        path = discs[0]["path"]
        crit = els.get(here if path == "$this" else f"{here}.{path}")
        want = crit and (_fixed(crit, "fixed") or _fixed(crit, "pattern"))
        if want is None:
            return
    for obj, key in holders(node, [seg]):
        if len(rest) == 1 and want is None:
            yield obj, key
            continue
        values = obj[key] if isinstance(obj[key], list) else [obj[key]]
        for v in values:
            if want is not None and not _matches(want, _at(v, discs[0]["path"])):
                continue
            if len(rest) == 1:
                yield obj, key  # the slice itself: its holder (values filtered above)
                break
            yield from _walk_ids(v, here, rest[1:], els)


def _fixed(el: dict[str, Any], prefix: str) -> Any:
    for k, v in el.items():
        if k.startswith(prefix) and k[len(prefix) : len(prefix) + 1].isupper():
            return v
    return None


def _enumerated(url: str, defs: dict[str, Any]) -> dict[str, set[str]] | None:
    vs = defs.get(url.split("|")[0])
    if not vs or vs.get("resourceType") != "ValueSet":
        return None
    out: dict[str, set[str]] = {}
    for inc in (vs.get("compose") or {}).get("include", []):
        if not inc.get("concept") or inc.get("filter") or inc.get("valueSet"):
            return None
        out.setdefault(inc.get("system", ""), set()).update(c["code"] for c in inc["concept"])
    return out or None


def mutants(
    example: dict[str, Any], sd: dict[str, Any], defs: dict[str, Any]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(kind, element id, mutant) for each rule of the profile the example lets us break."""
    els = sd["snapshot"]["element"]
    by_id = {el["id"]: el for el in els}
    for el in els:
        eid: str = el["id"]
        if "." not in eid or eid.rsplit(".", 1)[1].count(":"):
            yield from _slice_mutants(example, el, els)
            continue  # slices themselves: see _slice_mutants
        base = el.get("base") or {}
        last = eid.rsplit(".", 1)[1]

        def at(m: Any, eid: str = eid) -> list[tuple[dict[str, Any], str]]:
            return list(sliced_holders(m, eid, by_id))

        places = at(example)
        optional_discriminator = _discriminates_optional_slice(eid, by_id)
        if not places:
            yield from _slice_mutants(example, el, els)
            continue
        if el.get("min", 0) > base.get("min", 0) and ":" not in eid:
            m = copy.deepcopy(example)
            for obj, key in at(m):
                del obj[key]
                obj.pop("_" + key, None)
            yield "required", eid, m
        if el.get("max") == "1" and base.get("max") == "*" and ":" not in eid:
            for i, (obj, key) in enumerate(places):
                if isinstance(obj[key], list) and len(obj[key]) == 1:
                    m = copy.deepcopy(example)
                    o, k = at(m)[i]
                    o[k] = o[k] + copy.deepcopy(o[k])
                    yield "max", eid, m
                    break
        fixed = _fixed(el, "fixed")
        if fixed is not None and not isinstance(fixed, (dict, list)) and not optional_discriminator:
            m = copy.deepcopy(example)
            for obj, key in at(m):
                v = obj[key]
                obj[key] = (
                    (not v)
                    if isinstance(v, bool)
                    else v + 1
                    if isinstance(v, int)
                    else f"{v}-x"
                    if isinstance(v, str)
                    else v
                )
            yield "fixed", eid, m
        pattern = _fixed(el, "pattern")
        if isinstance(pattern, dict) and pattern.get("coding") and not optional_discriminator:
            m = copy.deepcopy(example)
            for obj, key in at(m):
                values = obj[key] if isinstance(obj[key], list) else [obj[key]]
                for v in values:
                    for c in v.get("coding", []) if isinstance(v, dict) else []:
                        c["system"] = "http://example.org/fhir/other-system"
            yield "pattern", eid, m
        if last.endswith("[x]"):
            allowed = {t["code"] for t in el.get("type", [])}
            other = next(
                (
                    t
                    for t in OTHER_TYPES
                    if t not in allowed and _base_allows(base.get("path", ""), t)
                ),
                None,
            )
            if other is not None:
                m = copy.deepcopy(example)
                for obj, key in at(m):
                    del obj[key]
                    obj[last[:-3] + other[0].upper() + other[1:]] = OTHER_TYPES[other]
                yield "type", eid, m
        ml = el.get("maxLength")
        if ml:
            m = copy.deepcopy(example)
            for obj, key in at(m):
                if isinstance(obj[key], str):
                    obj[key] = "x" * (ml + 1)
            yield "maxLength", eid, m
        b = el.get("binding") or {}
        vs = _enumerated(b.get("valueSet", ""), defs) if b.get("strength") == "required" else None
        base_bind = _base_binding(base.get("path", ""))
        if vs and base_bind != ["required", b["valueSet"].split("|")[0]]:
            other_code = _outside(vs, base_bind)
            m = copy.deepcopy(example)
            for obj, key in at(m):
                v = obj[key]
                if isinstance(v, str):
                    obj[key] = other_code
                for c in (v.get("coding", []) if isinstance(v, dict) else []) or (
                    [v] if isinstance(v, dict) and "code" in v else []
                ):
                    c["code"] = other_code
                    c.pop("display", None)
            yield "binding", eid, m
        yield from _slice_mutants(example, el, els)


def _discriminates_optional_slice(eid: str, by_id: dict[str, dict[str, Any]]) -> bool:
    """Whether ``eid`` is the discriminator element of an optional slice: changing its value
    only moves the value out of the slice, which open slicing allows (no rule broken)."""
    head, sep, tail = eid.rpartition(":")
    if not sep:
        return False
    slice_name, _, rest = tail.partition(".")
    slice_id = f"{head}:{slice_name}"
    slicer = by_id.get(head) or {}
    discs = (slicer.get("slicing") or {}).get("discriminator", [])
    paths = {d["path"] for d in discs}
    return (rest in paths or (not rest and "$this" in paths)) and (by_id.get(slice_id) or {}).get(
        "min", 0
    ) == 0


def _outside(vs: dict[str, set[str]], base_bind: Any) -> str:
    """A code base R4 accepts (in the base's required value set, if any) but the profile's
    enumerated value set lacks."""
    if base_bind and base_bind[0] == "required":
        from fhir_adapter.validation.tables import valueset

        got = valueset(base_bind[1])
        if got is not None:
            inside = {c for codes in vs.values() for c in codes}
            for code in sorted(got[2]):
                if code not in inside:
                    return code
    return "not-in-the-value-set"


def extension_mutants(
    example: dict[str, Any], defs: dict[str, Any]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Break each extension (defined in the package) that the example uses, one way at a time."""
    found = []

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k in ("extension", "modifierExtension") and isinstance(v, list):
                    for i, e in enumerate(v):
                        if isinstance(e, dict) and e.get("url") in defs:
                            found.append((*path, k, i))
                    continue  # sub-extensions belong to their extension's definition
                walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, (*path, i))

    walk(example, ())
    for where in found:
        ext = example
        for step in where:
            ext = ext[step]
        sd = defs[ext["url"]]
        els = {el["id"]: el for el in sd.get("snapshot", {}).get("element", [])}
        value = els.get("Extension.value[x]") or {}
        allowed = {t["code"] for t in value.get("type", [])} if value.get("max") != "0" else set()
        have = next((k for k in ext if k.startswith("value")), None)
        if have is not None:
            other = "string" if "string" not in allowed else "boolean"
            m = copy.deepcopy(example)
            target = m
            for step in where:
                target = target[step]
            del target[have]
            target["value" + other[0].upper() + other[1:]] = OTHER_TYPES[other]
            yield "extension", f"{ext['url']} value[x]", m
        for eid, el in els.items():
            if (
                eid.count(":") == 1
                and eid.startswith("Extension.extension:")
                and "." not in eid[20:]
                and el.get("min", 0) >= 1
            ):
                url = (els.get(eid + ".url") or {}).get("fixedUri")
                if not url or not any(
                    isinstance(x, dict) and x.get("url") == url for x in ext.get("extension", [])
                ):
                    continue
                m = copy.deepcopy(example)
                target = m
                for step in where:
                    target = target[step]
                target["extension"] = [x for x in target["extension"] if x.get("url") != url]
                if not target["extension"]:
                    continue  # removing the last one would break ext-1 (base R4)
                yield "extension", f"{ext['url']} {eid}", m


def _slice_mutants(
    example: dict[str, Any], el: dict[str, Any], els: list[dict[str, Any]]
) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Remove the values matching a mandatory slice whose discriminator has a fixed/pattern value."""
    eid = el["id"]
    if ":" in eid or not el.get("slicing") or eid.split(".")[-1] == "extension":
        return
    discs = el["slicing"].get("discriminator", [])
    if len(discs) != 1 or discs[0]["type"] not in ("value", "pattern"):
        return
    path = discs[0]["path"]
    for s in els:
        if (
            not s["id"].startswith(eid + ":")
            or "." in s["id"][len(eid) + 1 :]
            or s.get("min", 0) < 1
        ):
            continue
        crit = (
            next((c for c in els if c["id"] == f"{s['id']}.{path}"), None) if path != "$this" else s
        )
        want = crit and (_fixed(crit, "fixed") or _fixed(crit, "pattern"))
        if want is None:
            continue
        segs = eid.split(".")[1:]
        m = copy.deepcopy(example)
        removed = 0
        for obj, key in holders(m, segs):
            values = obj[key] if isinstance(obj[key], list) else [obj[key]]
            kept = [v for v in values if not _matches(want, _at(v, path))]
            removed += len(values) - len(kept)
            if kept:
                obj[key] = kept
            else:
                del obj[key]
        if removed:
            yield "slice", s["id"], m


def _at(v: Any, path: str) -> list[Any]:
    cur = [v]
    for seg in [] if path == "$this" else path.split("."):
        nxt: list[Any] = []
        for c in cur:
            got = c.get(seg) if isinstance(c, dict) else None
            nxt.extend(got if isinstance(got, list) else [got] if got is not None else [])
        cur = nxt
    return cur


def _matches(want: Any, values: list[Any]) -> bool:
    def sub(p: Any, v: Any) -> bool:
        if isinstance(p, dict):
            return isinstance(v, dict) and all(sub(pv, v.get(k)) for k, pv in p.items())
        if isinstance(p, list):
            vs = v if isinstance(v, list) else [v]
            return all(any(sub(pi, vi) for vi in vs) for pi in p)
        return bool(p == v)

    return any(sub(want, v) for v in values)


def _core_row(path: str) -> dict[str, Any]:
    from fhir_adapter.validation.tables import tables

    owner, _, name = path.rpartition(".")
    t = tables()["types"].get(owner)
    return (t["el"].get(name.removesuffix("[x]")) if t else None) or {}


def _base_allows(path: str, t: str) -> bool:
    return t in (_core_row(path).get("types") or [])


def _base_binding(path: str) -> Any:
    return _core_row(path).get("bind")


def _key(i: Any) -> tuple[str, str]:
    return (i.rule, i.path)


def score(igs: Path) -> dict[str, Any]:
    """Score every package in ``igs``: per kind (mutants, caught), false positives, misses."""
    from fhir_adapter.validation import Validator

    base = Validator()
    kinds: Counter[str] = Counter()
    caught: Counter[str] = Counter()
    discarded = 0
    valid = false_pos = known = 0
    fps: list[str] = []
    misses: list[str] = []
    for tgz_name, ig in PACKAGES.items():
        tgz = igs / f"{tgz_name}.tgz"
        if not tgz.is_file():
            continue
        defs, examples = read_package(tgz)
        validators: dict[str, Validator] = {}
        for name, ex in examples:
            sd = profile_for(ex, defs)
            if sd is None or "snapshot" not in sd:
                continue
            v = validators.get(sd["url"]) or validators.setdefault(
                sd["url"], Validator(igs=[ig], profiles=[sd["url"]])
            )
            before = v.validate_resource(ex)
            before_base = {_key(i) for i in base.validate_resource(ex).errors}
            valid += 1
            prof_errors = [i for i in before.errors if "[profile " in i.message]
            if prof_errors and (tgz_name, name) in KNOWN_DEFECTS:
                known += 1
            elif prof_errors:
                false_pos += 1
                fps.append(f"{tgz_name} {name}: {prof_errors[0]}")
            before_prof = {_key(i) for i in before.errors}
            for kind, eid, m in [*mutants(ex, sd, defs), *extension_mutants(ex, defs)]:
                if {_key(i) for i in base.validate_resource(m).errors} - before_base:
                    discarded += 1  # base R4 rejects the mutant: not a profile-only rule
                    continue
                kinds[kind] += 1
                if {_key(i) for i in v.validate_resource(m).errors} - before_prof:
                    caught[kind] += 1
                else:
                    misses.append(f"{tgz_name} {name} {kind} {eid}")
    return {
        "valid": valid,
        "false_positives": false_pos,
        "known_defects": known,
        "fps": fps,
        "kinds": dict(kinds),
        "caught": dict(caught),
        "mutants": sum(kinds.values()),
        "caught_total": sum(caught.values()),
        "discarded_base_rejects": discarded,
        "misses": misses,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("igs", type=Path, nargs="?", default=DEFAULT_IGS)
    ap.add_argument("--show", type=int, default=30, help="misses and false positives to list")
    args = ap.parse_args()
    r = score(args.igs)
    print(
        f"valid set: {r['valid']} official examples with a loaded profile; false positives: {r['false_positives']}"
    )
    for f in r["fps"][: args.show]:
        print(f"  FP {f}")
    pct = 100 * r["caught_total"] / max(r["mutants"], 1)
    print(
        f"broken set: {r['mutants']} mutants breaking one profile rule base R4 allows "
        f"({r['discarded_base_rejects']} more discarded: base R4 rejects them); caught {r['caught_total']} ({pct:.1f}%)"
    )
    for kind, n in sorted(r["kinds"].items()):
        print(f"  {kind:10} {r['caught'].get(kind, 0):5d}/{n}")
    for m in r["misses"][: args.show]:
        print(f"  missed {m}")


if __name__ == "__main__":
    sys.exit(main())
