"""Clinical cases read from case files (YAML or JSON, ``fhir-adapter-case/1`` and ``/2``).

:func:`load_case` reads a file, checks it against the JSON Schema of the format it declares
(``schemas/case-<N>.schema.json``), checks that every key it refers to exists (case keys and
``mappings/`` concepts, UCUM units), that dates are real and times consistent, and returns an
immutable :class:`Case`. Any problem raises :class:`~fhir_adapter.errors.CaseError` naming the
file, the line, the field path and the fix, for every problem of the file at once.

Modules: ``model`` (the dataclasses and their field declarations), ``source`` (text -> data
with lines), ``schema`` (format versions and schema errors), ``build`` (data -> model),
``checks`` (meaning), ``loader`` (the whole pipeline).
"""

from __future__ import annotations

from fhir_adapter.case.loader import load_case, parse_case
from fhir_adapter.case.model import (
    ANCHORS,
    SECTIONS,
    Age,
    Allergy,
    BodySite,
    Case,
    Condition,
    DateSpec,
    Duration,
    Encounter,
    EncounterDiagnosis,
    Finding,
    Frequency,
    Imaging,
    Lab,
    Medication,
    Offset,
    Pathology,
    Patient,
    Phase,
    Procedure,
    Quantity,
    Reaction,
    ReferenceRange,
    Result,
    SocialHistory,
    Specimen,
    Time,
)
from fhir_adapter.case.schema import CURRENT_FORMAT, FORMATS, case_schema

#: The current format (kept for code written against format /1's constant).
CASE_FORMAT = CURRENT_FORMAT

__all__ = [
    "ANCHORS",
    "CASE_FORMAT",
    "CURRENT_FORMAT",
    "FORMATS",
    "SECTIONS",
    "Age",
    "Allergy",
    "BodySite",
    "Case",
    "Condition",
    "DateSpec",
    "Duration",
    "Encounter",
    "EncounterDiagnosis",
    "Finding",
    "Frequency",
    "Imaging",
    "Lab",
    "Medication",
    "Offset",
    "Pathology",
    "Patient",
    "Phase",
    "Procedure",
    "Quantity",
    "Reaction",
    "ReferenceRange",
    "Result",
    "SocialHistory",
    "Specimen",
    "Time",
    "case_schema",
    "load_case",
    "parse_case",
]
