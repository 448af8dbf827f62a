"""Case -> FHIR R4 resources -> bundle: the public ``convert`` entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fhir_adapter.bundle import make_bundle
from fhir_adapter.case import Case, load_case
from fhir_adapter.mappers.allergy_intolerance import map_allergy_intolerances
from fhir_adapter.mappers.body_structure import map_body_structures
from fhir_adapter.mappers.condition import map_conditions
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.mappers.diagnostic_report import map_diagnostic_reports
from fhir_adapter.mappers.encounter import map_encounters
from fhir_adapter.mappers.imaging_study import map_imaging_studies
from fhir_adapter.mappers.medication_statement import map_medication_statements
from fhir_adapter.mappers.observation import map_observations
from fhir_adapter.mappers.patient import map_patient
from fhir_adapter.mappers.procedure import map_procedures
from fhir_adapter.mappers.specimen import map_specimens
from fhir_adapter.terminology import Terminology, default_terminology

#: Mappers in the order their resources are listed before dependency ordering.
MAPPERS = (
    map_patient,
    map_observations,
    map_imaging_studies,
    map_diagnostic_reports,
    map_conditions,
    map_medication_statements,
    map_body_structures,
    map_encounters,
    map_specimens,
    map_procedures,
    map_allergy_intolerances,
)


def to_resources(case: Case, *, terminology: Terminology | None = None) -> list[dict[str, Any]]:
    """Every FHIR resource of ``case`` as JSON-ready dicts (R4 4.0.1)."""
    ctx = MappingContext(case, terminology or default_terminology())
    return [r for mapper in MAPPERS for r in mapper(ctx)]


def convert(
    case: Case | str | Path | None = None,
    *,
    bundle_type: str | None = None,
    profile: str | None = None,
    terminology: Terminology | None = None,
) -> dict[str, Any]:
    """The FHIR R4 bundle of a case, as a JSON-ready ``dict``.

    ``case`` is a :class:`Case`, a case-file path, or None for the built-in seed case.
    ``bundle_type`` is ``"transaction"`` (the default; entries carry conditional-create requests)
    or ``"collection"``. ``profile`` selects a profile output mode (see
    :mod:`fhir_adapter.profiled`): ``"ips"`` (an IPS 1.1.0 ``document``), ``"us-core"`` (US Core
    6.1.0), ``"us-core@3.1.1"`` or ``"us-core@7.0.0"``; None gives plain R4. The same case (and,
    for ``ips``, the same document time) always gives an identical bundle. To get a
    ``fhir.resources`` model: ``fhir.resources.R4B.bundle.Bundle.model_validate(convert(...))``.
    """
    if not isinstance(case, Case):
        case = load_case(case, terminology=terminology)
    resources = to_resources(case, terminology=terminology)
    if profile is not None:
        from fhir_adapter.profiled import build

        term = terminology or default_terminology()
        return build(case, resources, profile, bundle_type=bundle_type, terminology=term)
    return make_bundle(resources, bundle_type=bundle_type or "transaction", bundle_key=case.id)
