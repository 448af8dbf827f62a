"""Convert a case file to a FHIR R4 bundle (the built-in seed case by default), or many case
files to a Bulk Data NDJSON export (--ndjson OUT_DIR).

With --profile the bundle is an IPS document (ips) or a US Core bundle (us-core, us-core@3.1.1,
us-core@7.0.0). The bundle is validated with the offline validator before it is written (in a
profile mode, against that IG's profiles too); an invalid bundle is not written (exit 1).
Output is written atomically: a failed run leaves no partial file. With --ndjson, a bad case is
reported and skipped while the others are written; the exit code is then that of the worst
skipped case (1 invalid FHIR, 2 bad case file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``convert`` options."""
    parser.add_argument(
        "case",
        nargs="*",
        metavar="CASE",
        help="case file (YAML or JSON); default: the seed case. With --ndjson: case files and "
        "directories of them (*.case.yaml|yml|json)",
    )
    parser.add_argument("-o", "--output", help="write the bundle here instead of stdout")
    parser.add_argument(
        "--type",
        dest="bundle_type",
        choices=("transaction", "collection"),
        default=None,
        help="bundle type (default: transaction; an IPS is always a document)",
    )
    parser.add_argument(
        "--profile",
        metavar="MODE",
        default=None,
        help="profile output mode: ips (IPS 1.1.0 document; its time comes from the case's "
        "source.date or SOURCE_DATE_EPOCH), us-core (6.1.0), us-core@3.1.1, us-core@7.0.0 "
        "(default: plain R4)",
    )
    parser.add_argument(
        "--ndjson",
        metavar="OUT_DIR",
        help="write a Bulk Data export: one NDJSON file per resource type and a manifest.json",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="N",
        help="--ndjson: worker processes (default 1; 0: one per CPU)",
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="--ndjson: prefix for the manifest's file urls (default: file names)",
    )
    parser.add_argument(
        "--no-validate", action="store_true", help="skip offline validation of the produced bundle"
    )
    parser.add_argument(
        "--report",
        metavar="FILE.html",
        help="also write an HTML report of the bundle (written even when the bundle is invalid)",
    )


def run(args: argparse.Namespace) -> int:
    """Convert, validate, write; returns the exit code."""
    import json

    from fhir_adapter.errors import InputError

    if args.ndjson:
        if args.output or args.bundle_type or args.report:
            raise InputError(
                "--ndjson writes resources, not a bundle",
                field="--output/--type/--report",
                fix="leave out -o, --type and --report with --ndjson",
            )
        if args.profile:
            raise InputError(
                "profile modes make bundles; the NDJSON export is plain R4",
                field="--profile",
                fix="leave out --profile with --ndjson, or convert one case at a time",
            )
        return _export(args)
    if len(args.case) > 1 or args.jobs != 1 or args.base_url:
        raise InputError(
            "several cases, --jobs and --base-url need --ndjson OUT_DIR",
            field="--ndjson",
            fix="add --ndjson OUT_DIR, or convert one case at a time",
        )
    from fhir_adapter.convert import convert

    case = args.case[0] if args.case else None
    bundle = convert(case, bundle_type=args.bundle_type, profile=args.profile)
    report = None
    if not args.no_validate:
        from fhir_adapter.api import validation_report

        report = validation_report(bundle, args.profile)  # and the mode's IG in a profile mode
    if args.report:
        from fhir_adapter.report import write_html

        name = Path(case).name if case else "seed case"
        write_html(bundle, args.report, report=report, validate=False, title=name)
        print(f"wrote {args.report}: HTML report", file=sys.stderr)
    if report is not None and not report.ok:
        print(report.to_text(), file=sys.stderr)
        print("fhir-adapter convert: the bundle is invalid; bundle not written", file=sys.stderr)
        return 1
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        from fhir_adapter.files import write_atomic

        write_atomic(Path(args.output), text)
        n = len(bundle["entry"])
        kind = bundle["type"] + (f" ({args.profile})" if args.profile else "")
        print(f"wrote {args.output}: {kind} bundle, {n} resources", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _export(args: argparse.Namespace) -> int:
    """``convert CASE... --ndjson OUT_DIR``; skipped cases are reported as they happen."""
    from fhir_adapter.bulk.export import export_ndjson

    if not args.case:
        from fhir_adapter.paths import SEED_CASE

        args.case = [SEED_CASE]
    result = export_ndjson(
        args.case,
        args.ndjson,
        jobs=args.jobs,
        validate=not args.no_validate,
        base_url=args.base_url,
        mappings=getattr(args, "mappings", None) or (),
        show_skipped=True,
    )
    print(result.summary(), file=sys.stderr)
    return result.exit_code
