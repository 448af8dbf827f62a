"""HTML reports: one self-contained file (no network, no CDN) to look at a bundle or at a
validation run.

- :func:`render_html` / :func:`write_html`: a bundle (or one resource) with its validation
  result: patient summary, a card per resource, the reference graph, issues on the cards and
  elements they concern, counts by type and by rule.
- :func:`validation_html`: the results of ``validate`` over many files: a summary per file, the
  issues grouped by rule, the JSON lines they point at.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fhir_adapter.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from fhir_adapter.validation.formats import FileResult
    from fhir_adapter.validation.report import Report

__all__ = ["load_bundle", "render_html", "validation_html", "write_html"]


def load_bundle(source: Any) -> tuple[Any, str | None]:
    """A bundle or resource as parsed JSON, and its text when it came from a file or text.

    Accepts a dict, a ``fhir.resources`` model, JSON text, or a path to a ``.json`` file.
    Input nested deeper than the validator reads is refused (the page's walks would exhaust
    the stack).
    """
    from fhir_adapter.validation.jsontext import too_deep

    if hasattr(source, "model_dump_json"):
        return json.loads(source.model_dump_json(exclude_none=True)), None
    if isinstance(source, dict):
        if too_deep(source):
            raise _too_deep(None)
        return source, None
    text: str
    where: str | None = None  # the file, for error messages
    if isinstance(source, Path) or (
        isinstance(source, str) and not source.lstrip().startswith(("{", "["))
    ):
        path = Path(source)
        where = str(path)
        if path.suffix == ".ndjson":
            raise InputError(
                "an NDJSON file holds many resources, not one bundle",
                file=str(path),
                fix="use `fhir-adapter validate FILE.ndjson --format html -o results.html`",
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read: {err}", file=str(path), fix="check the path") from None
    else:
        text = source.decode() if isinstance(source, bytes) else str(source)
    try:
        data = json.loads(text)
        deep = too_deep(data)
    except json.JSONDecodeError as err:
        raise InputError(
            f"not valid JSON: {err.msg}", file=where, line=err.lineno, fix="fix the JSON syntax"
        ) from None
    except RecursionError:  # Python's JSON parser gives up near 1,000 levels
        deep = True
    if deep:
        raise _too_deep(where)
    if not isinstance(data, dict) or not isinstance(data.get("resourceType"), str):
        raise InputError(
            "not a FHIR resource (no resourceType)",
            file=where,
            fix="give a Bundle or a resource in FHIR JSON",
        )
    return data, text


def _too_deep(where: str | None) -> InputError:
    from fhir_adapter.validation.jsontext import MAX_DEPTH

    return InputError(
        f"nests more than {MAX_DEPTH} levels deep; a report cannot show it",
        file=where,
        fix="check how it was made (FHIR resources need a few dozen levels); "
        "`fhir-adapter validate` reports the same input as one fatal issue",
    )


def render_html(
    bundle: Any,
    *,
    report: Report | None = None,
    validate: bool = True,
    igs: Sequence[str] = (),
    title: str | None = None,
) -> str:
    """The HTML report of a bundle or resource (dict, model, JSON text or ``.json`` path).

    ``report``: a validation Report to show; when absent and ``validate`` is true, the bundle is
    validated here with every layer, against the IG packages in ``igs`` (``"us-core"``,
    ``"ips"``, ``"name#version"``, a ``.tgz`` or folder) and the resources' claimed profiles.
    For other choices pass a Report from your own Validator.
    """
    from fhir_adapter.report.page import bundle_page

    data, text = load_bundle(bundle)
    against = None
    if report is None and validate:
        from fhir_adapter.validation import Validator

        report = Validator(igs=igs).validate(text if text is not None else data)
        against = ", ".join(["R4", *igs])
    return bundle_page(data, report, title=title, against=against)


def write_html(
    bundle: Any,
    path: str | Path,
    *,
    report: Report | None = None,
    validate: bool = True,
    igs: Sequence[str] = (),
    title: str | None = None,
) -> Path:
    """Write :func:`render_html` to ``path`` atomically; returns the path."""
    from fhir_adapter.files import write_atomic

    html = render_html(bundle, report=report, validate=validate, igs=igs, title=title)
    out = Path(path)
    write_atomic(out, html)
    return out


def validation_html(results: Sequence[FileResult], *, base: Path | None = None) -> str:
    """One page for a validation run over many files (``base``: where the page will live,
    for relative links to the files)."""
    from fhir_adapter.report.validation_page import validation_page

    return validation_page(results, base=base)
