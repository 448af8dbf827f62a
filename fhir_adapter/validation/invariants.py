"""FHIRPath invariants from the R4 definitions, evaluated with fhirpathpy.

Every constraint of every type and element is taken from the generated tables. Each expression
is compiled once, on first use. Natively checked elsewhere (and skipped here): ``ele-1`` (the JSON
layer rejects empty elements), ``ext-1`` (structure), ``txt-1``/``txt-2`` (the engine's narrative
check implements ``htmlChecks()``, which fhirpathpy lacks), ``dom-3`` and ``ref-1`` (the reference
layer), ``per-1`` (date comparison across precisions), ``rng-2`` (quantity comparison, which
fhirpathpy cannot do) and ``bdl-3/4/5/7/8`` (the bundle layer, which names the offending entry; these scan
every entry and are slow through the engine).
Constraints that need a terminology server or other resources (``memberOf``, ``conformsTo``,
``resolve``) are marked ``offline-unsupported`` by the generator and skipped.

Speed: an expression that only navigates down from its focus gives, on a node holding none of
the names it mentions, the same result as on an empty node; that result is computed once per
constraint and reused, so most constraints are decided without running the engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from fhir_adapter.validation.fastpath import compile_fast, fhirpath_names
from fhir_adapter.validation.findings import finding
from fhir_adapter.validation.report import Issue
from fhir_adapter.validation.tables import fhirpath_asts, tables

NATIVE = frozenset(
    {
        "ele-1",
        "ext-1",
        "txt-1",
        "txt-2",
        "dom-3",
        "ref-1",
        "bdl-3",
        "bdl-4",
        "bdl-5",
        "bdl-7",
        "bdl-8",
        "per-1",
        "rng-2",
    }
)
_NAMES = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_FUNCS_NOT_LOCAL = (
    "%resource",
    "%rootResource",
    "descendants",
    "parent",
    "%context",
    "resolve",
    "%ucum",
)
_CONTEXT = {"ucum": "http://unitsofmeasure.org"}


def _has_value(inputs: list[Any]) -> list[bool]:
    """FHIRPath ``hasValue()``: one primitive with an actual value (not only extensions).

    fhirpathpy does not implement it; R4 constraints such as bdl-10 and per-1 use it.
    """
    return [len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], (dict, list))]


#: How ``resolve()`` finds a reference's target while a caller (the profile layer, inside a
#: bundle) has set one; unset, resolve() stays unsupported, as for the core constraints.
RESOLVER: ContextVar[Callable[[dict[str, Any]], Any] | None] = ContextVar("resolver", default=None)


def _resolve(inputs: list[Any]) -> list[Any]:
    """FHIRPath ``resolve()`` over the references of the input, through ``RESOLVER``."""
    find = RESOLVER.get()
    if find is None:
        raise NotImplementedError("resolve() needs the bundle the reference points into")
    from fhirpathpy.engine.nodes import ResourceNode

    out = []
    for item in inputs:
        ref = getattr(item, "data", item)
        target = find(ref) if isinstance(ref, dict) else None
        if isinstance(target, dict):  # typed by its resourceType, so ``is Practitioner`` works
            out.append(ResourceNode.create_node(target, target.get("resourceType")))
    return out


#: How ``memberOf(url)`` decides membership (True / False / None = not decidable offline) while a
#: caller (the profile layer, with its packages' value sets) has set one.
MEMBER: ContextVar[Callable[[str, Any], bool | None] | None] = ContextVar("member", default=None)


#: Value sets whose membership ``memberOf`` could not decide during one evaluation.
UNDECIDED: ContextVar[list[str] | None] = ContextVar("undecided", default=None)


def _member_of(inputs: list[Any], url: str) -> list[bool]:
    """FHIRPath ``memberOf(url)`` for codes, Codings and CodeableConcepts, through ``MEMBER``.
    Undecidable offline: empty (FHIRPath's "unknown"), noted in ``UNDECIDED``."""
    decide = MEMBER.get()
    if decide is None:
        raise NotImplementedError("memberOf() needs the loaded value sets")
    if not inputs:
        return []
    verdicts = [decide(url, getattr(item, "data", item)) for item in inputs]
    if None in verdicts and True not in verdicts:
        noted = UNDECIDED.get()
        if noted is not None:
            noted.append(url)
        return []
    return [True in verdicts]


_OPTIONS = {
    "traceFn": lambda *args: None,  # FHIRPath trace() must not print
    "userInvocationTable": {
        "hasValue": {"fn": _has_value, "arity": {0: []}},
        "resolve": {"fn": _resolve, "arity": {0: []}},
        "memberOf": {"fn": _member_of, "arity": {1: ["String"]}},
    },
}


class _Compiled:
    __slots__ = ("empty_result", "fast", "fn", "key", "local", "message", "names", "severity")

    def __init__(
        self, key: str, severity: str, human: str, expression: str, base: str = ""
    ) -> None:
        self.key = key
        self.severity = "error" if severity == "error" else "warning"
        self.message = human
        self.fn: Callable[..., list[Any]] = _typed_compile(expression, base)
        self.local = not any(f in expression for f in _FUNCS_NOT_LOCAL)
        self.names = frozenset(_NAMES.findall(re.sub(r"'[^']*'", "", expression)))
        self.fast = compile_fast(expression)
        self.empty_result: bool | None = None
        if self.local:
            try:
                self.empty_result = _truthy(self.fn({}, dict(_CONTEXT)))
            except Exception:
                self.local = False


class _Unparsed(_Compiled):
    """A constraint the FHIRPath engine cannot parse: evaluating it raises the parse error."""

    def __init__(self, key: str, severity: str, human: str, err: Exception) -> None:
        self.key, self.message = key, human
        self.severity = "error" if severity == "error" else "warning"
        self.local, self.fast, self.empty_result = False, None, None
        self.names: frozenset[str] = frozenset()
        reason = f"cannot parse its expression: {err}"

        def fn(node: Any, ctx: Any = None) -> list[Any]:
            raise EvaluationError(reason)

        self.fn = fn


def compile_constraint(
    key: str, severity: str, human: str, expression: str, base: str
) -> _Compiled:
    """One constraint compiled for ``holds`` (profiles add constraints of their own)."""
    return _Compiled(key, severity, human, expression, base)


def holds(c: _Compiled, node: Any, resource: Any, root: Any) -> bool:
    """Whether ``node`` satisfies compiled constraint ``c``, with the same shortcuts as the core
    invariants; raises what the FHIRPath engine raises."""
    if c.local and isinstance(node, dict) and fhirpath_names(node).isdisjoint(c.names):
        return bool(c.empty_result)
    if c.fast is not None and (decided := c.fast(node)) is not None:
        return decided
    return _truthy(c.fn(node, {"resource": resource, "rootResource": root, **_CONTEXT}))


def human(key: str) -> str:
    """The spec's text of constraint ``key`` (for natively checked constraints)."""
    for cons in tables()["constraints"].values():
        for c in cons:
            if c[0] == key:
                return str(c[2])
    return key


def _typed_compile(expression: str, base: str) -> Callable[..., list[Any]]:
    """Parse once; evaluate with the node typed as ``base`` (a backbone path or datatype).

    fhirpathpy's ``compile`` evaluates untyped, so ``value`` would not find ``valueQuantity`` on a
    backbone element; its ``evaluate`` types the node with ``ResourceNode.create_node`` but
    re-parses every call. This does both: one parse, typed evaluation.
    """
    from fhirpathpy import apply_parsed_path
    from fhirpathpy.engine.nodes import ResourceNode
    from fhirpathpy.models import models
    from fhirpathpy.parser import parse

    model = models["r4"]
    parsed = fhirpath_asts().get(expression)  # R4's own, parsed when the tables were built
    if parsed is None:
        check_syntax(expression)
        parsed = parse(expression)
    if not base or ("." not in base and base[0].isupper() and base in tables()["resources"]):
        return lambda node, ctx=None: apply_parsed_path(node, parsed, ctx or {}, model, _OPTIONS)
    return lambda node, ctx=None: apply_parsed_path(
        ResourceNode.create_node(node, base), parsed, ctx or {}, model, _OPTIONS
    )


def check_syntax(expression: str) -> None:
    """Raise :class:`EvaluationError` unless ``expression`` is FHIRPath as the grammar defines it.

    Written here because fhirpathpy's parser recovers from syntax errors silently and stops at
    the first complete expression (``name.((given`` and ``a b`` parse), so an expression it
    cannot read would be evaluated as some other expression. This reads the grammar's
    ``entireExpression`` (up to the end) with fhirpathpy's own generated lexer and parser and a
    listener that raises; the tree is not built (fhirpathpy's ``parse`` builds the one used).
    """
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
    from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

    class _Raise(ErrorListener):
        def syntaxError(
            self, recognizer: Any, symbol: Any, line: int, col: int, msg: str, e: Any
        ) -> None:
            raise EvaluationError(f"not FHIRPath at column {col + 1}: {msg}")

    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    parser.buildParseTrees = False
    parser.entireExpression()


def _truthy(result: list[Any]) -> bool:
    """FHIRPath: an empty result or a single true means the constraint holds. Raises
    :class:`EvaluationError` for the error value fhirpathpy returns instead of raising
    (``single()`` over several items)."""
    if not result or result == [True]:
        return True
    if len(result) == 1 and type(result[0]) is dict and result[0].get("$status") == "error":
        raise EvaluationError(str(result[0].get("$error", "evaluation error")))
    return len(result) == 1 and result[0] is not False


class EvaluationError(Exception):
    """A FHIRPath expression could not be evaluated (or parsed) on a node."""


def unchecked(key: str, path: str, err: BaseException) -> Issue:
    """Constraint ``key`` could not be evaluated at ``path``: reported (information), never
    taken as holding or failing. A RecursionError is not caught here: see the depth guard."""
    return finding("constraint_unchecked", path, key=key, err=str(err)[:200] or type(err).__name__)


class Invariants:
    """Evaluates the constraints of a type/element key on a JSON node."""

    def __init__(self) -> None:
        raw: dict[str, list[list[str]]] = tables()["constraints"]
        self._raw = {
            k: [c for c in v if c[0] not in NATIVE and len(c) == 4 and not c[0].startswith("ele-")]
            for k, v in raw.items()
        }
        self.keys = frozenset(k for k, v in self._raw.items() if v)
        self._compiled: dict[str, list[_Compiled]] = {}

    def _get(self, key: str) -> list[_Compiled]:
        got = self._compiled.get(key)
        if got is None:
            got = []
            for c in self._raw.get(key, ()):
                try:
                    got.append(_Compiled(c[0], c[1], c[2], c[3], base=key))
                except ImportError:
                    raise  # fhirpathpy missing: never validate silently without invariants
                except Exception as err:  # reported wherever it applies, as not checked
                    got.append(_Unparsed(c[0], c[1], c[2], err))
            self._compiled[key] = got
        return got

    def check(
        self,
        key: str,
        node: Any,
        path: str,
        resource: dict[str, Any],
        root: dict[str, Any],
        issues: list[Issue],
    ) -> None:
        """Append an Issue for each constraint of ``key`` that ``node`` violates."""
        if key not in self.keys:
            return
        present = fhirpath_names(node) if isinstance(node, dict) else frozenset()
        for c in self._get(key):
            if c.local and present.isdisjoint(c.names):
                ok = c.empty_result
            elif c.fast is not None and (decided := c.fast(node)) is not None:
                ok = decided
            else:
                try:
                    ok = _truthy(
                        c.fn(node, {"resource": resource, "rootResource": root, **_CONTEXT})
                    )
                except RecursionError:
                    raise
                except Exception as err:  # reported as not checked, never as a violation
                    issues.append(unchecked(c.key, path, err))
                    continue
            if not ok:
                issues.append(Issue(c.severity, c.key, path, c.message, family="invariant"))  # type: ignore[arg-type]

    def compile_all(self) -> tuple[int, list[tuple[str, str]]]:
        """Compile every constraint; returns (compiled count, [(key, reason) not compiled])."""
        n, failed = 0, []
        for key, cons in self._raw.items():
            for c in cons:
                try:
                    _Compiled(c[0], c[1], c[2], c[3], base=key)
                    n += 1
                except Exception as err:
                    failed.append((c[0], f"{key}: {err}"))
        return n, failed
