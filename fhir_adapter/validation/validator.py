"""The validator: :class:`Validator` (compiled once, reused) and :func:`validate` (see
:mod:`fhir_adapter.validation`)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from fhir_adapter.errors import InputError
from fhir_adapter.validation.engine import LAYERS, TooDeep, Walker
from fhir_adapter.validation.jsontext import (
    MAX_DEPTH,
    DuplicateKeyError,
    Positions,
    line_map,
    loads_strict,
    too_deep,
)
from fhir_adapter.validation.lines import read_lines
from fhir_adapter.validation.report import Issue, LineNumbers, Report

__all__ = ["Validator", "resource_label", "validate"]


def _layers(only: Iterable[str] | None, skip: Iterable[str] | None) -> frozenset[str]:
    chosen = set(LAYERS if only is None else only)
    chosen -= set(skip or ())
    unknown = chosen - set(LAYERS)
    if unknown:
        raise InputError(
            f"unknown validation layer(s): {', '.join(sorted(unknown))}",
            field="--only/--skip",
            fix=f"use some of: {', '.join(LAYERS)}",
        )
    return frozenset(chosen)


class Validator:
    """A validator compiled once for a set of layers and IGs; reuse it for many inputs.

    ``igs``: packages to load (``"us-core"``, ``"ips"``, ``"name#version"``, or a path to a
    ``.tgz`` / package folder); ``profiles``: canonical URLs applied to every resource of their
    type; ``strict_extensions``: an extension whose definition is not loaded is an error (default
    a warning); ``strict_terminology``: a code whose membership cannot be decided offline is an
    error (default a warning); ``must_support``: report empty must-support elements (information);
    ``allow_missing_dependencies``: load an IG whose dependencies are nowhere to be found, leaving
    what they define unchecked (default: an error naming them and every place looked).
    Raises :class:`~fhir_adapter.errors.InputError` for a package or profile that cannot be found.
    """

    def __init__(
        self,
        *,
        only: Iterable[str] | None = None,
        skip: Iterable[str] | None = None,
        igs: Iterable[str] = (),
        profiles: Iterable[str] = (),
        strict_extensions: bool = False,
        strict_terminology: bool = False,
        must_support: bool = False,
        allow_missing_dependencies: bool = False,
    ) -> None:
        self._init_args = {  # to pickle as options (see __reduce__)
            "only": only,
            "skip": skip,
            "igs": list(igs),
            "profiles": list(profiles),
            "strict_extensions": strict_extensions,
            "strict_terminology": strict_terminology,
            "must_support": must_support,
        }
        self.layers = _layers(only, skip)
        self._allow_missing = allow_missing_dependencies
        self._options: dict[str, Any] = {
            "profiles": [str(p) for p in profiles],
            "strict_extensions": strict_extensions,
            "strict_terminology": strict_terminology,
            "must_support": must_support,
        }
        self.igs = [str(i) for i in igs]
        self._profiles: Any = None
        if self.igs or any(self._options.values()):
            self._profiles = self._profile_layer()
        self._walker = Walker(self.layers, self._profiles)

    def _profile_layer(self) -> Any:
        from fhir_adapter.validation.profiles.load import Loader
        from fhir_adapter.validation.profiles.walk import ProfileLayer

        return ProfileLayer(
            Loader(allow_missing=self._allow_missing).load(self.igs), **self._options
        )

    @property
    def profile_set(self) -> Any:
        """The loaded packages and their profiles (R4 core's included), loading them if needed."""
        if self._profiles is None:
            self._profiles = self._profile_layer()
        return self._profiles.pset

    def validate(self, obj: Any, *, source: str | None = None) -> Report:
        """Validate a dict, model, JSON text/bytes, or path; every issue in one Report."""
        if isinstance(obj, Path):
            return self.validate_file(obj)
        if isinstance(obj, str) and not obj.lstrip().startswith(("{", "[")):
            return self.validate_file(Path(obj))
        if isinstance(obj, (str, bytes)):
            return self.validate_text(
                obj.decode() if isinstance(obj, bytes) else obj, source=source
            )
        if hasattr(obj, "model_dump"):
            obj = json.loads(obj.model_dump_json(exclude_none=True))
        return self.validate_resource(obj, source=source)

    def validate_resource(
        self, resource: Any, *, source: str | None = None, path: str | None = None
    ) -> Report:
        """Validate an already-parsed JSON resource."""
        issues: list[Issue] = []
        root = (
            path
            or (resource.get("resourceType") if isinstance(resource, dict) else None)
            or "Resource"
        )
        root = root if isinstance(root, str) else "Resource"
        # Nesting past MAX_DEPTH is one fatal issue. The walk stops at such a level of the
        # elements it walks (TooDeep); what it does not walk into (unknown elements, values of
        # the wrong JSON type) is measured only when it found errors, so valid input costs nothing.
        try:
            self._walker.resource(resource, root, issues)
            if any(i.severity in ("error", "fatal") for i in issues) and too_deep(resource):
                return Report([_too_deep(root)], source)
            if self._profiles is None and _claims_profiles(resource):
                self._profiles = self._profile_layer()  # R4 core profiles, for meta.profile claims
            if (
                self._profiles is not None
                and isinstance(resource, dict)
                and "profiles" in self.layers
            ):
                self._profiles.check(resource, root, issues)
        except (TooDeep, RecursionError):
            return Report([_too_deep(root)], source)
        if issues:
            issues = _with_resources(issues, resource)
        return Report(issues, source)

    def validate_text(self, text: str, *, source: str | None = None) -> Report:
        """Validate JSON text; issues carry the JSON line where they occur."""
        if text.startswith("\ufeff"):
            text = text[1:]  # a UTF-8 byte order mark: RFC 8259 8.1 lets parsers ignore it
        try:
            data = loads_strict(text)
        except DuplicateKeyError as err:
            return Report(
                [Issue("error", "json", "(input)", str(err), "keep one of the two", family="json")],
                source,
            )
        except RecursionError:
            return Report([_too_deep("(input)")], source)
        except json.JSONDecodeError as err:
            return Report(
                [
                    Issue(
                        "fatal",
                        "json",
                        "(input)",
                        f"not valid JSON: {err.msg}",
                        line=err.lineno,
                        family="json",
                    )
                ],
                source,
            )
        report = self.validate_resource(data, source=source)
        if report.issues:
            rt = data.get("resourceType") if isinstance(data, dict) else None
            lines = line_map(text, rt if isinstance(rt, str) and rt else "Resource")
            report.issues = [_with_position(i, lines) for i in report.issues]
        return report

    def validate_file(
        self, path: Path, *, progress: Callable[[int, int], None] | None = None
    ) -> Report:
        """Validate a ``.json`` file, or every line of an ``.ndjson`` file (one combined Report).

        For NDJSON, issues carry the file's line number, and ``report.ndjson_lines`` lists the
        lines validated; ``progress(characters_read, resources_done)`` is called after each line.
        """
        if path.suffix == ".ndjson":
            lines = LineNumbers()
            report = Report(source=str(path), ndjson_lines=lines)
            for line_no, rep, size in self._ndjson(path):
                lines.append(line_no)
                report.issues.extend(dataclasses.replace(i, line=line_no) for i in rep.issues)
                if progress is not None:
                    progress(size, len(lines))
            return report
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(f"cannot read: {err}", file=str(path), fix="check the path") from None
        return self.validate_text(text, source=str(path))

    def iter_ndjson(
        self, path: Path, *, start: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, Report]]:
        """Validate an NDJSON file line by line (bounded memory): (line number, Report) pairs.

        Lines end at ``\\n`` (NDJSON); blank lines are skipped. ``start``/``end`` restrict the
        work to a byte range that begins at a line start (for parallel workers); line numbers
        then count from that start. A line that is not UTF-8 gets a fatal issue of its own.
        """
        for n, rep, _ in self._ndjson(path, start, end):
            yield n, rep

    def _ndjson(
        self, path: Path, start: int = 0, end: int | None = None
    ) -> Iterator[tuple[int, Report, int]]:
        """(line number, Report, bytes read including blank lines) per non-empty line."""
        size = 0
        for n, raw in enumerate(read_lines(path, start, end), 1):
            size += len(raw)
            if not raw.strip():
                continue
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                yield n, _not_utf8(err, f"{path}:{n}"), size
            else:
                yield n, self.validate_text(line, source=f"{path}:{n}"), size
            size = 0

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickles as its options: a worker process compiles its own copy."""
        return (_rebuild, (self._init_args,))


def _rebuild(options: dict[str, Any]) -> Validator:
    return Validator(**options)


def _not_utf8(err: UnicodeDecodeError, source: str) -> Report:
    message = f"not UTF-8: {err.reason} at byte {err.start + 1} of the line"
    return Report([Issue("fatal", "json", "(input)", message, line=1, family="json")], source)


def _too_deep(path: str) -> Issue:
    return Issue(
        "fatal",
        "json",
        path,
        f"nested more than {MAX_DEPTH} levels deep; not validated",
        "check how the file was made: FHIR resources need a few dozen levels at most",
        family="json",
    )


def _claims_profiles(resource: Any) -> bool:
    """Whether a resource, or any entry of a bundle, claims a profile in meta.profile."""
    if not isinstance(resource, dict):
        return False
    meta = resource.get("meta")
    if isinstance(meta, dict) and meta.get("profile"):
        return True
    entries = resource.get("entry") if resource.get("resourceType") == "Bundle" else None
    if isinstance(entries, list):
        for e in entries:
            r = e.get("resource") if isinstance(e, dict) else None
            if isinstance(r, dict):
                m = r.get("meta")
                if isinstance(m, dict) and m.get("profile"):
                    return True
    return False


def _with_position(issue: Issue, positions: Positions) -> Issue:
    """The issue with the line and column of its path (or of its nearest mapped ancestor)."""
    if issue.line is not None:
        return issue
    p = issue.path
    while p and p not in positions:
        cut = max(p.rfind("."), p.rfind("["))
        p = p[:cut] if cut > 0 else ""
    at = positions.get(p)
    if at is None:
        return issue
    return dataclasses.replace(issue, line=at[0], column=at[1])


_ENTRY = re.compile(r"^[A-Za-z]+((?:\.entry\[\d+\]\.resource)*)(?:\.entry\[(\d+)\])?")
_STEP = re.compile(r"\.entry\[(\d+)\]\.resource")


def resource_label(resource: Any, path: str) -> str | None:
    """The resource an issue path concerns: ``Type/id``, else its entry's ``fullUrl``.

    Follows ``entry[i].resource`` steps into (nested) bundles; ``None`` for a resource with
    neither id nor fullUrl.
    """
    m = _ENTRY.match(path)
    if m is None:
        return None
    obj, entry = resource, None
    steps = [int(x) for x in _STEP.findall(m.group(1))]
    if m.group(2) is not None:
        steps.append(int(m.group(2)))
    for k in steps:
        entries = obj.get("entry") if isinstance(obj, dict) else None
        if not isinstance(entries, list) or not 0 <= k < len(entries):
            break
        entry = entries[k] if isinstance(entries[k], dict) else None
        obj = entry.get("resource") if entry is not None else None
    if not isinstance(obj, dict):
        obj = None
    rt = obj.get("resourceType") if obj is not None else None
    rid = obj.get("id") if obj is not None else None
    if isinstance(rt, str) and isinstance(rid, str) and rid:
        return f"{rt}/{rid}"
    full = entry.get("fullUrl") if entry is not None else None
    return full if isinstance(full, str) and full else None


def _with_resources(issues: list[Issue], resource: Any) -> list[Issue]:
    """Name the resource of every issue (one lookup per distinct entry prefix)."""
    cache: dict[str, str | None] = {}
    out = []
    for i in issues:
        m = _ENTRY.match(i.path)
        key = m.group(0) if m else ""
        if key not in cache:
            cache[key] = resource_label(resource, i.path)
        label = cache[key]
        out.append(dataclasses.replace(i, resource=label) if label and not i.resource else i)
    return out


_DEFAULT: Validator | None = None


def validate(
    obj: Any,
    *,
    only: Iterable[str] | None = None,
    skip: Iterable[str] | None = None,
    igs: Iterable[str] = (),
    profiles: Iterable[str] = (),
    **options: bool,
) -> Report:
    """Validate a resource, bundle, JSON text or file path with all (or the chosen) layers,
    against base R4 and the profiles of the given IGs (see :class:`Validator`)."""
    global _DEFAULT
    igs, profiles = tuple(igs), tuple(profiles)
    if only is None and skip is None and not igs and not profiles and not any(options.values()):
        if _DEFAULT is None:
            _DEFAULT = Validator()
        return _DEFAULT.validate(obj)
    key = (tuple(only or ()), tuple(skip or ()), igs, profiles, tuple(sorted(options.items())))
    validator = _CACHED.get(key)
    if validator is None:
        if len(_CACHED) >= 8:
            _CACHED.clear()
        validator = _CACHED[key] = Validator(
            only=only, skip=skip, igs=igs, profiles=profiles, **options
        )
    return validator.validate(obj)


_CACHED: dict[tuple[Any, ...], Validator] = {}
