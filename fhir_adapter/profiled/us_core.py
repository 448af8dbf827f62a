"""US Core output: the case's resources claiming the US Core profiles that apply.

Per resource (rules in ``rules.yaml``, profile URLs from the official packages):

- Patient: ``us-core-patient``; its business identifier satisfies ``identifier``; the name,
  which a case never gives, is marked data-absent; ``gender`` is the case's administrative sex.
  Race, ethnicity and birth sex are left out: cases do not state them and they are never guessed.
- Condition: ``us-core-condition-problems-health-concerns`` or ``-encounter-diagnosis`` by the
  case's category (3.1.1: ``us-core-condition``).
- Observation: laboratory ones ``us-core-observation-lab``; exam/imaging findings
  ``us-core-observation-clinical-result`` (6.1.0+; plain R4 in 3.1.1).
- DiagnosticReport: laboratory reports ``us-core-diagnosticreport-lab``; radiology and pathology
  reports ``us-core-diagnosticreport-note`` with the US Core category code added.
- AllergyIntolerance, Procedure, Encounter and Specimen claim their US Core profiles (Specimen
  from 6.1.0); an Encounter's type, which cases rarely give, is the data-absent-reason code
  ``unknown`` as US Core's Missing Data rules say; social-history Observations claim
  ``us-core-simple-observation`` (6.1.0+).
- MedicationStatement, ImagingStudy, BodyStructure, the age Observation and Conditions the case
  gives no category have no US Core profile that fits and stay plain R4, claiming nothing.

Ids, identifiers and fullUrls are those of the default mode, so both modes describe the same
resources on a server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_adapter.bundle import make_bundle
from fhir_adapter.profiled import adjust

if TYPE_CHECKING:  # pragma: no cover
    from fhir_adapter.case import Case
    from fhir_adapter.profiled.modes import ProfileMode
    from fhir_adapter.terminology import Terminology


def build(
    case: Case,
    resources: list[dict[str, Any]],
    mode: ProfileMode,
    bundle_type: str,
    term: Terminology,
) -> dict[str, Any]:
    """The US Core bundle (transaction or collection) of ``case``."""
    unknown = term.concept("hl7", "data_absent_unknown").to_codeable_concept()
    return make_bundle(
        adjust.reshape(resources, mode, unknown),
        bundle_type=bundle_type,
        bundle_key=f"{case.id}#{mode}",
    )
