"""Observation: laboratory results, clinical/imaging/pathology findings, and the reported age.

- Qualitative lab results ("normal") become ``valueCodeableConcept`` plus an interpretation; no
  number is invented. Quantitative results become UCUM ``valueQuantity``.
- A finding is an Observation whose code is the finding itself (no value); its description is a
  note. ``bodySite`` (0..1 in R4) is set only when the finding names exactly one site; several
  sites stay in the note and narrative.
- The age at presentation becomes an Observation (LOINC age) instead of a made-up birth date.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Finding, Lab
from fhir_adapter.mappers.context import PATIENT_KEY, MappingContext
from fhir_adapter.narrative import join

AGE_KEY = "age"


def map_finding(ctx: MappingContext, f: Finding) -> dict[str, Any]:
    """The Observation for one finding."""
    concept = ctx.concept("findings", f.concept)
    sites = [ctx.concept("body_sites", s.site) for s in f.body_sites]
    rows = [
        ("Finding", concept.text),
        ("Category", f.category),
        ("Body site", join(s.text for s in sites)),
        ("Description", f.description),
    ]
    r = ctx.base("Observation", f.key, "Observation", rows)
    r["status"] = "final"
    r["category"] = [ctx.cc("hl7", f"obs_category_{f.category}")]
    r["code"] = concept.to_codeable_concept()
    r["subject"] = ctx.patient_ref()
    if len(sites) == 1:
        r["bodySite"] = sites[0].to_codeable_concept()
    r["note"] = [{"text": f.description}]
    return r


def map_lab(ctx: MappingContext, lab: Lab) -> dict[str, Any]:
    """The Observation for one laboratory result."""
    concept = ctx.concept("labs", lab.concept)
    quantity = lab.result.quantity
    if quantity:
        result = ctx.quantity_text(quantity.value, quantity.unit)
    else:
        result = ctx.concept("qualifiers", lab.result.qualitative or "").text
    interp = ctx.concept("qualifiers", lab.interpretation) if lab.interpretation else None
    rows = [
        ("Test", concept.text),
        ("Result", result),
        ("Interpretation", interp.text if interp else None),
        ("Date", lab.date.date if lab.date else None),
        ("Note", lab.description),
    ]
    r = ctx.base("Observation", lab.key, "Observation", rows)
    r["status"] = "final"
    r["category"] = [ctx.cc("hl7", "obs_category_laboratory")]
    r["code"] = concept.to_codeable_concept()
    r["subject"] = ctx.patient_ref()
    if lab.date and not lab.date.approximate:
        r["effectiveDateTime"] = lab.date.date
    if quantity:
        r["valueQuantity"] = ctx.quantity(quantity.value, quantity.unit)
    else:
        r["valueCodeableConcept"] = ctx.cc("qualifiers", lab.result.qualitative or "")
    if interp:
        r["interpretation"] = [interp.to_codeable_concept()]
    if lab.description:
        r["note"] = [{"text": lab.description}]
    return r


def map_age(ctx: MappingContext) -> list[dict[str, Any]]:
    """The age Observation, when the case reports an age."""
    age = ctx.case.patient.age
    if age is None:
        return []
    concept = ctx.concept("labs", AGE_KEY)
    rows = [("Age", ctx.age_text(age)), ("When", age.context)]
    r = ctx.base("Observation", f"{PATIENT_KEY}-{AGE_KEY}", "Observation", rows)
    r["status"] = "final"
    r["code"] = concept.to_codeable_concept()
    r["subject"] = ctx.patient_ref()
    r.update(ctx.age_value(age, "value"))
    if age.context:
        r["note"] = [{"text": f"Age {age.context}."}]
    return [r]


def map_observations(ctx: MappingContext) -> list[dict[str, Any]]:
    """Every Observation of the case: age, findings, then labs."""
    return [
        *map_age(ctx),
        *(map_finding(ctx, f) for f in ctx.case.findings),
        *(map_lab(ctx, lab) for lab in ctx.case.labs),
    ]
