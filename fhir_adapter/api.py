"""The public API over the layers: ``post`` takes a case or a bundle, whatever its form.

The client (``fhir_adapter.client``) sends Bundles only; reading case files and converting them
is done here, so the client never imports the case model or the converter.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fhir_adapter.errors import InputError


def accepts() -> str:
    """What ``post`` accepts, for error messages (every case format the loader reads)."""
    from fhir_adapter.case import FORMATS

    return (
        f"post takes case files (.yaml, .yml, or .json with format: {' or '.join(FORMATS)}) "
        "and transaction, batch or document Bundle JSON files"
    )


def load_input(source: Any = None, *, profile: str | None = None) -> dict[str, Any]:
    """A Bundle from a dict (as is), a Case, a case file, a Bundle JSON file, or None (the
    seed case); case files are converted in profile mode ``profile`` when given (see
    :func:`fhir_adapter.convert`). Anything else is an InputError saying what the file is and
    what is accepted."""
    from functools import partial

    from fhir_adapter.case import Case
    from fhir_adapter.convert import convert as convert_plain

    convert = partial(convert_plain, profile=profile)
    if isinstance(source, dict):
        if profile is not None:
            raise InputError(
                "a profile mode applies to case files, not to a Bundle", fix="drop the profile"
            )
        return source
    if source is None or isinstance(source, Case):
        return convert(source)
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"post() takes a Bundle dict, a Case, or a file path, not {type(source).__name__}"
        )
    path = Path(source)
    if path.is_dir():
        raise InputError("is a directory", file=str(path), fix=accepts())
    if not path.exists():
        raise InputError("file not found", file=str(path), fix="check the path")
    suffix = path.suffix.lower()
    if suffix == ".ndjson":
        raise InputError(
            "is NDJSON (one resource per line), not a Bundle or a case file",
            file=str(path),
            fix=accepts(),
        )
    if suffix in (".yaml", ".yml"):
        return convert(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(
            f"cannot read: {type(err).__name__}",
            file=str(path),
            fix="save it as UTF-8"
            if isinstance(err, UnicodeDecodeError)
            else "check the path and that the file is readable",
        ) from None
    try:
        data = json.loads(text)
    except ValueError as err:
        if suffix == ".json":
            raise InputError(f"not JSON: {err}", file=str(path), fix=accepts()) from None
        return convert(path)  # YAML under another name: the case loader says what is wrong
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        if profile is not None:
            raise InputError(
                "is a Bundle: a profile mode applies to case files",
                file=str(path),
                fix="drop --profile (the Bundle is sent as written)",
            )
        return data
    if isinstance(data, dict) and isinstance(data.get("resourceType"), str):
        raise InputError(
            f"is a FHIR {data['resourceType']} resource, not a Bundle or a case file",
            file=str(path),
            fix="put it in a Bundle of type transaction (entry.request POST or PUT); " + accepts(),
        )
    if isinstance(data, dict) and str(data.get("format", "")).startswith("fhir-adapter-case"):
        return convert(path)
    raise InputError(
        "is JSON but neither a FHIR Bundle (no resourceType) nor a case file (no format)",
        file=str(path),
        fix=accepts(),
    )


def validation_report(bundle: dict[str, Any], profile: str | None = None) -> Any:
    """The offline validation of a converted bundle (before it is written or posted): base R4,
    and the IG of the profile mode ``profile`` it was converted in (its resources claim those
    profiles)."""
    from fhir_adapter.validation import validate

    igs = []
    if profile is not None:
        from fhir_adapter.profiled import parse_mode

        igs.append(parse_mode(profile).ig)
    return validate(bundle, igs=igs)


def post(
    bundle_or_case: Any = None,
    server: str | None = None,
    mode: str = "transaction",
    *,
    client: Any = None,
    auth: Any = None,
    strategy: str = "auto",
    validate: bool = True,
    verify_readback: bool = False,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
    profile: str | None = None,
) -> Any:
    """Send a case (converted first) or a bundle to a FHIR server; returns a PostResult.

    ``bundle_or_case`` is a Bundle dict, a :class:`~fhir_adapter.case.Case`, a path to a case
    file or a Bundle JSON file, or None for the built-in seed case; ``profile`` converts a case
    in that profile mode (``"ips"`` gives a document, stored as one Bundle resource) and
    validates it against the mode's IG too. Everything else is as
    :func:`fhir_adapter.client.api.post` (validation first, modes, strategies, read-back).
    """
    from fhir_adapter.client.api import check_options
    from fhir_adapter.client.api import post as post_bundle
    from fhir_adapter.client.errors import InvalidBundle

    check_options(mode, strategy, workers)
    bundle = load_input(bundle_or_case, profile=profile)
    if validate and profile is not None:
        report = validation_report(bundle, profile)
        if not report.ok:
            raise InvalidBundle(report)
        validate = False  # done, against the mode's IG too
    return post_bundle(
        bundle,
        server,
        mode,
        client=client,
        auth=auth,
        strategy=strategy,
        validate=validate,
        verify_readback=verify_readback,
        workers=workers,
        progress=progress,
    )
