"""Start-up: ``import fhir_adapter`` and ``fhir-adapter --help`` load no case model, mapper,
converter or validation engine, and ``fhir_adapter.convert`` is the function however it is
reached."""

from __future__ import annotations

import subprocess
import sys

import pytest

#: What start-up must not load: the case model, mappers, converter and tables, the validation
#: engine, and tempfile (shutil, random and the compression modules).
HEAVY = (
    "fhir_adapter.case",
    "fhir_adapter.mappers",
    "fhir_adapter.convert",
    "fhir_adapter.terminology",
    "fhir_adapter.profiled",
    "fhir_adapter.validation.engine",
    "fhir_adapter.validation.validator",
    "tempfile",
)
#: Prints ``LOADED [...]``: the HEAVY modules (or their submodules) in ``sys.modules``.
REPORT = (
    f"print('LOADED', sorted(m for m in sys.modules for h in {HEAVY!r} "
    "if m == h or m.startswith(h + '.')))"
)


def _run(code: str) -> str:
    """``code`` in a fresh interpreter (a clean ``sys.modules``); its stdout."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout


def test_import_fhir_adapter_loads_no_case_model_or_mappers() -> None:
    out = _run(f"import sys, fhir_adapter\n{REPORT}")
    assert "LOADED []" in out


def test_help_loads_no_case_model_or_mappers() -> None:
    out = _run(
        "import sys\nfrom fhir_adapter.cli import main\n"
        f"try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n{REPORT}"
    )
    assert "LOADED []" in out


def test_help_loads_only_the_command_modules() -> None:
    """``--help`` loads the CLI, each sub-command's module (stdlib-only at top level) and the
    packages they sit in: nothing else of fhir_adapter."""
    from fhir_adapter.cli import COMMANDS

    out = _run(
        "import sys\nfrom fhir_adapter.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', *sorted(m for m in sys.modules if m.split('.')[0] == 'fhir_adapter'))"
    )
    loaded = out.rpartition("LOADED ")[2].split()
    expected = {"fhir_adapter", "fhir_adapter.cli", "fhir_adapter.errors", "fhir_adapter.version"}
    expected |= {"fhir_adapter.lazy"}  # the packages' lazy attributes
    for module in COMMANDS.values():
        parts = module.split(".")
        expected |= {".".join(parts[:n]) for n in range(1, len(parts) + 1)}
    assert set(loaded) == expected


def test_the_validation_package_loads_its_engine_on_first_use() -> None:
    out = _run(
        "import sys, fhir_adapter.validation as v\n"
        "print('fhir_adapter.validation.engine' in sys.modules)\n"
        "print(v.validate({'resourceType': 'Basic'}).ok, 'fhir_adapter.validation.engine' in sys.modules)\n"
        "print(v.Validator is __import__('fhir_adapter').Validator, v.LAYERS[0])"
    )
    assert out.split() == ["False", "False", "True", "True", "json"]


@pytest.mark.parametrize(
    "first",
    [
        "import fhir_adapter",
        "from fhir_adapter import convert",
        "import fhir_adapter.convert",
        "from fhir_adapter.convert import to_resources",
        "import fhir_adapter.api; fhir_adapter.api.load_input(None)",
        "from fhir_adapter import load_case; load_case()",
    ],
)
def test_fhir_adapter_convert_is_the_function_whatever_is_imported_first(first: str) -> None:
    out = _run(
        f"{first}\nimport fhir_adapter\nfrom fhir_adapter import convert\n"
        "import fhir_adapter.convert as also\n"
        "print(callable(fhir_adapter.convert), convert is fhir_adapter.convert is also, "
        "fhir_adapter.convert()['resourceType'])"
    )
    assert out.split() == ["True", "True", "Bundle"]
