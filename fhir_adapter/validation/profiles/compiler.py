"""Compile a FHIR package's StructureDefinition snapshots, ValueSets and CodeSystems into compact
profile tables (one compiler for every profile: no per-profile code). The shipped tables are
written by :mod:`fhir_adapter.validation.profiles.generate`; other packages' tables are compiled
on first use by :mod:`fhir_adapter.validation.profiles.load`.

A table keeps, per profile, only what the profile adds to base R4 (which the engine already
checks): cardinality that differs from the base element's, type and target-profile restrictions,
type profiles, fixed and pattern values, required and extensible bindings, constraints the profile
introduces, ``maxLength``, mustSupport, slicing with each slice's match criteria (resolved here,
through type profiles where the snapshot does not expand the discriminator's element), and the
elements on the way to any of these. Output is deterministic (sorted keys, gzip mtime 0).
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable
from typing import Any

from fhir_adapter.validation.generate import _type_code
from fhir_adapter.validation.tables import tables as core_tables

#: Bumped whenever the table format or its compilation changes (cached tables are keyed by it).
GENERATOR_VERSION = 1
_CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
_JSON_TYPE = {"SimpleQuantity": "Quantity", "MoneyQuantity": "Quantity"}
_EXT_FN = re.compile(r"""^extension\(['"]([^'"]+)['"]\)$""")
Lookup = Callable[[str], "dict[str, Any] | None"]


def _core_row(base_path: str) -> dict[str, Any] | None:
    """The R4 core table row of a base element path such as ``Observation.value[x]``."""
    owner, _, name = base_path.rpartition(".")
    t = core_tables()["types"].get(owner)
    return t["el"].get(name.removesuffix("[x]")) if t else None


def _split_id(eid: str) -> tuple[str, str, str | None]:
    """Element id -> (parent id, element name, slice name or None)."""
    parent, _, last = eid.rpartition(".")
    name, _, slice_name = last.partition(":")
    return parent, name, slice_name or None


class _Raw:
    __slots__ = ("children", "el", "slices")

    def __init__(self, el: dict[str, Any]) -> None:
        self.el = el
        self.children: dict[str, _Raw] = {}
        self.slices: list[_Raw] = []


def _tree(sd: dict[str, Any]) -> _Raw:
    els = sd["snapshot"]["element"]
    nodes = {els[0]["id"]: _Raw(els[0])}
    for el in els[1:]:
        eid = el.get("id") or el["path"]
        node = nodes[eid] = _Raw(el)
        parent, name, slice_name = _split_id(eid)
        if slice_name is not None:
            head, _, _ = slice_name.rpartition("/")
            slicer = nodes.get(f"{parent}.{name}:{head}" if head else f"{parent}.{name}")
            if slicer is None and not parent:
                slicer = nodes.get(f"{name}:{head}" if head else name)
            if slicer is not None:
                slicer.slices.append(node)
            continue
        owner = nodes.get(parent)
        if owner is not None:
            owner.children[name] = node
    return nodes[els[0]["id"]]


def _value_of(el: dict[str, Any], prefix: str) -> tuple[str, Any] | None:
    for k, v in el.items():
        if k.startswith(prefix) and k[len(prefix) : len(prefix) + 1].isupper():
            return k[len(prefix) :], v
    return None


def _own(el: dict[str, Any], sd_url: str, is_slice: bool) -> dict[str, Any]:
    """What element ``el`` adds to its base R4 element."""
    out: dict[str, Any] = {}
    base = el.get("base") or {}
    bmin, bmax = base.get("min", 0), base.get("max", "*")
    emin, emax = el.get("min", 0), el.get("max", "*")
    if is_slice or emin != bmin or emax != bmax:
        out["min"] = emin
        out["max"] = -1 if emax == "*" else int(emax)
    row = _core_row(base.get("path", "")) or {}
    types = el.get("type") or []
    # JSON type names (a SimpleQuantity is written as a Quantity), in snapshot order
    codes = list(dict.fromkeys(_JSON_TYPE.get(c, c) for c in map(_type_code, types)))
    base_types = {_JSON_TYPE.get(c, c) for c in row.get("types") or []}
    if codes and base_types and len(base_types) > 1 and set(codes) < base_types:
        out["types"] = codes
    tprof: dict[str, list[str]] = {}
    for t in types:
        code = _type_code(t)
        profiles = [p for p in t.get("profile", []) if p.split("|")[0] != _CORE_SD + code]
        if profiles and code not in ("SimpleQuantity", "MoneyQuantity"):
            tprof.setdefault(code, []).extend(p.split("|")[0] for p in profiles)
    if tprof:
        out["tprof"] = {k: sorted(set(v)) for k, v in sorted(tprof.items())}
    targets = sorted(
        {
            p.split("|")[0]
            for t in types
            if t["code"] == "Reference"
            for p in t.get("targetProfile", [])
        }
    )
    base_targets = {_CORE_SD + t for t in row.get("targets", ())}
    if targets and set(targets) != base_targets and _CORE_SD + "Resource" not in targets:
        out["targets"] = targets
    fixed = _value_of(el, "fixed")
    if fixed is not None:
        out["fixed"] = list(fixed)
    pattern = _value_of(el, "pattern")
    if pattern is not None:
        out["pattern"] = list(pattern)
    b = el.get("binding") or {}
    if b.get("strength") in ("required", "extensible") and b.get("valueSet"):
        bind = [b["strength"], b["valueSet"].split("|")[0]]
        if row.get("bind") != bind:
            out["bind"] = bind
            out["bt"] = codes
    cons = []
    for c in el.get("constraint", []):
        source = str(c.get("source", ""))
        if not c.get("expression") or c["key"] in ("ele-1", "ext-1"):
            continue
        if source.startswith(_CORE_SD) and source[len(_CORE_SD) :] in core_tables()["types"]:
            continue  # base R4 constraint: the engine checks it
        if not source and any(
            c["key"] == k[0] for k in core_tables()["constraints"].get(base.get("path", ""), [])
        ):
            continue
        cons.append([c["key"], c.get("severity", "error"), c.get("human", ""), c["expression"]])
    if cons:
        out["cons"] = cons
        out["bp"] = base.get("path", "")
    if "maxLength" in el:
        out["maxlen"] = el["maxLength"]
    if el.get("mustSupport"):
        out["ms"] = 1
    s = el.get("slicing")
    if s:
        out["slicing"] = {
            "disc": [[d["type"], d["path"]] for d in s.get("discriminator", [])],
            "rules": s.get("rules", "open"),
            "ordered": bool(s.get("ordered")),
        }
    return out


def _navigate(
    raw: _Raw | None, node: dict[str, Any] | None, path: str, lookup: Lookup
) -> tuple[dict[str, Any] | None, str]:
    """Follow a discriminator path from a slice; returns (compiled-like element facts, how).

    ``raw`` walks the snapshot; past its expanded elements the walk continues in the compiled
    table of the element's type profile (``lookup``). ``how`` is ``"resolve"`` when the path
    ended in ``resolve()`` (profile discriminators then use target profiles).
    """
    segs = [s for s in path.split(".") if s and s != "$this"] if path != "$this" else []
    facts: dict[str, Any] | None = _facts(raw) if raw is not None else node
    how = ""
    for i, seg in enumerate(segs):
        if seg == "resolve()":
            how = "resolve"
            if i == len(segs) - 1:
                break
            targets = (facts or {}).get("targets") or []
            target = lookup(targets[0]) if len(targets) == 1 else None
            raw, facts = None, target["root"] if target else None
            continue
        if seg.startswith("ofType("):
            continue
        m = _EXT_FN.match(seg)
        name, want_url = ("extension", m.group(1)) if m else (seg.removesuffix("[x]"), None)
        nxt_raw = None
        if raw is not None:
            nxt_raw = raw.children.get(name) or raw.children.get(name + "[x]")
            if nxt_raw is not None and want_url:
                nxt_raw = next((s for s in nxt_raw.slices if _ext_url(s) == want_url), None)
        if nxt_raw is not None:
            raw, facts = nxt_raw, _facts(nxt_raw)
            continue
        # not expanded in the snapshot: continue in the type profile's table, if there is one
        profiles = [p for ps in ((facts or {}).get("tprof") or {}).values() for p in ps]
        typed = lookup(profiles[0]) if len(profiles) == 1 else None
        base = typed["root"] if typed is not None else facts
        raw = None
        if base is None:
            return None, how
        if name == "url" and (base.get("ch") or {}).get("url") is None and len(profiles) == 1:
            return {"fixed": ["Uri", profiles[0]]}, how
        child = (base.get("ch") or {}).get(name) or (base.get("ch") or {}).get(name + "[x]")
        if child is not None and want_url:
            child = next((s for s in child.get("slices", []) if _match_url(s) == want_url), None)
        facts = child
        if facts is None:
            return None, how
    return facts, how


def _facts(raw: _Raw) -> dict[str, Any]:
    """The matching-relevant facts of a snapshot element (unpruned)."""
    el = raw.el
    out = _own(el, "", True)
    out["types"] = sorted({_type_code(t) for t in el.get("type") or []})
    if el.get("type") and not out.get("targets"):
        tg = sorted({p for t in el["type"] for p in t.get("targetProfile", [])})
        if tg:
            out["targets"] = tg
    return out


def _ext_url(raw: _Raw) -> str | None:
    url = raw.children.get("url")
    if url is not None and "fixedUri" in url.el:
        return str(url.el["fixedUri"])
    profiles = [p for t in raw.el.get("type", []) for p in t.get("profile", [])]
    return profiles[0].split("|")[0] if len(profiles) == 1 else None


def _match_url(node: dict[str, Any]) -> str | None:
    for kind, path, arg in node.get("match", []):
        if kind == "fixed" and path == "url":
            return str(arg)
    return None


def _criteria(slicing: dict[str, Any], raw: _Raw, lookup: Lookup) -> list[list[Any]]:
    """Per discriminator, the test a value must pass to belong to slice ``raw``."""
    out: list[list[Any]] = []
    for dtype, path in slicing["disc"]:
        facts, how = _navigate(raw, None, path, lookup)
        if facts is None:
            out.append(["unknown", path, f"no element for discriminator {dtype}:{path}"])
        elif dtype in ("value", "pattern") and facts.get("fixed") is not None:
            out.append(["fixed" if dtype == "value" else "pattern", path, facts["fixed"][1]])
        elif dtype in ("value", "pattern") and facts.get("pattern") is not None:
            out.append(["pattern", path, facts["pattern"][1]])
        elif dtype in ("value", "pattern") and (facts.get("bind") or [""])[0] == "required":
            out.append(["in", path, facts["bind"][1]])
        elif facts.get("max") == 0:
            out.append(["empty", path, None])
        elif dtype == "exists" and (facts.get("min") or 0) >= 1:
            out.append(["exists", path, None])
        elif dtype == "type":
            types = facts.get("types") or []
            if how == "resolve":
                types = sorted({t.rsplit("/", 1)[-1] for t in facts.get("targets") or []})
            out.append(["type", path, types])
        elif dtype == "profile":
            urls = (
                facts.get("targets")
                if how == "resolve"
                else [p for ps in (facts.get("tprof") or {}).values() for p in ps]
            )
            out.append(["profile", path, sorted(set(urls or []))])
        else:
            out.append(["unknown", path, f"slice sets nothing for discriminator {dtype}:{path}"])
    return out


def _compile(
    raw: _Raw, sd_url: str, lookup: Lookup, is_slice: bool = False
) -> dict[str, Any] | None:
    node = _own(raw.el, sd_url, is_slice)
    kids = {}
    for name, child in raw.children.items():
        c = _compile(child, sd_url, lookup)
        if c is not None:
            kids[name] = c
    if kids:
        node["ch"] = kids
    if raw.slices and "slicing" in node:
        slices = []
        for s in raw.slices:
            c = _compile(s, sd_url, lookup, is_slice=True) or {}
            c["name"] = s.el.get("sliceName") or s.el["id"].rpartition(":")[2]
            c["id"] = s.el["id"]
            slices.append(c)
        node["slices"] = slices
    if not node:
        return None
    node["id"] = raw.el["id"]
    return node


def _add_criteria(node: dict[str, Any], raws: dict[str, _Raw], lookup: Lookup) -> None:
    for s in node.get("slices", []):
        s["match"] = _criteria(node["slicing"], raws[s["id"]], lookup)
        _add_criteria(s, raws, lookup)
    for c in node.get("ch", {}).values():
        _add_criteria(c, raws, lookup)


def _index(raw: _Raw, out: dict[str, _Raw]) -> dict[str, _Raw]:
    out[raw.el["id"]] = raw
    for c in raw.children.values():
        _index(c, out)
    for s in raw.slices:
        _index(s, out)
    return out


def compile_structure(sd: dict[str, Any], lookup: Lookup) -> tuple[dict[str, Any], _Raw]:
    """One StructureDefinition -> its profile table (slice criteria added later)."""
    raw = _tree(sd)
    root = _compile(raw, sd["url"], lookup) or {}
    root["id"] = raw.el["id"]
    out: dict[str, Any] = {
        "url": sd["url"],
        "version": sd.get("version", ""),
        "name": sd.get("name", ""),
        "type": sd["type"],
        "kind": sd.get("kind", ""),
        "abstract": bool(sd.get("abstract")),
        "base": (sd.get("baseDefinition") or "").split("|")[0],
        "root": root,
    }
    if sd["type"] == "Extension":
        out["context"] = [
            [c.get("type", "element"), c.get("expression", "")] for c in sd.get("context", [])
        ]
        value = raw.children.get("value[x]")
        if value is not None and value.el.get("max") != "0":
            out["value_types"] = sorted({_type_code(t) for t in value.el.get("type", [])})
        else:
            out["value_types"] = []
    return out, raw


def compile_valueset(vs: dict[str, Any]) -> dict[str, Any]:
    """A ValueSet's compose as rules: per include/exclude, system + codes, filters, value sets."""

    def rules(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for inc in items:
            r: dict[str, Any] = {}
            if inc.get("system"):
                r["s"] = inc["system"].split("|")[0]  # some packages append |version
            if inc.get("concept"):
                r["c"] = sorted({c["code"] for c in inc["concept"]})
            if inc.get("filter"):
                r["f"] = [[f.get("property"), f.get("op"), f.get("value")] for f in inc["filter"]]
            if inc.get("valueSet"):
                r["vs"] = [v.split("|")[0] for v in inc["valueSet"]]
            out.append(r)
        return out

    compose = vs.get("compose") or {}
    out: dict[str, Any] = {"version": vs.get("version", "")}
    if compose:
        out["inc"] = rules(compose.get("include", []))
        if compose.get("exclude"):
            out["exc"] = rules(compose["exclude"])
    elif (vs.get("expansion") or {}).get("contains"):
        by: dict[str, list[str]] = {}
        for c in _flatten(vs["expansion"]["contains"]):
            if c.get("system") and c.get("code"):
                by.setdefault(c["system"], []).append(c["code"])
        out["inc"] = [{"s": s, "c": sorted(set(c))} for s, c in sorted(by.items())]
    return out


def _flatten(contains: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for c in contains:
        out.append(c)
        out.extend(_flatten(c.get("contains", [])))
    return out


def compile_codesystem(cs: dict[str, Any]) -> dict[str, Any]:
    """A CodeSystem's codes (and parents, for is-a filters) when its content is complete."""
    codes: list[str] = []
    parents: dict[str, list[str]] = {}

    def walk(concepts: list[dict[str, Any]], up: list[str]) -> None:
        for c in concepts:
            codes.append(c["code"])
            if up:
                parents[c["code"]] = up
            walk(c.get("concept", []), [*up, c["code"]])

    walk(cs.get("concept", []), [])
    out: dict[str, Any] = {"content": cs.get("content", ""), "codes": sorted(set(codes))}
    if parents:
        out["parents"] = dict(sorted(parents.items()))
    if cs.get("caseSensitive") is False:
        out["ci"] = 1
    return out


def build(
    name: str,
    version: str,
    resources: list[dict[str, Any]],
    dependencies: dict[str, str],
    digest: str,
    lookup: Lookup,
    core_codesystems: bool = True,
) -> dict[str, Any]:
    """The table for one package; ``lookup`` finds compiled profiles of its dependencies."""
    sds = sorted(
        (r for r in resources if r["resourceType"] == "StructureDefinition" and r.get("url")),
        key=lambda r: r["url"],
    )
    sds = [
        sd for sd in sds if sd.get("derivation") == "constraint" or sd.get("type") == "Extension"
    ]
    profiles: dict[str, dict[str, Any]] = {}
    raws: dict[str, dict[str, _Raw]] = {}

    def local_lookup(url: str) -> dict[str, Any] | None:
        return profiles.get(url.split("|")[0]) or lookup(url)

    for sd in sds:
        table, raw = compile_structure(sd, local_lookup)
        profiles[sd["url"]] = table
        raws[sd["url"]] = _index(raw, {})
    for url, table in profiles.items():
        _add_criteria(table["root"], raws[url], local_lookup)
    valuesets = {
        r["url"]: compile_valueset(r)
        for r in sorted(resources, key=lambda r: str(r.get("url")))
        if r["resourceType"] == "ValueSet" and r.get("url")
    }
    codesystems = {
        r["url"]: compile_codesystem(r)
        for r in sorted(resources, key=lambda r: str(r.get("url")))
        if r["resourceType"] == "CodeSystem"
        and r.get("url")
        and r.get("concept")
        and (core_codesystems or r["url"] not in core_displays())
    }
    return {
        "format": GENERATOR_VERSION,
        "package": {
            "name": name,
            "version": version,
            "dependencies": dict(sorted(dependencies.items())),
        },
        "digest": digest,
        "profiles": profiles,
        "valuesets": valuesets,
        "codesystems": codesystems,
    }


def core_displays() -> frozenset[str]:
    """The R4 core code systems whose every code and display ship in ``displays.json.gz``."""
    from fhir_adapter.validation.tables import displays

    return frozenset(displays())


def dump(table: dict[str, Any]) -> bytes:
    """Deterministic gzip JSON bytes of a table."""
    text = json.dumps(table, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()
    return gzip.compress(text, compresslevel=9, mtime=0)
