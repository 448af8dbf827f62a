"""Strict offline FHIR R4 (4.0.1) validation.

``validate(obj)`` accepts a resource or bundle as a ``dict``, a ``fhir.resources`` model, JSON
text/bytes, or a path to a ``.json`` / ``.ndjson`` file, and returns a
:class:`~fhir_adapter.validation.report.Report` with every issue found in one pass. A
:class:`Validator` compiles its configuration once and validates many inputs cheaply.

Layers (all on by default): ``json``, ``structure``, ``extensions``, ``primitives``,
``bindings``, ``codes``, ``invariants``, ``references``, ``bundle``, ``profiles`` (``LAYERS``).
Rules come from tables generated from the official R4 definitions (see
``fhir_adapter/validation/generate.py``).

Profiles: ``igs=["us-core", "hl7.fhir.uv.ips#1.1.0", "path/to/package.tgz"]`` loads IG packages
(and their dependencies); every loaded profile a resource claims in ``meta.profile`` is checked,
and ``profiles=[url, ...]`` applies profiles to every resource of their type. R4 core profiles
(vitalsigns, bp, ...) are always available. See ``fhir_adapter/validation/profiles/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fhir_adapter.lazy import lazy_attributes

#: Public name -> the module defining it; imported on first use, so that importing a submodule
#: (``fhir-adapter --help`` imports ``validation.cli``) does not load the engine and its tables.
_LAZY = {
    "LAYERS": "fhir_adapter.validation.engine",
    "Issue": "fhir_adapter.validation.report",
    "Report": "fhir_adapter.validation.report",
    "Validator": "fhir_adapter.validation.validator",
    "resource_label": "fhir_adapter.validation.validator",
    "validate": "fhir_adapter.validation.validator",
}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from fhir_adapter.validation.engine import LAYERS
    from fhir_adapter.validation.report import Issue, Report
    from fhir_adapter.validation.validator import Validator, resource_label, validate

__all__ = ["LAYERS", "Issue", "Report", "Validator", "resource_label", "validate"]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
