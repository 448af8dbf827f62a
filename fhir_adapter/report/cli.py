"""Write a self-contained HTML report of a bundle (summary, cards, graph, issues).

One file that opens from disk or a CI artifact, with no network: a patient summary, a card per
resource, the reference graph, validation issues on the resources they concern, counts.

Exit codes: 0 written and valid, 1 written but the FHIR is invalid, 2 unreadable input.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``report`` options."""
    parser.add_argument(
        "bundle", metavar="BUNDLE.json", help="a Bundle (or one resource) in FHIR JSON"
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="where to write the HTML (default: BUNDLE.html beside the input; - for stdout)",
    )
    parser.add_argument("--title", help="page title (default: the file name)")
    parser.add_argument(
        "--no-validate", action="store_true", help="show the resources only, without validating"
    )
    from fhir_adapter.validation.cli import add_profile_arguments

    add_profile_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Validate (unless told not to), render, write; returns the exit code."""
    from pathlib import Path

    from fhir_adapter.files import write_atomic
    from fhir_adapter.report import load_bundle
    from fhir_adapter.report.page import bundle_page

    source = Path(args.bundle)
    data, text = load_bundle(source)
    report, against = None, None
    if not args.no_validate:
        from fhir_adapter.config import validate_options
        from fhir_adapter.validation import Validator

        options = validate_options(args)
        report = Validator(**options).validate(text if text is not None else data)
        report.source = str(source)
        against = ", ".join(["R4", *options["igs"], *options["profiles"]])
    html = bundle_page(data, report, title=args.title or source.name, against=against)
    if args.output == "-":
        sys.stdout.write(html)
    else:
        out = Path(args.output) if args.output else source.with_suffix(".html")
        write_atomic(out, html)
        state = "not validated" if report is None else ("valid" if report.ok else "INVALID")
        print(f"wrote {out}: {len(data.get('entry') or [1])} resources, {state}", file=sys.stderr)
    return 1 if report is not None and not report.ok else 0
