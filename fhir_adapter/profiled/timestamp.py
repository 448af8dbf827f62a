"""The document's time (``Composition.date``, ``Bundle.timestamp``), reproducibly.

Rule, in order:

1. the case's ``source.date`` (the date of the source the case restates): ``Composition.date``
   is that date as written; ``Bundle.timestamp``, an instant, is the start of it in UTC
   (``2016-05-10`` -> ``2016-05-10T00:00:00Z``; ``2016`` -> ``2016-01-01T00:00:00Z``);
2. else ``SOURCE_DATE_EPOCH`` (https://reproducible-builds.org/specs/source-date-epoch/: whole
   seconds since 1970-01-01 UTC), for both, as ``YYYY-MM-DDThh:mm:ssZ``;
3. else a :class:`~fhir_adapter.errors.ProfileError`: the clock is never read, so the same inputs
   always give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Mapping
from typing import Any

from fhir_adapter.errors import ProfileError

ENV = "SOURCE_DATE_EPOCH"
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$")


def _case_date(case: Any) -> str | None:
    source = getattr(case, "source", None)
    value = source.get("date") if isinstance(source, Mapping) else getattr(source, "date", None)
    if value is None:
        return None
    return str(getattr(value, "date", value))


def _real_date(year: str, month: str | None, day: str | None) -> bool:
    try:
        dt.date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return False
    return True


def _real_instant(text: str) -> bool:
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _format_has_source_date(version: int | None = None) -> bool:
    """Whether case format ``version`` (default: the newest) has ``source.date`` (/2 has)."""
    from fhir_adapter.case.schema import case_schema

    schema = case_schema() if version is None else case_schema(version)
    source = schema.get("properties", {}).get("source", {})
    return "date" in source.get("properties", {})


def document_time(case: Any, environ: Mapping[str, str] | None = None) -> tuple[str, str]:
    """``(Composition.date, Bundle.timestamp)`` for ``case`` by the rule above."""
    env = os.environ if environ is None else environ
    where = getattr(case, "path", None)
    given = _case_date(case)
    if given is not None:
        if _INSTANT.match(given) and _real_instant(given):
            return given, given
        m = _DATE.match(given)
        if not m or not _real_date(*m.groups()):
            raise ProfileError(
                f"source.date {given!r} is not a date",
                file=where,
                field="source.date",
                fix="write YYYY, YYYY-MM, YYYY-MM-DD or a full time with its zone",
            )
        year, month, day = m.group(1), m.group(2) or "01", m.group(3) or "01"
        return given, f"{year}-{month}-{day}T00:00:00Z"
    raw = env.get(ENV)
    if raw is None or raw == "":
        example = f"{ENV}=$(date -d 2024-05-14 +%s)"
        how = f"set {ENV} (seconds since 1970 UTC, e.g. {example})"
        version = getattr(case, "version", None)
        if isinstance(version, int) and _format_has_source_date(version):
            how = f"add source.date to the case, or {how}"
        elif _format_has_source_date():
            how = f"add source.date to the case (format fhir-adapter-case/2), or {how}"
        raise ProfileError(
            "an IPS document needs its time (Bundle.timestamp), and the case gives no source.date",
            file=where,
            field="source.date",
            fix=f"{how}; fhir-adapter never uses the current time",
        )
    if not raw.isascii() or not raw.isdigit():
        raise ProfileError(
            f"{ENV}={raw!r} is not a whole number of seconds",
            field=ENV,
            fix="set it to an integer number of seconds since 1970-01-01 UTC",
        )
    try:
        when = dt.datetime.fromtimestamp(int(raw), tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        raise ProfileError(
            f"{ENV}={raw} is out of range", field=ENV, fix="use a date between 1970 and 9999"
        ) from None
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    return stamp, stamp
