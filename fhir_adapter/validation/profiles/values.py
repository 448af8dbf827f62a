"""The checks of profile rules on one value (``check``): its type, fixed and pattern values,
bindings (three-valued terminology), maxLength, target profiles of references (resolved inside
the bundle) and the constraints a profile adds (FHIRPath, with the core invariants' shortcuts).
The walk (``walk``) finds the values; nothing here walks."""

from __future__ import annotations

import re
from typing import Any, Protocol

from fhir_adapter.validation.profiles import findings as F
from fhir_adapter.validation.profiles.nodes import Ctx, Node, Profile
from fhir_adapter.validation.profiles.slicing import fixed_matches, pattern_matches
from fhir_adapter.validation.profiles.terminology import Terminology
from fhir_adapter.validation.report import Severity
from fhir_adapter.validation.tables import tables

_CORE_SD = "http://hl7.org/fhir/StructureDefinition/"
#: Types a binding applies to.
_BINDABLE = frozenset({"code", "Coding", "CodeableConcept", "Quantity", "string", "uri"})


class Layer(Protocol):
    """What the checks here read of the loaded profiles and options (``walk.ProfileLayer``)."""

    term: Terminology
    strict_terminology: bool
    resources: frozenset[str]
    _cons: dict[tuple[str, str, str], Any]
    _prim_memo: dict[Any, bool]

    def get(self, canonical: str) -> Profile | None: ...


class Run(Protocol):
    """The walk over one input, as the checks here use it (``walk._Run``): where findings go,
    references resolved inside the input, conformance and value-set membership."""

    root: Any

    @property
    def layer(self) -> Layer: ...

    def add(
        self,
        ctx: Ctx,
        kind: str,
        node: Node,
        path: str,
        severity: Severity | None = None,
        **values: Any,
    ) -> None: ...

    def resolve(self, ref: dict[str, Any]) -> Any: ...

    def conforms(self, value: Any, url: str) -> bool: ...

    def member(self, url: str, value: Any) -> bool | None: ...


def check(run: Run, ctx: Ctx, value: Any, node: Node, ipath: str, ctype: str | None) -> bool:
    """The rules of ``node`` on one value: type, fixed and pattern values, binding, maxLength,
    target profiles, constraints. False when the value is of a type the node does not allow:
    that one finding, since the node's other rules are written for the types it allows."""
    types = node.types
    if types is not None and ctype is not None and ctype not in types:
        run.add(ctx, "wrong_type", node, ipath, got=ctype, allowed=", ".join(types))
        return False
    if node.fixed is not None and not fixed_matches(node.fixed, value):
        run.add(ctx, "not_fixed", node, ipath, want=F.show(node.fixed))
    if node.pattern is not None and not pattern_matches(node.pattern, value):
        run.add(ctx, "not_pattern", node, ipath, want=F.show(node.pattern))
    if node.bind is not None:
        binding(run, ctx, value, node, ipath, ctype)
    if node.maxlen is not None and isinstance(value, str) and len(value) > node.maxlen:
        run.add(ctx, "too_long", node, ipath, n=len(value), hi=node.maxlen)
    if node.targets is not None and isinstance(value, dict):
        target(run, ctx, value, node, ipath)
    if node.cons:
        constraints(run, ctx, value, node, ipath, ctype)
    return True


def codings(value: Any, t: str) -> list[tuple[str | None, str]] | None:
    """(system, code) pairs of a code, Coding, CodeableConcept or Quantity; None: not coded."""
    if isinstance(value, str):
        return [(None, value)]
    if not isinstance(value, dict):
        return None
    if t == "CodeableConcept" or "coding" in value or ("text" in value and "code" not in value):
        found = value.get("coding")
        if not isinstance(found, list):
            return []
        return [
            (_text(c.get("system")), c["code"])
            for c in found
            if isinstance(c, dict) and isinstance(c.get("code"), str)
        ]
    code = value.get("code")
    return [(_text(value.get("system")), code)] if isinstance(code, str) else []


def _text(v: Any) -> str | None:
    """A system URI, or None when it is not a string (the structure layer reports that)."""
    return v if isinstance(v, str) else None


def member(term: Terminology, url: str, value: Any) -> bool | None:
    """Whether any coding of ``value`` is in value set ``url`` (None: cannot tell offline)."""
    verdicts = [term.member(url, s, c)[0] for s, c in codings(value, "") or []]
    return True if True in verdicts else None if None in verdicts else False


def binding(run: Run, ctx: Ctx, value: Any, node: Node, ipath: str, ctype: str | None) -> None:
    """A value against the profile's binding, at the binding's strength."""
    strength, url = node.bind  # type: ignore[misc]
    t = ctype or (node.bind_types[0] if len(node.bind_types) == 1 else "")
    if t and t not in _BINDABLE:
        return
    found = codings(value, t)
    if found is None:
        return
    if not found:
        if strength == "required" and t != "Quantity":
            run.add(ctx, "no_code", node, ipath, url=url)
        return
    term = run.layer.term
    results = [term.member(url, s, c) for s, c in found]
    if any(r is True for r, _ in results):
        return
    shown = ", ".join(f"{s}|{c}" if s else repr(c) for s, c in found[:3])
    strict = run.layer.strict_terminology
    why = next((w for r, w in results if r is None), None)
    if why is None:
        kind = "not_in_vs" if strength == "required" else "not_in_extensible"
        run.add(ctx, kind, node, ipath, shown=shown, url=url)
    elif strength == "required":
        sev: Severity = "error" if strict else "warning"
        run.add(ctx, "undecided", node, ipath, sev, shown=shown, url=url, why=why)
    elif strict:
        run.add(ctx, "undecided", node, ipath, shown=shown, url=url, why=why)


def target(run: Run, ctx: Ctx, ref: dict[str, Any], node: Node, ipath: str) -> None:
    """A reference's target, when it resolves inside the bundle, against the target profiles."""
    found = run.resolve(ref)
    if found is None:
        return
    allowed = node.targets or []
    for url in allowed:
        if url.startswith(_CORE_SD) and url[len(_CORE_SD) :] in run.layer.resources:
            if found.get("resourceType") == url[len(_CORE_SD) :]:
                return
        elif run.layer.get(url) is None or run.conforms(found, url):
            return  # a target profile that is not loaded cannot be checked here
    got = str(found.get("resourceType"))
    run.add(ctx, "bad_target", node, f"{ipath}.reference", got=got, allowed=", ".join(allowed))


_PATHS = re.compile(r"^\s*([A-Za-z][\w.]*)(\s+(?:or|and)\s+[A-Za-z][\w.]*)+\s*$")


def hl7_booleans(expr: str, base: str) -> str:
    """``telecom or endpoint`` (US Core pd-1, us-core-13): element paths used as Booleans, which
    the official validator reads as "exists" and fhirpathpy rejects; rewritten with ``.exists()``
    when no path is a boolean element (whose value would count instead)."""
    if not _PATHS.match(expr):
        return expr
    parts = re.split(r"\s+(or|and)\s+", expr.strip())
    paths = parts[::2]
    if any(_type_at(base, p) in (None, "boolean") for p in paths):
        return expr
    return " ".join(p if i % 2 else f"{p}.exists()" for i, p in enumerate(parts))


def _type_at(base: str, path: str) -> str | None:
    """The (first) type of ``path`` below type or backbone ``base`` in the R4 tables."""
    types = tables()["types"]
    owner = base
    t: str | None = None
    for seg in path.split("."):
        row = (types.get(owner) or {}).get("el", {}).get(seg)
        if row is None:
            return None
        t = row["types"][0]
        owner = t
    return t


def constraints(run: Run, ctx: Ctx, value: Any, node: Node, ipath: str, ctype: str | None) -> None:
    """The profile's own constraints on a value; an expression the engine cannot evaluate is
    reported (information), not skipped silently."""
    from fhir_adapter.validation.invariants import (
        _CONTEXT,
        MEMBER,
        RESOLVER,
        UNDECIDED,
        _truthy,
        compile_constraint,
        holds,
    )

    layer = run.layer
    # a choice value is typed by its suffix; any other by its element's base path
    base = ctype or node.base_path
    for key, sev, human, expr in node.cons:
        ck = (key, expr, base)
        compiled = layer._cons.get(ck)
        if compiled is None:
            try:
                compiled = compile_constraint(key, sev, human, hl7_booleans(expr, base), base)
            except Exception as err:
                run.add(ctx, "constraint_failed", node, ipath, key=key, err=f"cannot parse: {err}")
                continue
            layer._cons[ck] = compiled
        memo = (ck, value) if compiled.local and isinstance(value, (str, int, float)) else None
        try:
            ok = layer._prim_memo.get(memo) if memo is not None else None
            if ok is None:
                token = RESOLVER.set(run.resolve)  # resolve() inside the bundle
                member_token = MEMBER.set(run.member)  # memberOf() with the loaded value sets
                undecided: list[str] = []
                noted = UNDECIDED.set(undecided)
                try:
                    if "memberOf(" in expr:  # evaluated in full: its verdict may be "unknown"
                        env = {"resource": ctx.res, "rootResource": run.root, **_CONTEXT}
                        raw = compiled.fn(value, env)
                        if undecided and raw != [True] and raw != [False]:
                            raise LookupError(
                                f"membership in {undecided[0]} cannot be decided offline"
                            )
                        ok = _truthy(raw)
                    else:
                        ok = holds(compiled, value, ctx.res, run.root)
                finally:
                    RESOLVER.reset(token)
                    MEMBER.reset(member_token)
                    UNDECIDED.reset(noted)
                if memo is not None and len(layer._prim_memo) < 50_000:
                    layer._prim_memo[memo] = ok  # a primitive's verdict depends on it only
        except RecursionError:
            raise  # input nested too deep: the validator reports that once
        except Exception as err:
            run.add(ctx, "constraint_failed", node, ipath, key=key, err=str(err)[:200])
            continue
        if not ok:
            at = F.At(ctx.prof.label, node.id, ipath)
            ctx.issues.append(F.constraint(compiled.severity, key, at, human, expr))
