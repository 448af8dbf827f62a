"""Where the project's data lives: terminology tables, built-in cases, generated rule tables."""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    """A top-level data folder: the source checkout's, else the copy packed into the wheel."""
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    return _PACKAGE / "_data" / name


#: Terminology tables; the ``FHIR_ADAPTER_MAPPINGS`` environment variable points elsewhere.
MAPPINGS_DIR = Path(os.environ.get("FHIR_ADAPTER_MAPPINGS") or _data_dir("mappings"))
FIXTURES_DIR = _data_dir("fixtures")
SEED_CASE = FIXTURES_DIR / "sle-calcinosis-cutis-universalis.case.yaml"
