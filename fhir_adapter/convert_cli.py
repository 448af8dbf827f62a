"""Convert a case file to a FHIR R4 bundle (the built-in seed case by default).

With --profile the bundle is an IPS document (ips) or a US Core bundle (us-core, us-core@3.1.1,
us-core@7.0.0). The bundle is validated with the offline validator before it is written (in a
profile mode, against that IG's profiles too); an invalid bundle is not written (exit 1). Output is written atomically: a failed run leaves no
partial file.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``convert`` options."""
    parser.add_argument("case", nargs="?", help="case file (YAML or JSON); default: the seed case")
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
        "--no-validate", action="store_true", help="skip offline validation of the produced bundle"
    )
    parser.add_argument(
        "--report",
        metavar="FILE.html",
        help="also write an HTML report of the bundle (written even when the bundle is invalid)",
    )


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; honour the user's umask instead
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run(args: argparse.Namespace) -> int:
    """Convert, validate, write; returns the exit code."""
    import json

    from fhir_adapter.convert import convert

    bundle = convert(args.case, bundle_type=args.bundle_type, profile=args.profile)
    report = None
    if not args.no_validate:
        from fhir_adapter.validation import validate

        igs = []
        if args.profile:
            from fhir_adapter.profiled import parse_mode

            igs.append(parse_mode(args.profile).ig)  # and against the profiles it claims
        report = validate(bundle, igs=igs)
    if args.report:
        from fhir_adapter.report import write_html

        name = Path(args.case).name if args.case else "seed case"
        write_html(bundle, args.report, report=report, validate=False, title=name)
        print(f"wrote {args.report}: HTML report", file=sys.stderr)
    if report is not None and not report.ok:
        print(report.to_text(), file=sys.stderr)
        print("fhir-adapter convert: the bundle is invalid; bundle not written", file=sys.stderr)
        return 1
    text = json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"
    if args.output:
        write_atomic(Path(args.output), text)
        n = len(bundle["entry"])
        kind = bundle["type"] + (f" ({args.profile})" if args.profile else "")
        print(f"wrote {args.output}: {kind} bundle, {n} resources", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
