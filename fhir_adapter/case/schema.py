"""The case formats' JSON Schemas: pick the version a file declares, check it, explain failures.

A valid file is accepted by a check generated from the schema (``schemas/case<N>_check.py``, no
``jsonschema`` import); only an invalid one is run through ``jsonschema`` to list every problem
with its line, field path and fix.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any

from fhir_adapter.case.source import Lines, col_of, dotted, line_of
from fhir_adapter.errors import CaseError, InputError
from fhir_adapter.suggest import close_matches, did_you_mean

SCHEMAS_DIR = Path(__file__).resolve().parent.parent / "schemas"
#: Every format this version of fhir-adapter reads: format name -> version number.
FORMATS = {"fhir-adapter-case/1": 1, "fhir-adapter-case/2": 2}
#: The format new case files should use.
CURRENT_FORMAT = "fhir-adapter-case/2"


def schema_path(version: int) -> Path:
    """The JSON Schema file of format ``version``."""
    return SCHEMAS_DIR / f"case-{version}.schema.json"


@cache
def _validator(version: int) -> Any:
    from jsonschema import Draft202012Validator

    schema = json.loads(schema_path(version).read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def case_schema(version: int = 2) -> dict[str, Any]:
    """The JSON Schema of case format ``version`` (default: the current one)."""
    schema: dict[str, Any] = _validator(version).schema
    return schema


def format_version(data: dict[str, Any], lines: Lines, source: str) -> int:
    """The version the file declares in ``format``; a CaseError for a missing or unknown one."""
    declared = data.get("format")
    if declared in FORMATS:
        return FORMATS[declared]
    if declared is None:
        raise CaseError(
            "missing required field 'format'",
            file=source,
            line=1,
            field="format",
            fix=f"add 'format: {CURRENT_FORMAT}' at the top",
        )
    hint = did_you_mean(close_matches(str(declared), list(FORMATS)))
    raise CaseError(
        f"{declared!r} is not supported",
        file=source,
        line=lines.get(("format",), 1),
        column=col_of(lines, ("format",)),
        field="format",
        fix=f"{hint + ' ' if hint else ''}use {CURRENT_FORMAT!r} (or {', '.join(map(repr, FORMATS))})",
    )


def check_schema(data: dict[str, Any], lines: Lines, source: str) -> int:
    """Check ``data`` against the schema of the format it declares; returns the version."""
    version = format_version(data, lines, source)
    problems = [p for _, p in schema_problems(data, version, lines, source)]
    if problems:
        raise CaseError.collect(problems)
    return version


def schema_problems(
    data: dict[str, Any], version: int, lines: Lines, source: str
) -> list[tuple[tuple[Any, ...], InputError]]:
    """Every schema problem of ``data``, each with the path of the value the schema rejected."""
    fast = import_module(f"fhir_adapter.schemas.case{version}_check")
    try:
        fast.check(data)  # generated from the same schema; fast, no jsonschema import
        return []
    except fast.JsonSchemaValueException:
        pass  # invalid: let jsonschema find and explain every problem
    errors = sorted(
        _validator(version).iter_errors(data),
        key=lambda e: line_of(lines, tuple(e.absolute_path)) or 0,
    )
    root = case_schema(version)
    return [
        (tuple(err.absolute_path), p) for err in errors for p in _explain(err, lines, source, root)
    ]


_JSON_TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    for t, name in ((str, "text"), (int, "a whole number"), (float, "a number")):
        if isinstance(value, t):
            return name
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else type(value).__name__


def _branch_fit(branch: dict[str, Any], inst: Any) -> int:
    """How well an instance matches a ``oneOf``/``anyOf`` branch's shape (keys it names)."""
    if not isinstance(inst, dict):
        return 0
    names = set(branch.get("properties", {})) | set(branch.get("required", []))
    return len(names & set(inst))


#: Fixes for pattern mismatches of fields that are not keys or ids, by field name.
_PATTERN_FIXES = {
    "doi": "write the DOI itself, e.g. 10.1000/xyz123 (no https://doi.org/ prefix)",
    "url": "write a full http:// or https:// address",
}


def _explain(err: Any, lines: Lines, source: str, root: dict[str, Any]) -> list[InputError]:
    path = tuple(err.absolute_path)
    v, inst, schema = err.validator, err.instance, err.schema

    def problem(message: str, fix: str, at: tuple[Any, ...] = path, key: bool = False) -> CaseError:
        return CaseError(
            message,
            file=source,
            line=line_of(lines, at),
            column=col_of(lines, at, key=key),
            field=dotted(at),
            fix=fix,
        )

    if v in ("oneOf", "anyOf"):
        branches = [_resolve(root, b) for b in err.validator_value]
        if all(set(b) == {"required"} for b in branches):
            options = [b["required"][0] for b in branches]
            if v == "anyOf" or not any(o in inst for o in options):
                return [
                    problem(
                        f"needs one of: {', '.join(options)}",
                        f"add one of {', '.join(options)} (see fixtures/README.md)",
                    )
                ]
            given = [o for o in options if o in inst]
            return [problem(f"give only one of: {', '.join(given)}", "keep one of them")]
        if isinstance(inst, dict) and err.context:
            # Explain the branch the value was meant for: the one naming most of its keys.
            best = max(range(len(branches)), key=lambda i: _branch_fit(branches[i], inst))
            sub = [e for e in err.context if e.relative_schema_path[0] == best]
            if sub:
                return [p for e in sub for p in _explain(e, lines, source, root)]
    if v == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        unknown = sorted(set(inst) - set(allowed))
        return [
            problem(f"unknown key {k!r}", _unknown_key_fix(k, allowed, inst), (*path, k), key=True)
            for k in unknown
        ]
    if v == "required":
        return [
            CaseError(
                f"missing required field {k!r}",
                file=source,
                line=line_of(lines, path),
                column=col_of(lines, path),
                field=dotted((*path, k)),
                fix=f"add '{k}:' here (see fixtures/README.md)",
            )
            for k in schema["required"]
            if k not in inst
        ]
    if v == "type":
        want = err.validator_value
        wants = [want] if isinstance(want, str) else list(want)
        msg = f"expected {' or '.join(_JSON_TYPES.get(w, w) for w in wants)}, got {_describe(inst)}"
        fix = "change the value's type"
    elif v in ("exclusiveMinimum", "minimum"):
        bound = err.validator_value
        msg = f"{inst!r} is too small: must be {'>' if v == 'exclusiveMinimum' else '>='} {bound}"
        fix = "use a positive value (amounts, doses and durations cannot be zero or negative)"
        if path[-2:] == ("result", "value"):
            fix = (
                "a result of zero or below needs format 'fhir-adapter-case/2', where results may"
                " be any number"
            )
    elif v == "enum":
        msg = f"{inst!r} is not allowed"
        options = [str(o) for o in err.validator_value]
        hint = did_you_mean(close_matches(str(inst), options))
        fix = f"{hint + ' ' if hint else ''}use one of: {', '.join(options)}"
    elif v == "const":
        msg = f"{inst!r} is not supported"
        fix = f"use {err.validator_value!r}"
    elif v == "pattern":
        msg = f"{inst!r} has the wrong form"
        fix = _PATTERN_FIXES.get(
            str(path[-1]) if path else "",
            "use lower-case letters, digits and '_' (keys) or '-' (case id), starting with a letter",
        )
    elif v == "uniqueItems":
        msg = "list has the same item twice"
        fix = "remove the repeated item"
    elif v == "minLength":
        msg = "must not be empty"
        fix = "write the text or remove the key"
    elif v == "minItems":
        msg = "must not be empty"
        fix = "list at least one item or remove the key"
    else:
        msg = err.message
        fix = f"see {dotted(path) or 'the top level'} in fixtures/README.md (the case format)"
    return [problem(msg, fix)]


def _unknown_key_fix(key: str, allowed: list[str], inst: dict[str, Any]) -> str:
    """Did-you-mean for a misspelt field name (among the fields not written yet), then the list."""
    hint = did_you_mean(close_matches(key, [a for a in allowed if a not in inst]))
    listed = f"use one of: {', '.join(allowed)}"
    return f"{hint} Otherwise remove it or {listed}" if hint else f"remove it or {listed}"


def _resolve(root: dict[str, Any], branch: dict[str, Any]) -> dict[str, Any]:
    """A oneOf/anyOf branch with a local ``$ref`` (``#/$defs/name``) followed."""
    ref = branch.get("$ref", "")
    if not ref.startswith("#/$defs/"):
        return branch
    resolved: dict[str, Any] = root["$defs"][ref.removeprefix("#/$defs/")]
    return resolved
