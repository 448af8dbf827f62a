"""fhir-adapter: clinical cases as data -> validated FHIR R4 bundles -> FHIR servers.

Public API (imported lazily so that ``import fhir_adapter`` and ``fhir-adapter --help`` stay fast):

- :func:`load_case` reads and checks a case file into a :class:`~fhir_adapter.case.Case`.
- :func:`convert` maps a case to a FHIR R4 bundle (a plain ``dict``).
- :func:`validate` checks a resource, bundle, file path or JSON text offline; returns a Report.
- :func:`post` sends a bundle or case to a FHIR server; returns a PostResult.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING, Any

from fhir_adapter.lazy import lazy_attributes
from fhir_adapter.version import __version__


class _Package(ModuleType):
    """This package's module type: ``fhir_adapter.convert`` stays the function. ``convert`` is
    also a submodule, and importing a submodule sets it as the package's attribute; that
    assignment is turned into the submodule's function, so the function can be imported lazily
    (the submodule pulls in the case model and the mappers, which ``--help`` must not load)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "convert" and isinstance(value, ModuleType):
            value = value.convert
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

_LAZY = {
    "convert": "fhir_adapter.convert",
    "load_case": "fhir_adapter.case",
    "Case": "fhir_adapter.case",
    "validate": "fhir_adapter.validation",
    "Validator": "fhir_adapter.validation",
    "post": "fhir_adapter.api",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from fhir_adapter.api import post
    from fhir_adapter.case import Case, load_case
    from fhir_adapter.convert import convert
    from fhir_adapter.validation import Validator, validate

__all__ = ["Case", "Validator", "__version__", "convert", "load_case", "post", "validate"]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
