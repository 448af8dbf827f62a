"""Strict offline FHIR R4 (4.0.1) validation.

``validate(obj)`` accepts a resource or bundle as a ``dict``, a ``fhir.resources`` model, JSON
text/bytes, or a path to a ``.json`` / ``.ndjson`` file, and returns a
:class:`~fhir_adapter.validation.report.Report` with every issue found in one pass. A
:class:`Validator` compiles its configuration once and validates many inputs cheaply.

Layers (all on by default): ``json``, ``structure``, ``primitives``, ``bindings``, ``codes``,
``invariants``, ``references``, ``bundle``. Rules come from tables generated from the official
R4 definitions (see ``fhir_adapter/validation/generate.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from fhir_adapter.errors import InputError
from fhir_adapter.validation.engine import LAYERS, Walker
from fhir_adapter.validation.jsontext import DuplicateKeyError, line_map, loads_strict
from fhir_adapter.validation.report import Issue, Report

__all__ = ["LAYERS", "Issue", "Report", "Validator", "validate"]


def _layers(only: Iterable[str] | None, skip: Iterable[str] | None) -> frozenset[str]:
    chosen = set(LAYERS if only is None else only)
    chosen -= set(skip or ())
    unknown = chosen - set(LAYERS)
    if unknown:
        raise InputError(
            f"unknown validation layer(s): {', '.join(sorted(unknown))}",
            field="--only/--skip",
            fix=f"use some of: {', '.join(LAYERS)}",
        )
    return frozenset(chosen)


class Validator:
    """A validator compiled once for a set of layers; reuse it for many inputs."""

    def __init__(
        self, *, only: Iterable[str] | None = None, skip: Iterable[str] | None = None
    ) -> None:
        self.layers = _layers(only, skip)
        self._walker = Walker(self.layers)

    def validate(self, obj: Any, *, source: str | None = None) -> Report:
        """Validate a dict, model, JSON text/bytes, or path; every issue in one Report."""
        if isinstance(obj, Path) or (
            isinstance(obj, str) and not obj.lstrip().startswith(("{", "["))
        ):
            return self.validate_file(Path(obj))
        if isinstance(obj, (str, bytes)):
            return self.validate_text(
                obj.decode() if isinstance(obj, bytes) else obj, source=source
            )
        if hasattr(obj, "model_dump"):
            obj = json.loads(obj.model_dump_json(exclude_none=True))
        return self.validate_resource(obj, source=source)

    def validate_resource(
        self, resource: Any, *, source: str | None = None, path: str | None = None
    ) -> Report:
        """Validate an already-parsed JSON resource."""
        issues: list[Issue] = []
        root = (
            path
            or (resource.get("resourceType") if isinstance(resource, dict) else None)
            or "Resource"
        )
        self._walker.resource(resource, root if isinstance(root, str) else "Resource", issues)
        return Report(issues, source)

    def validate_text(self, text: str, *, source: str | None = None) -> Report:
        """Validate JSON text; issues carry the JSON line where they occur."""
        try:
            data = loads_strict(text)
        except DuplicateKeyError as err:
            return Report(
                [Issue("error", "json", "(input)", str(err), "keep one of the two", family="json")],
                source,
            )
        except json.JSONDecodeError as err:
            return Report(
                [
                    Issue(
                        "fatal",
                        "json",
                        "(input)",
                        f"not valid JSON: {err.msg}",
                        line=err.lineno,
                        family="json",
                    )
                ],
                source,
            )
        report = self.validate_resource(data, source=source)
        if report.issues:
            rt = data.get("resourceType") if isinstance(data, dict) else None
            lines = line_map(text, rt if isinstance(rt, str) and rt else "Resource")
            report.issues = [_with_line(i, lines) for i in report.issues]
        return report

    def validate_file(self, path: Path) -> Report:
        """Validate a ``.json`` file, or every line of an ``.ndjson`` file (one combined Report)."""
        if path.suffix == ".ndjson":
            report = Report(source=str(path))
            for line_no, rep in self.iter_ndjson(path):
                report.issues.extend(_with_line(i, {}, line_no) for i in rep.issues)
            return report
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read: {err}", file=str(path), fix="check the path") from None
        return self.validate_text(text, source=str(path))

    def iter_ndjson(self, path: Path) -> Iterator[tuple[int, Report]]:
        """Validate an NDJSON file line by line (bounded memory): (line number, Report) pairs."""
        try:
            fh = path.open(encoding="utf-8")
        except OSError as err:
            raise InputError(f"cannot read: {err}", file=str(path), fix="check the path") from None
        with fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    rep = self.validate_text(line, source=f"{path}:{n}")
                    yield n, rep


def _with_line(issue: Issue, lines: dict[str, int], line: int | None = None) -> Issue:
    if line is None:
        p = issue.path
        while p and p not in lines:
            cut = max(p.rfind("."), p.rfind("["))
            p = p[:cut] if cut > 0 else ""
        line = lines.get(p)
    if line is None or (issue.line is not None and lines):
        return issue
    return Issue(
        issue.severity, issue.rule, issue.path, issue.message, issue.fix, line, issue.family
    )


_DEFAULT: Validator | None = None


def validate(
    obj: Any, *, only: Iterable[str] | None = None, skip: Iterable[str] | None = None
) -> Report:
    """Validate a resource, bundle, JSON text or file path with all (or the chosen) layers."""
    global _DEFAULT
    if only is None and skip is None:
        if _DEFAULT is None:
            _DEFAULT = Validator()
        return _DEFAULT.validate(obj)
    return Validator(only=only, skip=skip).validate(obj)
