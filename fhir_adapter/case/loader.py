"""Read a case file: parse, check against its format's schema, build the model, check meaning."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fhir_adapter.case.build import build_case
from fhir_adapter.case.checks import check_case
from fhir_adapter.case.model import Case
from fhir_adapter.case.salvage import Salvage
from fhir_adapter.case.schema import format_version, schema_problems
from fhir_adapter.case.source import parse_with_lines
from fhir_adapter.errors import CaseError, InputError
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
    except UnicodeDecodeError as err:
        raise CaseError(
            f"cannot read file: not UTF-8 text ({err.reason} at byte {err.start})",
            file=str(file),
            fix="save the file as UTF-8",
        ) from None
    except OSError as err:
        raise CaseError(
            f"cannot read file: {err.strerror or err}",
            file=str(file),
            fix="check that the file is readable by this user",
        ) from None
    return parse_case(text, source=str(file), terminology=terminology)


def parse_case(
    text: str, *, source: str = "<case>", terminology: Terminology | None = None
) -> Case:
    """Check case-file text and build the :class:`Case` (see :func:`load_case`).

    Every problem of the file is reported in one CaseError, each once, in file order: duplicate
    keys, schema problems, and the checks of meaning on what the schema accepted
    (:mod:`fhir_adapter.case.salvage`).
    """
    data, lines = parse_with_lines(text, source)
    version = format_version(data, lines, source)
    problems: list[InputError] = list(lines.problems)
    rejected = schema_problems(data, version, lines, source)
    problems += [p for _, p in rejected]
    salvage = Salvage(data, version, {path for path, _ in rejected}, lines) if rejected else None
    try:
        if salvage is None:
            case = build_case(data, version, source)
            check_case(case, lines, source, terminology or default_terminology())
        else:
            case = build_case(salvage.data, version, source)
            term = terminology or default_terminology()
            try:
                check_case(case, salvage.lines, source, term, salvage.known)
            except CaseError as err:
                problems += [salvage.restore(p) for p in err.problems]
    except CaseError as err:
        problems += err.problems
    except (KeyError, TypeError, ValueError, AttributeError, IndexError):
        if salvage is None:  # the schema accepted the file: a genuine bug, not a bad file
            raise
    if problems:
        raise CaseError.collect(_once_in_file_order(problems))
    return case


def _once_in_file_order(problems: list[InputError]) -> list[InputError]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for p in sorted(problems, key=lambda p: (p.line or 0, p.column or 0)):
        ident = (p.line, p.column, p.field, p.message)
        if ident not in seen:
            seen.add(ident)
            out.append(p)
    return out
