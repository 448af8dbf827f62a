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
- MedicationStatement, ImagingStudy and the age Observation have no US Core profile and stay
  plain R4, claiming nothing.

Ids, identifiers and fullUrls are those of the default mode, so both modes describe the same
resources on a server.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

from fhir_adapter.bundle import make_bundle
from fhir_adapter.profiled import adjust
from fhir_adapter.profiled.rules import Matcher, package

if TYPE_CHECKING:  # pragma: no cover
    from fhir_adapter.case import Case
    from fhir_adapter.profiled import ProfileMode


def profile_resources(resources: list[dict[str, Any]], mode: ProfileMode) -> list[dict[str, Any]]:
    """Copies of ``resources`` adjusted to the US Core profiles they claim."""
    matcher = Matcher(resources)
    valuesets = package(mode.name, mode.version)["valuesets"]
    out = []
    for base in resources:
        r = copy.deepcopy(base)
        adjust.finding_value(r)
        adjust.partial_dates(r)
        claim = matcher.claim(mode.name, mode.version, base)
        if claim is not None and "add_category" in claim.rule:
            r["category"] = [*r.get("category", []), _category(valuesets, claim.rule)]
        out.append(adjust.apply_claim(r, claim))
    return out


def _category(valuesets: dict[str, Any], rule: dict[str, Any]) -> dict[str, Any]:
    code = rule["add_category"]
    for concepts in valuesets.values():
        for c in concepts:
            if c["code"] == code:
                coding = {"system": c["system"], "code": code, "display": c["display"]}
                return {"coding": [coding], "text": c["display"]}
    raise ValueError(f"rules.yaml: add_category {code!r} is in no value set of the index")


def build(
    case: Case, resources: list[dict[str, Any]], mode: ProfileMode, bundle_type: str
) -> dict[str, Any]:
    """The US Core bundle (transaction or collection) of ``case``."""
    return make_bundle(
        profile_resources(resources, mode),
        bundle_type=bundle_type,
        bundle_key=f"{case.id}#{mode}",
    )
