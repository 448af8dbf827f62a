"""Condition: one per diagnosis, with its certainty, times, causes and evidence.

- ``verification`` is ``verificationStatus``: confirmed, provisional, differential, unconfirmed,
  or refuted (a ruled-out diagnosis). ``clinicalStatus`` is left out when the case gives none
  (differential and refuted diagnoses in format /2), never made up.
- ``diagnosed`` with a date becomes the core extension ``condition-assertedDate`` (with the
  ``relative-date`` extension on its value when relative); a diagnosis time without a date
  (relative to an undated event, inexact, an age) is a note, since an extension value made only
  of extensions is refused by common parsers (fhir.resources). ``onset`` and
  ``abatement`` become ``onsetDateTime`` / ``abatementDateTime`` when exact (with the
  ``relative-date`` extension when relative), ``onsetAge`` / ``onsetRange`` for ages, and
  ``onsetString`` / ``abatementString`` otherwise ("about 2010", "about 6 months before the
  emergency visit").
- ``due_to`` becomes ``condition-dueTo`` (a condition, procedure or medication statement),
  ``associated_with`` ``condition-related``; ``evidence`` plus every finding whose ``focus`` is
  this condition become ``evidence.detail`` (every Observation of a finding split by site).
- ``severity`` is SNOMED CT mild/moderate/severe; body sites keep their side (see context).
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Condition
from fhir_adapter.mappers.context import EXT, MappingContext
from fhir_adapter.mappers.timing import choice, date_text, when
from fhir_adapter.narrative import join


def map_condition(ctx: MappingContext, c: Condition) -> dict[str, Any]:
    """The Condition for one case diagnosis."""
    concept = ctx.concept("conditions", c.concept)
    evidence = list(
        dict.fromkeys([*c.evidence, *(f.key for f in ctx.case.findings if f.focus == c.key)])
    )
    diagnosed = when(ctx, c.diagnosed, c.key) if c.diagnosed else None
    rows = [
        ("Diagnosis", concept.text),
        ("Clinical status", c.clinical_status),
        ("Verification", c.verification),
        ("Severity", c.severity),
        ("Diagnosed", diagnosed.text if diagnosed else None),
        ("Onset", when(ctx, c.onset).text if c.onset else None),
        ("Resolved", when(ctx, c.abatement).text if c.abatement else None),
        ("Body site", join(ctx.site_text(s) for s in c.body_sites)),
        ("Due to", join(ctx.label(k) for k in c.due_to)),
        ("Associated with", join(ctx.label(k) for k in c.associated_with)),
        ("Notes", join(c.notes, " ")),
    ]
    r = ctx.base("Condition", c.key, "Condition", rows)
    extensions: list[dict[str, Any]] = []
    if diagnosed and diagnosed.date:
        asserted: dict[str, Any] = {"url": EXT + "condition-assertedDate"}
        asserted.update(diagnosed.date_element("valueDateTime"))
        extensions.append(asserted)
    extensions += [{"url": EXT + "condition-dueTo", "valueReference": ctx.ref(k)} for k in c.due_to]
    extensions += [
        {"url": EXT + "condition-related", "valueReference": ctx.ref(k)} for k in c.associated_with
    ]
    if extensions:
        r["extension"] = extensions
    if c.clinical_status:
        r["clinicalStatus"] = ctx.cc("hl7", f"clinical_{c.clinical_status}")
    r["verificationStatus"] = ctx.cc("hl7", f"verification_{c.verification}")
    if c.category:
        r["category"] = [ctx.cc("hl7", "category_" + c.category.replace("-", "_"))]
    if c.severity:
        r["severity"] = ctx.cc("qualifiers", f"severity_{c.severity}")
    r["code"] = concept.to_codeable_concept()
    if c.body_sites:
        r["bodySite"] = [ctx.body_site(s) for s in c.body_sites]
    r["subject"] = ctx.patient_ref()
    if c.encounter:
        r["encounter"] = ctx.ref(c.encounter)
    if c.onset:
        r.update(choice(ctx, c.onset, "onset", c.key))
    if c.abatement:
        r.update(choice(ctx, c.abatement, "abatement", c.key))
    if evidence:
        r["evidence"] = [{"detail": [ref for k in evidence for ref in ctx.refs(k)]}]
    notes = list(c.notes)
    if c.diagnosed and diagnosed and not diagnosed.date:
        text = date_text(c.diagnosed) if c.diagnosed.date else diagnosed.text
        notes.insert(0, f"Diagnosed {text}.")
    if notes:
        r["note"] = [{"text": n} for n in notes]
    return r


def map_conditions(ctx: MappingContext) -> list[dict[str, Any]]:
    """All Conditions of the case."""
    return [map_condition(ctx, c) for c in ctx.case.conditions]
