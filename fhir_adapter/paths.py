"""Where the project's data lives: terminology tables, built-in cases, generated rule tables."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
#: The installed ``fhir_adapter`` package folder.
PACKAGE_DIR = _PACKAGE


def _data_dir(name: str) -> Path:
    """A top-level data folder: the source checkout's, else the copy packed into the wheel."""
    checkout = _PACKAGE.parent / name
    if checkout.is_dir():
        return checkout
    return _PACKAGE / "_data" / name


#: The shipped terminology tables (add-on directories extend them: ``fhir_adapter.terminology``).
MAPPINGS_DIR = _data_dir("mappings")
FIXTURES_DIR = _data_dir("fixtures")
SEED_CASE = FIXTURES_DIR / "sle-calcinosis-cutis-universalis.case.yaml"
