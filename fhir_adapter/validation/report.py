"""Validation results: issues (severity, rule, location, fix) and the Report holding them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
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
    ``Bundle.entry[3].resource.code.coding[0].system``; ``line`` and ``column`` are the 1-based
    JSON position when the input was text (``line`` is the file's line for NDJSON input).
    ``resource`` names the resource concerned: ``Observation/abc``, or the bundle entry's
    ``fullUrl`` when the resource has no id.
    """

    severity: Severity
    rule: str
    path: str
    message: str
    fix: str | None = None
    line: int | None = None
    family: str = "structure"
    column: int | None = None
    resource: str | None = None

    @property
    def position(self) -> str:
        """``line 12, col 5`` (or ``line 12``), empty when the input had no text position."""
        if self.line is None:
            return ""
        return f"line {self.line}" + (f", col {self.column}" if self.column else "")

    def __str__(self) -> str:
        where = f"{self.path} ({self.position})" if self.position else self.path
        if self.resource:
            where = f"{self.resource} {where}"
        text = f"{self.severity.upper()} [{self.rule}] {where}: {self.message}"
        if self.fix:
            text += f" -- fix: {self.fix}"
        return text


class LineNumbers:
    """Ascending line numbers held as runs of consecutive numbers: memory grows with the gaps
    (blank lines), not with the lines, so a report on a huge NDJSON file stays small."""

    __slots__ = ("_len", "_runs")

    def __init__(self, numbers: Iterable[int] = ()) -> None:
        self._runs: list[list[int]] = []  # [first, last + 1]
        self._len = 0
        for n in numbers:
            self.append(n)

    def append(self, n: int) -> None:
        """Add ``n`` (greater than every number held)."""
        if self._runs and self._runs[-1][1] == n:
            self._runs[-1][1] = n + 1
        else:
            self._runs.append([n, n + 1])
        self._len += 1

    def extend(self, other: LineNumbers, offset: int = 0) -> None:
        """Add ``other``'s numbers plus ``offset`` (all greater than every number held)."""
        for first, stop in other._runs:
            if self._runs and self._runs[-1][1] == first + offset:
                self._runs[-1][1] = stop + offset
            else:
                self._runs.append([first + offset, stop + offset])
        self._len += other._len

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[int]:
        for first, stop in self._runs:
            yield from range(first, stop)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LineNumbers):
            return self._runs == other._runs
        return isinstance(other, (list, tuple)) and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> tuple[list[list[int]], int]:
        return self._runs, self._len

    def __setstate__(self, state: tuple[list[list[int]], int]) -> None:
        self._runs, self._len = state

    def __repr__(self) -> str:
        return f"LineNumbers({', '.join(f'{a}-{b - 1}' for a, b in self._runs)})"


@dataclass(repr=False)
class Report:
    """All issues found in one validation pass, in input order."""

    issues: list[Issue] = field(default_factory=list)
    source: str | None = None
    #: for an NDJSON file: the line numbers of the resources validated (one per non-empty line)
    ndjson_lines: LineNumbers | list[int] | None = None

    #: how many issues ``str(report)`` lists before summarising the rest
    STR_LIMIT = 20

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

    def __str__(self) -> str:
        """A short readable list (resource, path, position, rule, message, fix), errors first."""
        head = f"{self.source}: " if self.source else ""
        counts = f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        if not self.issues:
            return f"{head}valid FHIR (0 errors, 0 warnings)"
        state = "invalid FHIR" if not self.ok else "valid FHIR with findings"
        return f"{head}{state}: {counts}\n" + short_list(self.issues, self.STR_LIMIT)

    def __repr__(self) -> str:
        """One line under 240 characters (what pytest shows for ``assert report.ok, report``):
        the counts and the most severe issue."""
        if not self.issues:
            return f"<Report {self!s}>"
        first = min(self.issues, key=lambda i: _SEVERITY_RANK[i.severity])
        where = " ".join(p for p in (first.resource, first.path) if p)
        if first.position:
            where += f" ({first.position})"
        state = "invalid FHIR" if not self.ok else "valid FHIR with findings"
        more = f"; +{len(self.issues) - 1} more" if len(self.issues) > 1 else ""
        text = f"{state}: {len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        text += f"; {first.severity.upper()} {where}: [{first.rule}] {first.message}"
        if len(text) + len(more) > 225:
            text = text[: 224 - len(more)] + "…"
        return f"<Report {text}{more}>"

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
            if i.line is not None:
                # the official HL7 validator's form for text positions
                entry["location"] = [i.path, f"Line[{i.line}] Col[{i.column or 0}]"]
            if i.fix:
                entry["diagnostics"] = f"fix: {i.fix}"
            issues.append(entry)
        if not issues:
            issues.append(
                {"severity": "information", "code": "informational", "details": {"text": "valid"}}
            )
        return {"resourceType": "OperationOutcome", "issue": issues}


def short_list(issues: list[Issue], limit: int = 20) -> str:
    """Issues, most severe first, three short lines each: where, what, fix."""
    ranked = sorted(issues, key=lambda i: _SEVERITY_RANK[i.severity])
    lines = []
    for i in ranked[:limit]:
        where = " ".join(p for p in (i.resource, i.path) if p)
        if i.position:
            where += f" ({i.position})"
        lines.append(f"  {i.severity.upper():7} {where}")
        lines.append(f"          [{i.rule}] {i.message}")
        if i.fix:
            lines.append(f"          fix: {i.fix}")
    if len(ranked) > limit:
        lines.append(f"  ... and {len(ranked) - limit} more (report.to_text() lists all)")
    return "\n".join(lines)
