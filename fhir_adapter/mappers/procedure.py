"""Procedure: one per procedure performed (biopsy, endoscopy, surgery, lithotripsy...).

- ``performed[x]``: an exact or exactly derived date is ``performedDateTime`` (with the
  ``relative-date`` extension when relative), an age ``performedAge``/``performedRange``, any
  other time ``performedString`` ("about 11 years before the admission").
- ``reasons`` become ``reasonReference``, ``complications`` ``complicationDetail``, ``reports``
  the DiagnosticReports it produced, ``part_of`` ``partOf``; body sites keep their side.
- ``outcome`` is a concept (SNOMED CT successful / unsuccessful / partially successful);
  case-specific detail ("4 mm punch", "under local anaesthesia") is the description, a note.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Procedure
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.mappers.timing import choice, when
from fhir_adapter.narrative import join


def map_procedure(ctx: MappingContext, p: Procedure) -> dict[str, Any]:
    """The Procedure for one procedure of the case."""
    concept = ctx.concept("procedures", p.concept)
    rows = [
        ("Procedure", concept.text),
        ("Status", p.status),
        ("When", when(ctx, p.time).text if p.time else None),
        ("Body site", join(ctx.site_text(s) for s in p.body_sites)),
        ("Reason", join(ctx.label(k) for k in p.reasons)),
        ("Outcome", ctx.text("qualifiers", p.outcome)),
        ("Complications", join(ctx.label(k) for k in p.complications)),
        ("Part of", ctx.label(p.part_of) if p.part_of else None),
        ("Description", p.description),
        ("Notes", join(p.notes, " ")),
    ]
    r = ctx.base("Procedure", p.key, "Procedure", rows)
    if p.part_of:
        r["partOf"] = [ctx.ref(p.part_of)]
    r["status"] = p.status
    r["code"] = concept.to_codeable_concept()
    r["subject"] = ctx.patient_ref()
    if p.encounter:
        r["encounter"] = ctx.ref(p.encounter)
    if p.time:
        r.update(choice(ctx, p.time, "performed", p.key))
    if p.reasons:
        r["reasonReference"] = [ref for k in p.reasons for ref in ctx.refs(k)]
    if p.body_sites:
        r["bodySite"] = [ctx.body_site(s) for s in p.body_sites]
    if p.outcome:
        r["outcome"] = ctx.cc("qualifiers", p.outcome)
    if p.reports:
        r["report"] = [ctx.ref(k) for k in p.reports]
    if p.complications:
        r["complicationDetail"] = [ctx.ref(k) for k in p.complications]
    notes = [n for n in (p.description, *p.notes) if n]
    if notes:
        r["note"] = [{"text": n} for n in notes]
    return r


def map_procedures(ctx: MappingContext) -> list[dict[str, Any]]:
    """All Procedures of the case."""
    return [map_procedure(ctx, p) for p in ctx.case.procedures]
