"""Read a case file: parse, check against its format's schema, build the model, check meaning."""

from __future__ import annotations

import os
from pathlib import Path

from fhir_adapter.case.build import build_case
from fhir_adapter.case.checks import check_case
from fhir_adapter.case.model import Case
from fhir_adapter.case.schema import check_schema
from fhir_adapter.case.source import parse_with_lines
from fhir_adapter.errors import CaseError
from fhir_adapter.paths import SEED_CASE
from fhir_adapter.terminology import Terminology, default_terminology


def load_case(path: str | Path | None = None, *, terminology: Terminology | None = None) -> Case:
    """Read and check a case file (YAML or JSON); the built-in seed case when ``path`` is None."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"load_case() takes a case file path (str or Path) or None, not {type(path).__name__}"
            " (for case text use parse_case)"
        )
    file = Path(path) if path is not None else SEED_CASE
    if file.is_dir():
        raise CaseError(
            "is a directory",
            file=str(file),
            fix="give one case file, e.g. fixtures/<name>.case.yaml",
        )
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError("file not found", file=str(file), fix="check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CaseError(f"cannot read file: {err}", file=str(file)) from None
    return parse_case(text, source=str(file), terminology=terminology)


def parse_case(
    text: str, *, source: str = "<case>", terminology: Terminology | None = None
) -> Case:
    """Check case-file text and build the :class:`Case` (see :func:`load_case`)."""
    data, lines = parse_with_lines(text, source)
    version = check_schema(data, lines, source)
    case = build_case(data, version, source)
    check_case(case, lines, source, terminology or default_terminology())
    return case
