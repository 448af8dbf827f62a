"""Post a case or bundle to a FHIR server (placeholder until delivery lands)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``post`` options."""
    parser.add_argument(
        "source", nargs="?", help="case file or bundle JSON (default: the seed case)"
    )


def run(args: argparse.Namespace) -> int:
    """Not available yet."""
    from fhir_adapter.errors import InputError

    raise InputError(
        "post is not implemented yet", fix="use fhir-adapter convert and your own client"
    )
