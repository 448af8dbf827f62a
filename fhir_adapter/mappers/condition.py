"""Condition: one per diagnosis, with onset, relations to other conditions and evidence.

- ``diagnosed`` (exact) becomes the core extension ``condition-assertedDate``; approximate
  diagnosis dates and approximate onsets are kept as text (``onsetString`` / note) rather than a
  falsely precise dateTime.
- ``due_to`` / ``associated_with`` become the core extensions ``condition-dueTo`` /
  ``condition-related``; ``evidence`` plus every finding whose ``focus`` is this condition become
  ``evidence.detail`` references.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Condition, Time
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.narrative import join

EXT = "http://hl7.org/fhir/StructureDefinition/"


def _date_text(d: Time) -> str:
    text = f"about {d.date}" if d.approximate else str(d.date)
    return f"{text} ({d.description})" if d.description else text


def map_condition(ctx: MappingContext, c: Condition) -> dict[str, Any]:
    """The Condition for one case diagnosis."""
    concept = ctx.concept("conditions", c.concept)
    evidence = list(
        dict.fromkeys([*c.evidence, *(f.key for f in ctx.case.findings if f.focus == c.key)])
    )
    rows = [
        ("Diagnosis", concept.text),
        ("Clinical status", c.clinical_status),
        ("Verification", c.verification),
        ("Diagnosed", _date_text(c.diagnosed) if c.diagnosed else None),
        ("Onset", _date_text(c.onset) if c.onset else None),
        ("Body site", join(ctx.concept("body_sites", s.site).text for s in c.body_sites)),
        (
            "Due to",
            join(ctx.concept("conditions", ctx.case.condition(k).concept).text for k in c.due_to),
        ),
        (
            "Associated with",
            join(
                ctx.concept("conditions", ctx.case.condition(k).concept).text
                for k in c.associated_with
            ),
        ),
        ("Notes", join(c.notes, " ")),
    ]
    r = ctx.base("Condition", c.key, "Condition", rows)
    extensions: list[dict[str, Any]] = []
    if c.diagnosed and not c.diagnosed.approximate:
        extensions.append(
            {"url": EXT + "condition-assertedDate", "valueDateTime": c.diagnosed.date}
        )
    extensions += [{"url": EXT + "condition-dueTo", "valueReference": ctx.ref(k)} for k in c.due_to]
    extensions += [
        {"url": EXT + "condition-related", "valueReference": ctx.ref(k)} for k in c.associated_with
    ]
    if extensions:
        r["extension"] = extensions
    r["clinicalStatus"] = ctx.cc("hl7", f"clinical_{c.clinical_status}")
    r["verificationStatus"] = ctx.cc("hl7", f"verification_{c.verification}")
    r["category"] = [ctx.cc("hl7", "category_" + c.category.replace("-", "_"))]
    r["code"] = concept.to_codeable_concept()
    if c.body_sites:
        r["bodySite"] = [ctx.cc("body_sites", s.site) for s in c.body_sites]
    r["subject"] = ctx.patient_ref()
    if c.onset:
        if c.onset.approximate:
            r["onsetString"] = _date_text(c.onset)
        else:
            r["onsetDateTime"] = c.onset.date
    if evidence:
        r["evidence"] = [{"detail": [ctx.ref(k) for k in evidence]}]
    notes = list(c.notes)
    if c.diagnosed and c.diagnosed.approximate:
        notes.insert(0, f"Diagnosed {_date_text(c.diagnosed)}.")
    if notes:
        r["note"] = [{"text": n} for n in notes]
    return r


def map_conditions(ctx: MappingContext) -> list[dict[str, Any]]:
    """All Conditions of the case."""
    return [map_condition(ctx, c) for c in ctx.case.conditions]
