"""Validate FHIR R4 JSON offline (files, directories, NDJSON, or - for stdin).

Exit codes: 0 valid, 1 invalid (errors, or warnings with --warnings-as-errors), 2 unreadable
input or bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

LAYER_NAMES = "json,structure,extensions,primitives,bindings,codes,invariants,references,bundle"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``validate`` options."""
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help=".json or .ndjson file, a directory of them (searched recursively), or - for stdin",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "outcome"),
        default="text",
        help="output format (default text)",
    )
    parser.add_argument("--warnings-as-errors", action="store_true", help="exit 1 on warnings too")
    parser.add_argument("--only", help=f"comma-separated layers to run ({LAYER_NAMES})")
    parser.add_argument("--skip", help="comma-separated layers to skip")


def _split(v: str | None) -> list[str] | None:
    return [x.strip() for x in v.split(",") if x.strip()] if v else None


def _grouped_text(report: Any) -> str:
    """Issues grouped by bundle entry, so a person can fix one resource at a time."""
    import re

    groups: dict[str, list[Any]] = {}
    for i in report.issues:
        m = re.match(r"^(Bundle\.entry\[\d+\])", i.path)
        groups.setdefault(m.group(1) if m else "", []).append(i)
    lines = []
    for head, issues in groups.items():
        if head:
            lines.append(f"{head}:")
        for i in issues:
            where = f" (line {i.line})" if i.line else ""
            fix = f"\n      fix: {i.fix}" if i.fix else ""
            lines.append(f"  {i.severity.upper():7} [{i.rule}] {i.path}{where}: {i.message}{fix}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    """Validate each input; print the reports; return the exit code."""
    import json
    from pathlib import Path

    from fhir_adapter.errors import InputError
    from fhir_adapter.validation import Validator

    validator = Validator(only=_split(args.only), skip=_split(args.skip))
    reports = []
    for name in args.files:
        if name == "-":
            text = sys.stdin.read()
            if text.lstrip().startswith("{") and "\n{" not in text.strip():
                reports.append(validator.validate_text(text, source="<stdin>"))
            else:
                for n, line in enumerate(text.splitlines(), 1):
                    if line.strip():
                        reports.append(validator.validate_text(line, source=f"<stdin>:{n}"))
            continue
        path = Path(name)
        if path.is_dir():
            found = sorted(
                p for p in path.rglob("*") if p.suffix in (".json", ".ndjson") and p.is_file()
            )
            if not found:
                raise InputError(
                    "no .json or .ndjson files in this directory",
                    file=name,
                    fix="give a directory holding FHIR JSON, or the files themselves",
                )
            reports.extend(validator.validate_file(p) for p in found)
            continue
        if not path.is_file():
            raise InputError("file not found", file=name, fix="check the path")
        reports.append(validator.validate_file(path))
    failed = any(not r.ok or (args.warnings_as_errors and r.warnings) for r in reports)
    if args.format == "outcome":
        for r in reports:
            print(json.dumps(r.to_operation_outcome(), indent=2))
    elif args.format == "json":
        out = [
            {
                "source": r.source,
                "valid": r.ok,
                "issues": [
                    {
                        k: getattr(i, k)
                        for k in ("severity", "rule", "path", "line", "message", "fix")
                    }
                    for i in r.issues
                ],
            }
            for r in reports
        ]
        print(json.dumps(out, indent=2))
    else:
        for r in reports:
            status = "INVALID" if not r.ok else "valid"
            print(f"{r.source}: {status} ({len(r.errors)} errors, {len(r.warnings)} warnings)")
            if r.issues:
                print(_grouped_text(r))
    return 1 if failed else 0
