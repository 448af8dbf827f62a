"""Validation results: issues (severity, rule, location, fix) and the Report holding them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["fatal", "error", "warning", "information"]

_SEVERITY_RANK = {"fatal": 0, "error": 1, "warning": 2, "information": 3}

#: rule family -> OperationOutcome.issue.code (http://hl7.org/fhir/issue-type)
_ISSUE_TYPE = {
    "json": "structure",
    "structure": "structure",
    "cardinality": "required",
    "primitive": "value",
    "binding": "code-invalid",
    "code": "code-invalid",
    "reference": "invalid",
    "bundle": "invalid",
    "invariant": "invariant",
}


@dataclass(frozen=True, slots=True)
class Issue:
    """One problem found in the input.

    ``rule`` is a stable id: an invariant key such as ``obs-6`` or a check family such as
    ``cardinality``, ``binding``, ``json``. ``path`` is a FHIRPath-style location such as
    ``Bundle.entry[3].resource.code.coding[0].system``; ``line`` is the 1-based JSON line when
    the input was text.
    """

    severity: Severity
    rule: str
    path: str
    message: str
    fix: str | None = None
    line: int | None = None
    family: str = "structure"

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path} (line {self.line})"
        text = f"{self.severity.upper()} [{self.rule}] {where}: {self.message}"
        if self.fix:
            text += f" -- fix: {self.fix}"
        return text


@dataclass
class Report:
    """All issues found in one validation pass, in input order."""

    issues: list[Issue] = field(default_factory=list)
    source: str | None = None

    @property
    def errors(self) -> list[Issue]:
        """Issues of severity ``fatal`` or ``error``."""
        return [i for i in self.issues if _SEVERITY_RANK[i.severity] <= 1]

    @property
    def warnings(self) -> list[Issue]:
        """Issues of severity ``warning``."""
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there is no error or fatal issue (warnings allowed)."""
        return not self.errors

    def __bool__(self) -> bool:
        return self.ok

    def __iter__(self) -> Iterator[Issue]:
        return iter(self.issues)

    def __len__(self) -> int:
        return len(self.issues)

    def to_text(self) -> str:
        """A human-readable listing, one issue per line."""
        head = self.source + ": " if self.source else ""
        if not self.issues:
            return f"{head}valid (0 errors, 0 warnings)"
        lines = [str(i) for i in self.issues]
        lines.append(f"{head}{len(self.errors)} error(s), {len(self.warnings)} warning(s)")
        return "\n".join(lines)

    def to_operation_outcome(self) -> dict[str, Any]:
        """An R4 OperationOutcome; each issue's ``expression`` carries its path."""
        issues: list[dict[str, Any]] = []
        for i in self.issues:
            entry: dict[str, Any] = {
                "severity": i.severity,
                "code": _ISSUE_TYPE.get(i.family, "processing"),
                "details": {"text": f"[{i.rule}] {i.message}"},
                "expression": [i.path],
            }
            if i.fix:
                entry["diagnostics"] = f"fix: {i.fix}"
            issues.append(entry)
        if not issues:
            issues.append(
                {"severity": "information", "code": "informational", "details": {"text": "valid"}}
            )
        return {"resourceType": "OperationOutcome", "issue": issues}
