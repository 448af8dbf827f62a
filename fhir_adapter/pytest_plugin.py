"""pytest plugin: assert FHIR validity in your tests, or collect FHIR files as test items.

- ``assert_valid_fhir(obj, warnings_as_errors=False, igs=(), profiles=())``: raises
  AssertionError with a short readable list (resource, path, line, rule, message, fix), reported
  at the caller's line; ``igs`` / ``profiles`` (and ``strict_extensions``,
  ``strict_terminology``) validate against IG profiles too.
- ``fhir_validator`` fixture: a session-wide :class:`~fhir_adapter.validation.Validator`,
  configured by ``--fhir-ig`` / ``--fhir-profile`` / ``--fhir-strict-extensions`` /
  ``--fhir-strict-terminology``, or by overriding the ``fhir_validator_options`` fixture.
- ``pytest --fhir-files DIR``: every ``*.json`` / ``*.ndjson`` file under DIR becomes test
  items (one per NDJSON line) that fail with the validator's report (with the same IG options).
- ``fhir_local_server`` fixture: a throw-away FHIR R4 server on 127.0.0.1 for the session
  (sekmet-fhir, from the ``test`` extra), yielding its base URL, to post to in integration tests.

Loaded in every pytest run of every project that installs fhir-adapter, so it imports the
validator only when used.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


def _report_text(report: Any, warnings_as_errors: bool) -> str:
    from fhir_adapter.validation.report import short_list

    shown = [i for i in report.issues if i.severity in ("fatal", "error") or warnings_as_errors]
    source = f" in {report.source}" if report.source else ""
    head = f"FHIR validation failed{source}: {len(report.errors)} error(s), {len(report.warnings)} warning(s)"
    return head + "\n" + short_list(shown)


def assert_valid_fhir(
    obj: Any,
    *,
    warnings_as_errors: bool = False,
    validator: Any = None,
    igs: Any = (),
    profiles: Any = (),
    **options: bool,
) -> None:
    """Assert that a resource/bundle/JSON text/path is valid FHIR R4 (no errors; optionally no
    warnings), and conforms to the profiles it claims in the given IGs (and to ``profiles``).

    A failure is reported at the caller's line, with a short list of the issues.
    """
    __tracebackhide__ = True  # pytest shows the user's assert_valid_fhir(...) line, not ours
    if validator is None:
        validator = _shared_validator(igs=tuple(igs), profiles=tuple(profiles), **options)
    report = validator.validate(obj)
    if not report.ok or (warnings_as_errors and report.warnings):
        raise AssertionError(_report_text(report, warnings_as_errors))


_VALIDATORS: dict[Any, Any] = {}


def _shared_validator(**options: Any) -> Any:
    """One Validator per configuration for the whole session (compiling one is the slow part)."""
    key = tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in options.items()))
    got = _VALIDATORS.get(key)
    if got is None:
        from fhir_adapter.validation import Validator

        got = _VALIDATORS[key] = Validator(**options)
    return got


def _options(config: pytest.Config) -> dict[str, Any]:
    return {
        "igs": tuple(config.getoption("--fhir-ig") or ()),
        "profiles": tuple(config.getoption("--fhir-profile") or ()),
        "strict_extensions": bool(config.getoption("--fhir-strict-extensions")),
        "strict_terminology": bool(config.getoption("--fhir-strict-terminology")),
    }


@pytest.fixture(scope="session")
def fhir_validator_options(pytestconfig: pytest.Config) -> dict[str, Any]:
    """Keyword arguments for the session's Validator (from the --fhir-* options); override this
    fixture in a conftest.py to configure ``fhir_validator`` in code."""
    return _options(pytestconfig)


@pytest.fixture(scope="session")
def fhir_validator(fhir_validator_options: dict[str, Any]) -> Any:
    """A Validator compiled once for the test session."""
    return _shared_validator(**fhir_validator_options)


@pytest.fixture(scope="session")
def fhir_local_server() -> Iterator[str]:
    """Base URL of a FHIR R4 server started on 127.0.0.1 for the session and stopped after it.

    Skips the tests that use it when sekmet-fhir is not installed; fails if it will not start.
    """
    from contextlib import ExitStack

    from fhir_adapter.testing import ServerNotInstalled, local_fhir_server

    with ExitStack() as stack:
        try:
            base = stack.enter_context(local_fhir_server())
        except ServerNotInstalled as err:
            pytest.skip(str(err))
        except RuntimeError as err:
            pytest.fail(str(err))
        yield base


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fhir", "FHIR validation (fhir-adapter)")
    group.addoption(
        "--fhir-files",
        action="append",
        default=[],
        metavar="DIR",
        help="collect *.json and *.ndjson FHIR files under DIR as validation test items",
    )
    group.addoption(
        "--fhir-ig",
        action="append",
        default=[],
        metavar="NAME#VERSION|PATH",
        help="load an IG package for FHIR validation (us-core, ips, name#version, .tgz; repeatable)",
    )
    group.addoption(
        "--fhir-profile",
        action="append",
        default=[],
        metavar="URL",
        help="validate every resource of the profile's type against it (repeatable)",
    )
    group.addoption(
        "--fhir-strict-extensions",
        action="store_true",
        help="extensions whose definition is not loaded are errors",
    )
    group.addoption(
        "--fhir-strict-terminology",
        action="store_true",
        help="codes that cannot be checked against their value set offline are errors",
    )


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    roots = [Path(d).resolve() for d in parent.config.getoption("--fhir-files") or []]
    if not roots or file_path.suffix not in (".json", ".ndjson"):
        return None
    resolved = file_path.resolve()
    if any(resolved.is_relative_to(r) for r in roots):
        return FhirFile.from_parent(parent, path=file_path)
    return None


def pytest_configure(config: pytest.Config) -> None:
    # make --fhir-files directories collectable even when they are outside testpaths
    dirs = config.getoption("--fhir-files") or []
    if dirs and not config.args:
        config.args[:] = list(dirs)


class FhirFile(pytest.File):
    """A FHIR JSON or NDJSON file; NDJSON yields one item per non-empty line."""

    def collect(self) -> Iterator[pytest.Item]:
        if self.path.suffix == ".ndjson":
            with self.path.open(encoding="utf-8") as fh:
                for n, line in enumerate(fh, 1):
                    if line.strip():
                        yield FhirItem.from_parent(self, name=f"line{n}", text=line, line=n)
        else:
            yield FhirItem.from_parent(self, name=self.path.name, text=None)


class FhirItem(pytest.Item):
    """One FHIR resource to validate."""

    def __init__(self, *, text: str | None, line: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.text = text
        self.line = line

    def runtest(self) -> None:
        validator = _shared_validator(**_options(self.config))
        source = self.text if self.text is not None else self.path.read_text(encoding="utf-8")
        report = validator.validate_text(source, source=str(self.path))
        if self.line is not None:  # an NDJSON line: positions on the file's line
            from dataclasses import replace

            report.issues = [replace(i, line=self.line) for i in report.issues]
        if not report.ok:
            raise FhirInvalid(_report_text(report, False))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, FhirInvalid):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, (self.line or 1) - 1, f"fhir: {self.name}"


class FhirInvalid(Exception):
    """Raised by a FHIR file item that does not validate."""
