"""An independent check of resources against the official IG packages (tests only).

It reads the StructureDefinition snapshots straight from the published ``.tgz`` packages in
``../shared/igs`` (not from fhir-adapter's generated tables) and checks what a profile adds to
base R4: that each claimed ``meta.profile`` exists at that version, cardinality of every element
(slices included), ``fixed[x]`` (exact) and ``pattern[x]`` (partial), slicing by value, pattern,
type and profile discriminators, required bindings to value sets the package enumerates,
``targetProfile`` of references resolved inside the bundle, profiles on datatypes (such as
Quantity-uv-ips) and the profile's own invariants (FHIRPath, with fhirpathpy). Base R4 rules are
left to ``fhir_adapter.validate``. Deliberately small and written apart from the code it checks.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

IGS = Path(__file__).resolve().parents[2].parent / "shared" / "igs"
CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
OFFLINE_UNSUPPORTED = ("memberOf(", "conformsTo(", "resolve()", "htmlChecks")

Item = tuple[str, Any]  # (JSON key, value)


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    canonical: str
    sds: dict[str, dict[str, Any]]  # url -> StructureDefinition
    valuesets: dict[str, dict[str, Any]]
    codesystems: dict[str, dict[str, Any]]


@cache
def package(stem: str) -> Package:
    """One package file of ``../shared/igs`` (e.g. ``hl7.fhir.uv.ips-1.1.0``)."""
    res: dict[str, Any] = {}
    with tarfile.open(IGS / f"{stem}.tgz") as tar:
        for m in tar.getmembers():
            parts = m.name.split("/")
            if len(parts) == 2 and parts[0] == "package" and parts[1].endswith(".json"):
                fh = tar.extractfile(m)
                assert fh is not None
                res[parts[1]] = json.loads(fh.read())
    meta = res.pop("package.json")
    by_type: dict[str, dict[str, dict[str, Any]]] = {
        "StructureDefinition": {},
        "ValueSet": {},
        "CodeSystem": {},
    }
    for r in res.values():
        if r.get("resourceType") in by_type and "url" in r:
            by_type[r["resourceType"]][r["url"]] = r
    return Package(
        meta["name"],
        meta["version"],
        meta["canonical"],
        by_type["StructureDefinition"],
        by_type["ValueSet"],
        by_type["CodeSystem"],
    )


ALL = ("hl7.fhir.us.core-3.1.1", "hl7.fhir.us.core-6.1.0", "hl7.fhir.us.core-7.0.0")
ALL += ("hl7.fhir.uv.ips-1.1.0",)


def find_profile(canonical: str) -> tuple[Package, dict[str, Any]] | None:
    """The package and StructureDefinition of ``url|version`` (None when no package has it)."""
    url, _, version = canonical.partition("|")
    for stem in ALL:
        pkg = package(stem)
        if url in pkg.sds and (not version or version == pkg.version):
            return pkg, pkg.sds[url]
    return None


# --- values ---------------------------------------------------------------------------------


def children(value: Any, name: str) -> list[Item]:
    """The items of element ``name`` in a JSON object (choice types and _companions included)."""
    if not isinstance(value, dict):
        return []
    out: list[Item] = []
    if name.endswith("[x]"):
        stem = name[:-3]
        keys = sorted(
            {
                k.lstrip("_")
                for k in value
                if k.lstrip("_").startswith(stem) and k.lstrip("_")[len(stem) :][:1].isupper()
            }
        )
    else:
        keys = [name] if name in value or f"_{name}" in value else []
    for k in keys:
        v, ext = value.get(k), value.get(f"_{k}")
        if isinstance(v, list) or isinstance(ext, list):
            vs = v if isinstance(v, list) else []
            es = ext if isinstance(ext, list) else []
            for i in range(max(len(vs), len(es))):
                item = vs[i] if i < len(vs) else None
                out.append((k, item if item is not None else es[i]))
        else:
            out.append((k, v if v is not None else ext))
    return out


def matches_pattern(pattern: Any, value: Any) -> bool:
    """FHIR pattern[x] semantics: every part of the pattern appears in the value."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            k in value and matches_pattern(v, value[k]) for k, v in pattern.items()
        )
    if isinstance(pattern, list):
        return isinstance(value, list) and all(
            any(matches_pattern(p, v) for v in value) for p in pattern
        )
    return bool(pattern == value)


def _fixed_or_pattern(el: dict[str, Any]) -> tuple[str, Any] | None:
    for k, v in el.items():
        if k.startswith("fixed") or k.startswith("pattern"):
            return k, v
    return None


def _codings(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, dict):
        return []
    if "coding" in value:
        return list(value["coding"])
    if "system" in value and "code" in value:
        return [value]
    return []


def vs_members(pkg: Package, url: str) -> set[tuple[str, str]] | None:
    """The (system, code) pairs of a value set the package enumerates (None: not decidable)."""
    vs = pkg.valuesets.get(url.split("|")[0])
    if vs is None:
        return None
    out: set[tuple[str, str]] = set()
    for inc in vs.get("compose", {}).get("include", []):
        if inc.get("filter") or inc.get("valueSet") or "system" not in inc:
            return None
        if "concept" in inc:
            out |= {(inc["system"], c["code"]) for c in inc["concept"]}
        else:
            cs = pkg.codesystems.get(inc["system"])
            if cs is None:
                return None
            todo = list(cs.get("concept", []))
            while todo:
                c = todo.pop()
                out.add((inc["system"], c["code"]))
                todo.extend(c.get("concept", []))
    return out


# --- the checker ----------------------------------------------------------------------------


class Checker:
    """Checks one resource (or datatype value) against one StructureDefinition."""

    def __init__(
        self, pkg: Package, sd: dict[str, Any], resources: dict[str, dict[str, Any]]
    ) -> None:
        self.pkg, self.sd, self.resources = pkg, sd, resources
        self.name = f"{sd['url']}|{pkg.version}"
        self.els = {e["id"]: e for e in sd["snapshot"]["element"]}
        self.kids: dict[str, list[str]] = {}
        self.slices: dict[str, list[str]] = {}
        for eid in self.els:
            head, sep, tail = eid.rpartition(".")
            if ":" in tail:
                base, _, _ = tail.partition(":")
                self.slices.setdefault(f"{head}.{base}" if head else base, []).append(eid)
            elif sep:
                self.kids.setdefault(head, []).append(eid)
        self.problems: list[str] = []

    def check(self, value: Any) -> list[str]:
        root = self.sd["snapshot"]["element"][0]["id"]
        self.root = value
        self._element(root, [[("", value)]])
        return self.problems

    def _fail(self, eid: str, msg: str) -> None:
        self.problems.append(f"{self.name}: {eid}: {msg}")

    def _element(self, eid: str, groups: list[list[Item]]) -> None:
        el = self.els[eid]
        lo, hi = el.get("min", 0), el.get("max", "*")
        for items in groups:
            if len(items) < lo:
                self._fail(eid, f"min {lo}, found {len(items)}")
            if hi != "*" and len(items) > int(hi):
                self._fail(eid, f"max {hi}, found {len(items)}")
        items = [i for g in groups for i in g]
        self._values(eid, el, items)
        matched = [False] * len(items)
        for sid in self.slices.get(eid, []):
            slice_groups = [[i for i in g if self._in_slice(eid, sid, i)] for g in groups]
            for n, item in enumerate(items):
                matched[n] = matched[n] or any(i is item for g in slice_groups for i in g)
            self._element(sid, slice_groups)
        if el.get("slicing", {}).get("rules") == "closed":
            for (key, _), ok in zip(items, matched, strict=True):
                if not ok:
                    self._fail(eid, f"closed slicing: {key} matches no slice")
        for kid in self.kids.get(eid, []):
            name = kid.rpartition(".")[2]
            self._element(kid, [children(v, name) for _, v in items])

    def _values(self, eid: str, el: dict[str, Any], items: list[Item]) -> None:
        fp = _fixed_or_pattern(el)
        for key, v in items:
            if fp is not None:
                kind, want = fp
                ok = v == want if kind.startswith("fixed") else matches_pattern(want, v)
                if not ok:
                    self._fail(eid, f"{kind} {json.dumps(want)} not matched by {json.dumps(v)}")
            self._binding(eid, el, v)
            self._targets(eid, el, v)
            self._type_profiles(el, key, v)
        if items:
            for c in el.get("constraint", []):
                self._constraint(eid, c)

    def _binding(self, eid: str, el: dict[str, Any], v: Any) -> None:
        b = el.get("binding", {})
        url = b.get("valueSet", "")
        if b.get("strength") != "required" or not url.startswith(self.pkg.canonical):
            return
        if ":" in eid.rpartition(".")[2]:
            return  # a slice defined by its binding: membership decided the slice
        members = vs_members(self.pkg, url)
        codings = _codings(v) if isinstance(v, dict) else []
        if members is None or (not codings and not isinstance(v, str)):
            return
        pairs = {(c.get("system"), c.get("code")) for c in codings}
        if isinstance(v, str):
            pairs = {(s, v) for s, _ in members}
        if not pairs & members:
            self._fail(eid, f"no code from required value set {url}: {json.dumps(v)}")

    def _targets(self, eid: str, el: dict[str, Any], v: Any) -> None:
        if not isinstance(v, dict) or "reference" not in v:
            return
        targets = [p for t in el.get("type", []) for p in t.get("targetProfile", [])]
        target = self.resources.get(v["reference"])
        if not targets or target is None:
            return
        if not any(conforms_to(target, t) for t in targets):
            self._fail(eid, f"{v['reference']} conforms to none of {targets}")

    def _type_profiles(self, el: dict[str, Any], key: str, v: Any) -> None:
        for t in el.get("type", []):
            if (
                key
                and len(el.get("type", [])) > 1
                and not key.endswith(t["code"][:1].upper() + t["code"][1:])
            ):
                continue
            for p in t.get("profile", []):
                sd = self.pkg.sds.get(p)
                if sd is not None and sd.get("kind") != "resource" and sd["type"] != "Extension":
                    self.problems += Checker(self.pkg, sd, self.resources).check(v)

    def _constraint(self, eid: str, c: dict[str, Any]) -> None:
        """Evaluates a profile invariant on every node of its element, from the root."""
        if c.get("source", "").startswith(CORE_SD) or c.get("severity") != "error":
            return
        if c["key"] in ("ele-1", "ext-1") or any(x in c["expression"] for x in OFFLINE_UNSUPPORTED):
            return
        steps = [part.partition(":")[0].replace("[x]", "") for part in eid.split(".")]
        # An invariant holds on a node unless it evaluates to false there: an empty result passes
        # (so all() gets "empty or true", e.g. us-core-1 on an effectivePeriod).
        inner = c["expression"]
        expr = (
            inner if len(steps) == 1 else f"{'.'.join(steps)}.all(({inner}).empty() or ({inner}))"
        )
        try:
            out = fhirpathpy.evaluate(self.root, expr, model=models["r4"])
        except Exception as err:  # reported, never skipped
            self._fail(eid, f"{c['key']}: FHIRPath error {err}")
            return
        if out not in ([True], []):
            self._fail(eid, f"{c['key']} fails: {c['expression']}")

    def _in_slice(self, eid: str, sid: str, item: Item) -> bool:
        key, v = item
        slicing = self.els[eid]["slicing"]
        for d in slicing.get("discriminator", []):
            path, kind = d["path"], d["type"]
            if kind == "type" and path == "$this" and eid.endswith("[x]"):
                if key != sid.rpartition(":")[2]:
                    return False
                continue
            if kind == "type" and path not in ("$this", "resource", "resolve()"):
                # a choice child told apart by its type (IPS radiology components: value[x])
                el = self.els.get(f"{sid}.{path}[x]") or self.els.get(f"{sid}.{path}")
                if el is None or not isinstance(v, dict):
                    return False
                allowed = {t["code"][0].upper() + t["code"][1:] for t in el.get("type", [])}
                given = [
                    k[len(path) :] for k in v if k.startswith(path) and k[len(path) :][:1].isupper()
                ]
                if not given or given[0] not in allowed:
                    return False
                continue
            target_el = self.els.get(sid if path == "$this" else f"{sid}.{path}")
            if kind in ("value", "pattern"):
                node = v if path == "$this" else (v.get(path) if isinstance(v, dict) else None)
                fp = _fixed_or_pattern(target_el or {})
                if fp is not None:
                    if not (
                        node == fp[1]
                        if kind == "value" and fp[0].startswith("fixed")
                        else matches_pattern(fp[1], node)
                    ):
                        return False
                    continue
                b = (target_el or {}).get("binding", {})
                members = vs_members(self.pkg, b.get("valueSet", "")) if b else None
                if members is None:
                    return False
                if not {(c.get("system"), c.get("code")) for c in _codings(node)} & members:
                    return False
            elif kind in ("type", "profile") and path in ("resource", "resolve()"):
                res = (
                    v.get("resource")
                    if path == "resource"
                    else self.resources.get(v.get("reference", ""))
                )
                el = self.els.get(f"{sid}.resource") if path == "resource" else self.els[sid]
                if not isinstance(res, dict) or el is None:
                    return False
                types = el.get("type", [])
                if (
                    kind == "type"
                    and path == "resource"
                    and res.get("resourceType") not in {t["code"] for t in types}
                ):
                    return False
                if kind == "profile":
                    wanted = [
                        p for t in types for p in t.get("profile", []) + t.get("targetProfile", [])
                    ]
                    if not any(conforms_to(res, p) for p in wanted):
                        return False
            else:
                return False
        return True


def _ancestors(url: str) -> list[str]:
    out = [url]
    found = find_profile(url)
    while found is not None:
        base = found[1].get("baseDefinition")
        if not base:
            break
        out.append(base)
        found = find_profile(base)
    return out


def conforms_to(resource: dict[str, Any], profile: str) -> bool:
    """Whether ``resource`` is of the profile's type and claims it (or a profile derived from it);
    base R4 definitions accept every resource of their type."""
    if profile.startswith(CORE_SD):
        kind = profile.rpartition("/")[2]
        return kind in ("Resource", "DomainResource") or resource.get("resourceType") == kind
    claims = [p.split("|")[0] for p in resource.get("meta", {}).get("profile", [])]
    return any(profile in _ancestors(c) for c in claims)


def check_bundle(bundle: dict[str, Any]) -> list[str]:
    """Every profile problem of a bundle and its entries; unknown claimed profiles included."""
    resources = {e["fullUrl"]: e["resource"] for e in bundle.get("entry", []) if "fullUrl" in e}
    problems: list[str] = []
    for r in [bundle, *(e["resource"] for e in bundle.get("entry", []))]:
        for canonical in r.get("meta", {}).get("profile", []):
            found = find_profile(canonical)
            if found is None:
                problems.append(f"{r['resourceType']}/{r.get('id')}: {canonical} is in no package")
                continue
            pkg, sd = found
            if sd["type"] != r["resourceType"]:
                problems.append(
                    f"{r['resourceType']}/{r.get('id')}: {canonical} is for {sd['type']}"
                )
                continue
            problems += [
                f"{r['resourceType']}/{r.get('id')}: {p}"
                for p in Checker(pkg, sd, resources).check(r)
            ]
    return problems
