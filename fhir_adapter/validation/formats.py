"""Validation results of one or many files as text, JSON, OperationOutcome, JUnit XML and GitHub
workflow annotations (the HTML page is :mod:`fhir_adapter.report`).

Every format names, for every issue, its file, resource, line and column; the JSON formats are
one document however many files were validated.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from fhir_adapter.validation.report import Issue, Report

_ENTRY_HEAD = re.compile(r"^(?:[A-Za-z]+(?:\.entry\[\d+\]\.resource)*\.entry\[\d+\])")


@dataclass(frozen=True)
class FileResult:
    """The validation result of one input file (or stdin)."""

    file: str
    report: Report
    warnings_as_errors: bool = False

    @property
    def failed(self) -> bool:
        """True when the file fails: errors, or warnings with ``warnings_as_errors``."""
        return not self.report.ok or (self.warnings_as_errors and bool(self.report.warnings))

    @property
    def units(self) -> list[int | None]:
        """What a JUnit test case stands for: each NDJSON line, or the whole file (``None``)."""
        lines = self.report.ndjson_lines
        return list(lines) if lines is not None else [None]


def where(issue: Issue, file: str | None = None) -> str:
    """``file:line:col`` (parts left out when unknown)."""
    parts = [file or ""]
    if issue.line is not None:
        parts.append(str(issue.line))
        if issue.column is not None:
            parts.append(str(issue.column))
    return ":".join(parts)


def group_by_resource(issues: Iterable[Issue]) -> dict[str, list[Issue]]:
    """Issues by the resource they concern, in input order (``""`` for the top level)."""
    groups: dict[str, list[Issue]] = {}
    for i in issues:
        m = _ENTRY_HEAD.match(i.path)
        head = m.group(0) if m else ""
        if i.resource:
            head = f"{head} {i.resource}" if head else i.resource
        groups.setdefault(head, []).append(i)
    return groups


def grouped_text(issues: Iterable[Issue]) -> str:
    """Issues grouped by resource, so a person can fix one resource at a time."""
    lines = []
    for head, group in group_by_resource(issues).items():
        indent = "  "
        if head:
            lines.append(f"{head}:")
            indent = "    "
        for i in group:
            pos = f" ({i.position})" if i.position else ""
            lines.append(f"{indent}{i.severity.upper():7} [{i.rule}] {i.path}{pos}: {i.message}")
            if i.fix:
                lines.append(f"{indent}    fix: {i.fix}")
    return "\n".join(lines)


def to_text(results: Sequence[FileResult]) -> str:
    """One summary line per file, then its issues grouped by resource."""
    out = []
    for r in results:
        rep = r.report
        status = "INVALID" if r.failed else "valid"
        n = f"{len(rep.ndjson_lines)} resources, " if rep.ndjson_lines is not None else ""
        out.append(
            f"{r.file}: {status} ({n}{len(rep.errors)} errors, {len(rep.warnings)} warnings)"
        )
        if rep.issues:
            out.append(grouped_text(rep.issues))
    if len(results) > 1:
        bad = sum(r.failed for r in results)
        out.append(f"{len(results)} files: {len(results) - bad} valid, {bad} invalid")
    return "\n".join(out)


def issue_dict(issue: Issue, file: str) -> dict[str, Any]:
    """One issue as a JSON object naming its file, resource, line and column."""
    return {
        "file": file,
        "resource": issue.resource,
        "line": issue.line,
        "column": issue.column,
        "severity": issue.severity,
        "rule": issue.rule,
        "path": issue.path,
        "message": issue.message,
        "fix": issue.fix,
    }


def to_json(results: Sequence[FileResult]) -> str:
    """One JSON array: per file ``file``, ``valid``, counts and ``issues``."""
    out = []
    for r in results:
        rep = r.report
        item: dict[str, Any] = {
            "file": r.file,
            "valid": not r.failed,
            "errors": len(rep.errors),
            "warnings": len(rep.warnings),
        }
        if rep.ndjson_lines is not None:
            item["resources"] = len(rep.ndjson_lines)
        item["issues"] = [issue_dict(i, r.file) for i in rep.issues]
        out.append(item)
    return json.dumps(out, indent=2, ensure_ascii=False)


def file_uri(file: str) -> str:
    """An absolute URI for a file name (``file:`` URI; a name-based UUID URN for stdin)."""
    if file.startswith("<"):
        return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'fhir-adapter:' + file)}"
    return Path(file).resolve().as_uri()


def outcome(report: Report, file: str) -> dict[str, Any]:
    """An OperationOutcome for one file; every issue's diagnostics start ``file:line:col``."""
    oo = report.to_operation_outcome()
    for raw, issue in zip(oo["issue"], report.issues, strict=False):  # "valid" has no issue
        head = where(issue, file)
        if issue.resource:
            head += f" {issue.resource}"
        raw["diagnostics"] = head + (f" -- {raw['diagnostics']}" if "diagnostics" in raw else "")
    from html import escape

    oo["text"] = {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>Validation of '
        f"{escape(file)}: {len(report.errors)} error(s), {len(report.warnings)} "
        "warning(s)</p></div>",
    }
    return oo


def to_outcome(results: Sequence[FileResult]) -> str:
    """An OperationOutcome for one file; for several, one collection Bundle of them (as the
    official HL7 validator does), each entry's ``fullUrl`` the file's URI."""
    if len(results) == 1:
        return json.dumps(outcome(results[0].report, results[0].file), indent=2, ensure_ascii=False)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": file_uri(r.file), "resource": outcome(r.report, r.file)} for r in results
        ],
    }
    return json.dumps(bundle, indent=2, ensure_ascii=False)


def line_text(issue: Issue, file: str | None = None) -> str:
    """``file:line:col: ERROR [rule] Observation/abc path: message (fix: ...)``, one line."""
    res = " ".join(p for p in (issue.resource, issue.path) if p)
    text = f"{where(issue, file)}: {issue.severity.upper()} [{issue.rule}] {res}: {issue.message}"
    return text + (f" (fix: {issue.fix})" if issue.fix else "")


def _failure_text(issues: Sequence[Issue], file: str) -> str:
    return "\n".join(line_text(i, file) for i in issues)


def to_junit(results: Sequence[FileResult]) -> str:
    """JUnit XML: a test suite per file, a test case per file or per NDJSON line."""
    root = ET.Element("testsuites", name="fhir-adapter validate")
    total = failures = 0
    for r in results:
        by_line: dict[int | None, list[Issue]] = {}
        ndjson = r.report.ndjson_lines is not None
        for i in r.report.issues:
            by_line.setdefault(i.line if ndjson else None, []).append(i)
        suite = ET.SubElement(root, "testsuite", name=r.file)
        n_fail = 0
        for unit in r.units:
            issues = by_line.get(unit, [])
            name = r.file if unit is None else f"{r.file}:{unit}"
            res = next((i.resource for i in issues if i.resource), None)
            if res:
                name += f" {res}"
            case = ET.SubElement(suite, "testcase", classname=r.file, name=name, file=r.file)
            if unit is not None:
                case.set("line", str(unit))
            # errors first, then (with warnings_as_errors) warnings; split by severity, not by
            # comparing issues (which made a file with thousands of issues take minutes)
            failing = ("fatal", "error", "warning") if r.warnings_as_errors else ("fatal", "error")
            bad = [i for i in issues if i.severity in ("fatal", "error")]
            bad += [i for i in issues if i.severity == "warning" and "warning" in failing]
            if bad:
                n_fail += 1
                fail = ET.SubElement(
                    case,
                    "failure",
                    message=f"{len(bad)} issue(s): {bad[0].message}"[:500],
                    type="FHIR validation",
                )
                fail.text = _failure_text(bad, r.file)
            rest = [i for i in issues if i.severity not in failing]
            if rest:
                ET.SubElement(case, "system-out").text = _failure_text(rest, r.file)
        suite.set("tests", str(len(r.units)))
        suite.set("failures", str(n_fail))
        suite.set("errors", "0")
        total += len(r.units)
        failures += n_fail
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


_GH_LEVEL = {"fatal": "error", "error": "error", "warning": "warning", "information": "notice"}


def _gh_data(s: str) -> str:
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(s: str) -> str:
    return _gh_data(s).replace(":", "%3A").replace(",", "%2C")


def to_github(results: Sequence[FileResult]) -> str:
    """GitHub Actions workflow commands: ``::error file=...,line=...,col=...,title=...::...``."""
    out = []
    for r in results:
        for i in r.report.issues:
            level = _GH_LEVEL[i.severity]
            if level == "warning" and r.warnings_as_errors:
                level = "error"
            props = [f"file={_gh_prop(r.file)}"]
            if i.line is not None:
                props.append(f"line={i.line}")
                if i.column is not None:
                    props.append(f"col={i.column}")
            props.append(f"title={_gh_prop(f'FHIR {i.rule}')}")
            text = " ".join(p for p in (i.resource, i.path) if p) + f": {i.message}"
            if i.fix:
                text += f" (fix: {i.fix})"
            out.append(f"::{level} {','.join(props)}::{_gh_data(text)}")
    bad = sum(r.failed for r in results)
    out.append(f"fhir-adapter validate: {len(results)} file(s), {bad} invalid")
    return "\n".join(out)


RENDERERS = {
    "text": to_text,
    "json": to_json,
    "outcome": to_outcome,
    "junit": to_junit,
    "github": to_github,
}
