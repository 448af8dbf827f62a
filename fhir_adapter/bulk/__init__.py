"""Bulk work on one machine: many cases to a Bulk Data NDJSON export, parallel validation.

- :func:`export_ndjson` converts many case files, over worker processes, into one NDJSON file
  per resource type plus a Bulk Data manifest and an error file.
- :func:`validate_inputs` validates many files and large NDJSON files over worker processes,
  with reports in input order.

Names are imported on first use, so ``fhir-adapter --help`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fhir_adapter.lazy import lazy_attributes

_LAZY = {
    "export_ndjson": "fhir_adapter.bulk.export",
    "ExportResult": "fhir_adapter.bulk.export",
    "validate_inputs": "fhir_adapter.bulk.validate",
}

if TYPE_CHECKING:  # pragma: no cover
    from fhir_adapter.bulk.export import ExportResult, export_ndjson
    from fhir_adapter.bulk.validate import validate_inputs

__all__ = ["ExportResult", "export_ndjson", "validate_inputs"]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
