"""Validate FHIR R4 JSON offline (files, directories, NDJSON, or - for stdin).

Exit codes: 0 valid, 1 invalid (errors, or warnings with --warnings-as-errors), 2 unreadable
input or bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

LAYER_NAMES = (
    "json,structure,extensions,primitives,bindings,codes,invariants,references,bundle,profiles"
)


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
        choices=("text", "json", "outcome", "junit", "github", "html"),
        default="text",
        help="text (default); json: one array, an object per file; outcome: one Bundle of "
        "OperationOutcomes; junit: JUnit XML, a test case per file or NDJSON line; github: "
        "GitHub Actions annotations; html: one self-contained page",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the results here (default: stdout)"
    )
    parser.add_argument("--warnings-as-errors", action="store_true", help="exit 1 on warnings too")
    parser.add_argument("--only", help=f"comma-separated layers to run ({LAYER_NAMES})")
    parser.add_argument("--skip", help="comma-separated layers to skip")
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="worker processes (default 1; 0: one per CPU); large NDJSON files are split by lines",
    )
    add_profile_arguments(parser)


def add_profile_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare ``--ig``, ``--profile`` and the strictness options (also used by ``report``)."""
    profiles = parser.add_argument_group(
        "profiles", "IGs and profiles (defaults from the validate: section of fhir-adapter.yaml)"
    )
    profiles.add_argument(
        "--ig",
        action="append",
        default=None,
        metavar="NAME#VERSION|PATH",
        help="load an IG package: us-core (6.1.0), ips (1.1.0), hl7.fhir.us.core#3.1.1, a .tgz or "
        "a package folder (repeatable); resources are checked against the profiles they claim",
    )
    profiles.add_argument(
        "--profile",
        action="append",
        default=None,
        metavar="URL",
        help="check every resource of the profile's type against it (repeatable)",
    )
    profiles.add_argument(
        "--strict-extensions",
        action="store_true",
        default=None,
        help="an extension whose definition is not loaded is an error (default: a warning)",
    )
    profiles.add_argument(
        "--strict-terminology",
        action="store_true",
        default=None,
        help="a code that cannot be checked offline against its value set is an error "
        "(default: a warning)",
    )
    profiles.add_argument(
        "--allow-missing-deps",
        dest="allow_missing_dependencies",
        action="store_true",
        default=None,
        help="load an IG even when dependencies are nowhere to be found (what they define is "
        "not checked; default: exit 2 naming them)",
    )
    profiles.add_argument(
        "--must-support",
        action="store_true",
        default=None,
        help="report must-support elements left empty (information, never an error)",
    )


def _split(v: str | None) -> list[str] | None:
    return [x.strip() for x in v.split(",") if x.strip()] if v else None


def _stdin(validator: Any) -> Any:
    """stdin as one JSON document, or as NDJSON (one Report, issues on stdin's line numbers)."""
    import dataclasses

    from fhir_adapter.validation import Report

    text = sys.stdin.read()
    if text.lstrip().startswith("{") and "\n{" not in text.strip():
        return validator.validate_text(text, source="<stdin>")
    lines: list[int] = []
    report = Report(source="<stdin>", ndjson_lines=lines)
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            lines.append(n)
            rep = validator.validate_text(line, source=f"<stdin>:{n}")
            report.issues.extend(dataclasses.replace(i, line=n) for i in rep.issues)
    return report


def run(args: argparse.Namespace) -> int:
    """Validate each input; write the results in the chosen format; return the exit code."""
    from pathlib import Path

    from fhir_adapter.bulk.validate import expand_inputs, validate_paths
    from fhir_adapter.config import validate_options
    from fhir_adapter.progress import Progress
    from fhir_adapter.validation import Validator
    from fhir_adapter.validation.formats import RENDERERS, FileResult

    validator = Validator(only=_split(args.only), skip=_split(args.skip), **validate_options(args))
    inputs = expand_inputs(args.files)
    sizes = [p.stat().st_size if isinstance(p, Path) else 0 for p in inputs]
    results: list[FileResult] = []
    done = {"resources": 0, "invalid": 0}  # shown beside the bar, with resources/s
    with Progress(sum(sizes) or None, desc="validate", scale_bytes=True) as bar:

        def step(size: int, resources: int) -> None:
            done["resources"] += resources
            bar.advance(size, done)

        reports = validate_paths(inputs, validator, jobs=args.jobs, progress=step)
        for path, report in zip(inputs, reports, strict=True):
            if report is None:
                report = _stdin(validator)
            name = "<stdin>" if path == "-" else str(path)
            result = FileResult(name, report, args.warnings_as_errors)
            results.append(result)
            done["invalid"] += result.failed
    if args.format == "html":
        from fhir_adapter.report import validation_html

        text = validation_html(results, base=Path(args.output).parent if args.output else None)
    else:
        text = RENDERERS[args.format](results)
    if args.output:
        from fhir_adapter.files import write_atomic

        write_atomic(Path(args.output), text + "\n")
        bad = sum(r.failed for r in results)
        print(f"wrote {args.output}: {len(results)} file(s), {bad} invalid", file=sys.stderr)
    else:
        sys.stdout.write(text + "\n")
    return 1 if any(r.failed for r in results) else 0
