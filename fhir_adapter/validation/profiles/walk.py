"""The profile walk: applies loaded profiles to resources, visiting only constrained elements.

Which profiles apply: every loaded profile a resource claims in ``meta.profile`` (``|version``
honoured; a claim of a profile that is not loaded is a warning), and every requested profile
whose type is the resource's (top-level resources, bundle entries and contained resources).
Per element: cardinality, type restriction, fixed / pattern, binding (three-valued, see
``terminology``), maxLength, target profiles of references (resolved inside the bundle), nested
type profiles, constraints (FHIRPath), slicing (see ``slicing``), mustSupport (information only,
on request). Extensions are checked against their definitions by the engine's extension hook
(:meth:`ProfileLayer.check_extension`), wherever they are.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.errors import InputError
from fhir_adapter.validation.profiles import findings as F
from fhir_adapter.validation.profiles import values
from fhir_adapter.validation.profiles.load import ProfileSet
from fhir_adapter.validation.profiles.nodes import Ctx, Node, Profile
from fhir_adapter.validation.profiles.slicing import Matcher, _list
from fhir_adapter.validation.profiles.terminology import Terminology
from fhir_adapter.validation.report import Issue, Severity
from fhir_adapter.validation.tables import suffix_types, tables

_CORE_SD = "http://hl7.org/fhir/StructureDefinition/"


def _suffixes() -> dict[str, str]:
    """Choice-name suffix -> the FHIR type it names (``String`` -> ``string``; resource types
    too, so that ``valuePatient`` is reported as a type the profile does not allow)."""
    t = tables()
    return {n[0].upper() + n[1:]: n for n in (*t["resources"], *suffix_types().values())}


#: Findings about one value's content. Where base R4 has already rejected that value (its JSON
#: type or shape, a choice type R4 does not have), they would restate the same defect.
_VALUE_KINDS = frozenset(
    {
        "wrong_type",
        "not_fixed",
        "not_pattern",
        "not_in_vs",
        "not_in_extensible",
        "no_code",
        "undecided",
        "too_long",
    }
)


class ProfileLayer:
    """Loaded profiles plus the options that govern them; shared by every input."""

    def __init__(
        self,
        pset: ProfileSet,
        *,
        profiles: list[str] | tuple[str, ...] = (),
        strict_extensions: bool = False,
        strict_terminology: bool = False,
        must_support: bool = False,
    ) -> None:
        self.pset = pset
        self.term = Terminology(pset.valuesets, pset.codesystems)
        self.strict_extensions = strict_extensions
        self.strict_terminology = strict_terminology
        self.must_support = must_support
        self.suffixes = _suffixes()
        self.resources = frozenset(tables()["resources"])
        self._cache: dict[str, Profile | None] = {}
        self._cons: dict[tuple[str, str, str], Any] = {}
        self._prim_memo: dict[Any, bool] = {}
        self.requested: dict[str, list[Profile]] = {}
        for url in profiles:
            prof = self.get(url)
            if prof is None:
                raise InputError(
                    f"profile {url} is not in the loaded packages",
                    field="--profile",
                    fix="load the IG that defines it with --ig (e.g. --ig us-core), or check the URL",
                )
            self.requested.setdefault(prof.type, []).append(prof)

    def get(self, canonical: str) -> Profile | None:
        """The loaded profile for a canonical (``url`` or ``url|version``), compiled once."""
        if canonical not in self._cache:
            table = self.pset.profile(canonical)
            self._cache[canonical] = Profile(table) if table is not None else None
        return self._cache[canonical]

    def check(self, resource: dict[str, Any], path: str, issues: list[Issue]) -> None:
        """Apply the profiles that apply to a top-level resource, its entries and contained ones."""
        found: list[Issue] = []
        _Run(self, resource, issues).resource(resource, path, found)
        # a slice repeats its element's rules (bindings, constraints): one finding per place
        seen: set[tuple[str, str, str]] = set()
        for i in found:
            key = (i.rule, i.path, i.message.split(" [profile ")[0])
            if key not in seen:
                seen.add(key)
                issues.append(i)

    def check_extension(
        self, ext: dict[str, Any], url: str, path: str, issues: list[Issue]
    ) -> None:
        """Validate an extension against its definition (value type, sub-extensions, ...)."""
        prof = self.get(url)
        if prof is not None:
            _Run(self, ext, issues).item(ext, prof.root, path, None, Ctx(prof, issues, ext))


class _Run:
    """One top-level input: its bundle index (for resolve()), conformance memo, and what base R4
    found in it (``base``: the issues list as it is now; later additions are not base R4's)."""

    def __init__(self, layer: ProfileLayer, root: dict[str, Any], base: list[Issue]) -> None:
        self.layer = layer
        self.root = root
        self._base, self._base_n = base, len(base)
        self._rejected: frozenset[str] | None = None
        self.index: dict[str, Any] = {}
        self.memo: dict[tuple[int, str], bool] = {}
        self.why: dict[tuple[int, str], str] = {}  # first error of a failed conformance check
        self.matcher = Matcher(self.resolve, self.conforms, self.member)
        self.silent = 0  # > 0 while checking conformance (a slice or target test): no notes
        if isinstance(root, dict) and root.get("resourceType") == "Bundle":
            for e in _list(root.get("entry")):
                r = e.get("resource") if isinstance(e, dict) else None
                if not isinstance(r, dict):
                    continue
                if isinstance(e.get("fullUrl"), str):
                    self.index[e["fullUrl"]] = r
                if isinstance(r.get("id"), str) and isinstance(r.get("resourceType"), str):
                    self.index[f"{r['resourceType']}/{r['id']}"] = r

    def add(
        self,
        ctx: Ctx,
        kind: str,
        node: Node,
        path: str,
        severity: Severity | None = None,
        **values: Any,
    ) -> None:
        """Record a finding of ``kind`` on ``node`` at ``path``, unless it restates an error base
        R4 already reports there (one defect, one issue)."""
        if self._base_n and (kind in _VALUE_KINDS or kind == "too_many"):
            if self._rejected is None:  # first finding of an input base R4 found errors in
                self._rejected = frozenset(
                    i.path for i in self._base[: self._base_n] if i.severity in ("error", "fatal")
                )
            # too_many is reported at the first extra item; base R4 at the array itself
            at = path[: path.rfind("[")] if kind == "too_many" and path.endswith("]") else path
            if at in self._rejected:
                return
        ctx.issues.append(F.finding(kind, F.At(ctx.prof.label, node.id, path), severity, **values))

    # ------------------------------------------------------------------ which profiles

    def resource(self, res: dict[str, Any], path: str, issues: list[Issue]) -> None:
        layer = self.layer
        rt = res.get("resourceType")
        applied: list[Profile] = []
        meta = res.get("meta")
        claims = meta.get("profile") if isinstance(meta, dict) else None
        for url in claims if isinstance(claims, list) else ():
            if not isinstance(url, str):
                continue
            prof = layer.get(url)
            if prof is None:
                issues.append(F.claim_not_loaded(path, url))
            elif prof not in applied:
                applied.append(prof)
        for prof in layer.requested.get(rt, ()) if isinstance(rt, str) else ():
            if prof not in applied:
                applied.append(prof)
        for prof in applied:
            if prof.type != rt:
                issues.append(F.wrong_resource_type(path, prof.label, str(rt), prof.type))
                continue
            self.item(res, prof.root, path, None, Ctx(prof, issues, res))
        if rt == "Bundle":
            for i, e in enumerate(_list(res.get("entry"))):
                if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                    self.resource(e["resource"], f"{path}.entry[{i}].resource", issues)
        for i, c in enumerate(_list(res.get("contained"))):
            if isinstance(c, dict):
                self.resource(c, f"{path}.contained[{i}]", issues)

    # ------------------------------------------------------------------ the walk

    def items(self, obj: dict[str, Any], name: str, path: str) -> list[tuple[Any, str, str | None]]:
        """(value, JSON path, choice type) of each repetition of element ``name`` in ``obj``; the
        choice type is the FHIR type the JSON name's suffix names (``valueString``: ``string``)."""
        if name.endswith("[x]"):
            base = name[:-3]
            suffixes = self.layer.suffixes
            for k in obj:
                bare = k[1:] if k[0] == "_" else k
                if bare.startswith(base) and bare[len(base) :] in suffixes:
                    value = obj.get(bare)  # None: only the _companion (id, extensions) is there
                    return [(value, f"{path}.{k}", suffixes[bare[len(base) :]])]
            return []
        v = obj.get(name)
        if v is None:
            ext = obj.get("_" + name)
            if ext is None:
                return []
            n = len(ext) if isinstance(ext, list) else 1
            return [(None, f"{path}._{name}", None)] * n
        if isinstance(v, list):
            return [(x, f"{path}.{name}[{i}]", None) for i, x in enumerate(v)]
        return [(v, f"{path}.{name}", None)]

    def element(self, items: list[Any], node: Node, epath: str, ctx: Ctx) -> None:
        """One constrained element: its cardinality, each value, its slicing."""
        n = len(items)
        if node.min is not None and n < node.min:
            self.add(ctx, "too_few", node, epath, n=n, lo=node.min)
        if node.max is not None and 0 <= node.max < n:
            self.add(
                ctx,
                "too_many" if node.max else "forbidden",
                node,
                items[node.max][1],
                n=n,
                hi=node.max,
            )
        if not n:
            if node.ms and self.layer.must_support and not self.silent:
                self.add(ctx, "must_support", node, epath)
            if node.slicing is not None and any((s.min or 0) > 0 for s in node.slices):
                self.slice(items, node, epath, ctx)
            return
        for value, ipath, ctype in items:
            self.item(value, node, ipath, ctype, ctx)
        if node.slicing is not None:
            self.slice(items, node, epath, ctx)

    def item(self, value: Any, node: Node, ipath: str, ctype: str | None, ctx: Ctx) -> None:
        """One value of a constrained element (or of a slice): its rules, then its children."""
        if value is None:
            return
        if node.checked and not values.check(self, ctx, value, node, ipath, ctype):
            return  # a type the node does not allow: its children's rules do not apply either
        if node.tprof:
            self.type_profiles(value, node, ipath, ctype, ctx)
        if node.children and isinstance(value, dict):
            for name, child in node.children:
                epath = f"{ipath}.{name.removesuffix('[x]')}"
                self.element(self.items(value, name, ipath), child, epath, ctx)

    def type_profiles(
        self, value: Any, node: Node, ipath: str, ctype: str | None, ctx: Ctx
    ) -> None:
        """A value whose type the profile profiles in turn (not extensions: the engine's
        extension hook checks those against their definitions wherever they are)."""
        for t, urls in node.tprof.items():
            if t == "Extension" or (ctype is not None and ctype != t):
                continue
            loaded = [p for p in (self.layer.get(u) for u in urls) if p is not None]
            if not loaded or not isinstance(value, dict):
                continue
            if len(loaded) == 1:
                res = value if "resourceType" in value else ctx.res
                self.item(value, loaded[0].root, ipath, None, Ctx(loaded[0], ctx.issues, res))
            elif not any(self.conforms(value, p.url) for p in loaded):
                urls_text = " or ".join(p.url for p in loaded)
                self.add(
                    ctx, "not_conformant", node, ipath, urls=urls_text, first="no profile matched"
                )

    # ------------------------------------------------------------------ slicing

    def slice(self, items: list[Any], node: Node, epath: str, ctx: Ctx) -> None:
        """Assign values to slices; closed / openAtEnd / ordered rules; slice cardinality."""
        slices = node.slices
        usable = [s for s in slices if not any(c[0] == "unknown" for c in s.match)]
        if len(usable) < len(slices) and not self.silent:
            bad = next(s for s in slices if s not in usable)
            why = next(c[2] for c in bad.match if c[0] == "unknown")
            self.add(ctx, "slice_unmatchable", bad, epath, why=why)
        assigned: list[list[Any]] = [[] for _ in slices]
        last_slice, seen_unmatched, undecided = -1, False, 0
        for value, ipath, ctype in items:
            hit, maybe = -1, False
            for si, s in enumerate(slices):
                if s not in usable:
                    continue
                m = self.matcher.matches(value, s.match, ctype)
                if m:
                    hit = si
                    break
                maybe = maybe or m is None
            if hit < 0 and maybe:
                undecided += 1  # a reference the discriminator follows is not in the bundle
                continue
            if hit < 0:
                seen_unmatched = True
                if node.rules == "closed" and len(usable) == len(slices):
                    self.add(ctx, "no_slice", node, ipath)
                continue
            if node.rules == "openAtEnd" and seen_unmatched:
                self.add(ctx, "not_at_end", node, ipath)
            if node.ordered and hit < last_slice:
                self.add(ctx, "out_of_order", node, ipath, slice=slices[hit].name or "")
            last_slice = max(last_slice, hit)
            assigned[hit].append((value, ipath, ctype))
        if undecided and not self.silent:
            self.add(ctx, "slice_unresolved", node, epath, n=undecided)
        for s, got in zip(slices, assigned, strict=True):
            if s not in usable:
                continue
            n = len(got)
            if s.min is not None and n < s.min and not undecided:
                near = self._near_miss(s, items)
                self.add(ctx, "too_few", s, epath, n=n, lo=s.min, why=f" ({near})" if near else "")
            if s.max is not None and 0 <= s.max < n:
                self.add(ctx, "too_many" if s.max else "forbidden", s, got[s.max][1], n=n, hi=s.max)
            for value, ipath, ctype in got:
                self.item(value, s, ipath, ctype, ctx)
            if s.slicing is not None and (got or any((x.min or 0) > 0 for x in s.slices)):
                self.slice(got, s, epath, ctx)
            if not got and s.ms and self.layer.must_support and not self.silent:
                self.add(ctx, "must_support", s, epath)

    def _near_miss(self, s: Node, items: list[Any]) -> str:
        """Why values of a profile-discriminated slice's type did not conform (for the report)."""
        urls = [u for kind, _, arg in s.match if kind == "profile" for u in arg]
        for value, ipath, _ in items:
            for target in (value, value.get("resource") if isinstance(value, dict) else None):
                for u in urls:
                    prof = self.layer.get(u)
                    why = self.why.get((id(target), prof.label)) if prof else None
                    if why:
                        return f"{ipath} does not conform to {u}: {why}"
        return ""

    # ------------------------------------------------------------------ resolution, conformance

    def member(self, url: str, value: Any) -> bool | None:
        """Whether a code, Coding or CodeableConcept is in value set ``url`` (None: unknown)."""
        return values.member(self.layer.term, url, value)

    def resolve(self, ref: dict[str, Any]) -> Any:
        """The bundle entry a Reference points at (``urn:uuid``, absolute, or ``Type/id``)."""
        r = ref.get("reference")
        if not isinstance(r, str):
            return None
        got = self.index.get(r)
        if got is None and "/" in r and not r.startswith("urn:"):
            parts = r.split("/_history/")[0].rstrip("/").split("/")
            if len(parts) >= 2:
                got = self.index.get(f"{parts[-2]}/{parts[-1]}")
        return got

    def conforms(self, value: Any, url: str) -> bool:
        """Whether a value (resource or datatype) conforms to profile ``url`` (memoised)."""
        if not isinstance(value, dict):
            return False
        if url.startswith(_CORE_SD) and url[len(_CORE_SD) :] in self.layer.resources:
            return bool(value.get("resourceType") == url[len(_CORE_SD) :])
        prof = self.layer.get(url)
        if prof is None:
            return False
        key = (id(value), prof.label)
        got = self.memo.get(key)
        if got is None:
            if "resourceType" in value and value["resourceType"] != prof.type:
                got = False
            else:
                self.memo[key] = True  # a cycle through references assumes conformance
                found: list[Issue] = []
                self.silent += 1
                try:
                    self.item(value, prof.root, "", None, Ctx(prof, found, value))
                finally:
                    self.silent -= 1
                errs = [i for i in found if i.severity in ("error", "fatal")]
                got = not errs
                if errs:
                    self.why[key] = f"{errs[0].path.lstrip('.') or prof.type}: {errs[0].message}"
            self.memo[key] = got
        return got
