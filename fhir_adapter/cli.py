"""Command-line interface: a thin layer over the public Python API.

Exit codes: 0 success, 1 invalid FHIR / failed delivery, 2 bad input or usage, 141 the reader
of stdout went away (``| head``).
Each sub-command lives in a module whose top level imports only the standard library;
the heavy work is imported when the command runs, so ``--help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from importlib import import_module

from fhir_adapter.errors import EXIT_BAD_INPUT, FhirAdapterError
from fhir_adapter.version import __version__

#: Exit code when stdout's reader has gone (128 + SIGPIPE, as shells report it).
EXIT_BROKEN_PIPE = 141

#: sub-command name -> module exposing ``add_arguments(parser)`` and ``run(args) -> int``.
COMMANDS = {
    "convert": "fhir_adapter.convert_cli",
    "validate": "fhir_adapter.validation.cli",
    "post": "fhir_adapter.client.cli",
    "concepts": "fhir_adapter.concepts.cli",
    "report": "fhir_adapter.report.cli",
    "schema": "fhir_adapter.schema_cli",
    "init": "fhir_adapter.init_cli",
}
#: Sub-commands that read the settings file (``$FHIR_ADAPTER_CONFIG`` or ./fhir-adapter.yaml):
#: it is checked before they start, whatever their options.
READS_SETTINGS = ("convert", "validate", "post", "concepts", "report")
#: Sub-commands that read case files: they take ``--mappings DIR`` (add-on terminology tables).
READS_CASES = ("convert", "post")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for ``fhir-adapter`` and all its sub-commands."""
    parser = argparse.ArgumentParser(
        prog="fhir-adapter",
        description="Convert clinical cases to FHIR R4, validate FHIR offline, post to servers, report in HTML.",
        epilog="Exit codes: 0 ok, 1 invalid or failed, 2 bad input or usage.",
    )
    parser.add_argument("--version", action="version", version=f"fhir-adapter {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        module = import_module(module_name)
        doc = (module.__doc__ or "").strip().splitlines()
        sp = sub.add_parser(name, help=doc[0] if doc else None, description=module.__doc__)
        module.add_arguments(sp)
        if name in READS_CASES:
            sp.add_argument(
                "--mappings",
                action="append",
                default=[],
                metavar="DIR",
                help="add-on mappings directory extending the shipped tables (repeatable)",
            )
        sp.set_defaults(_module=module_name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    module = import_module(args._module)
    try:
        if args.command in READS_SETTINGS:
            from fhir_adapter.config import read_config

            read_config()  # a named file that is missing or broken stops every command
        if getattr(args, "mappings", None):
            from fhir_adapter.terminology import use_mappings

            use_mappings(args.mappings)
        code: int = module.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not at interpreter exit
    except FhirAdapterError as err:
        print(f"fhir-adapter {args.command}: error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as SIGPIPE would, and keep Python
        # from complaining when it flushes stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
