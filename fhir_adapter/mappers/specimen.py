"""Specimen: one per specimen taken; DiagnosticReports and Observations point at it.

``type`` is the specimen-type concept, ``collection.bodySite`` its site (with its side),
``collection.collectedDateTime`` its collection time when exact (``relative-date`` extension
when relative) and ``collection.quantity`` its amount. R4 has no element linking a Specimen to
the Procedure that collected it (R5 adds ``collection.procedure``), so that link is stated in a
note and the narrative. Specimen status is unknown to a case report and left out.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Specimen
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.mappers.timing import when


def map_specimen(ctx: MappingContext, s: Specimen) -> dict[str, Any]:
    """The Specimen for one specimen of the case."""
    collected = when(ctx, s.collected, s.key) if s.collected else None
    procedure = ctx.label(s.procedure) if s.procedure else None
    rows = [
        ("Specimen", ctx.concept("specimen_types", s.type).text),
        ("Site", ctx.site_text(s.site) if s.site else None),
        ("Collected", collected.text if collected else None),
        ("Collected by", procedure),
        ("Quantity", ctx.quantity_text(s.quantity.value, s.quantity.unit) if s.quantity else None),
        ("Description", s.description),
    ]
    r = ctx.base("Specimen", s.key, "Specimen", rows)
    r["type"] = ctx.cc("specimen_types", s.type)
    r["subject"] = ctx.patient_ref()
    collection: dict[str, Any] = {}
    if collected:
        collection.update(collected.date_element("collectedDateTime"))
    if s.quantity:
        collection["quantity"] = ctx.quantity(s.quantity.value, s.quantity.unit)
    if s.site:
        collection["bodySite"] = ctx.body_site(s.site)
    if collection:
        r["collection"] = collection
    notes = [s.description]
    if procedure:
        notes.append(f"Collected by {procedure}.")
    if collected and not collected.date:
        notes.append(f"Collected {collected.text}.")
    if any(notes):
        r["note"] = [{"text": n} for n in notes if n]
    return r


def map_specimens(ctx: MappingContext) -> list[dict[str, Any]]:
    """All Specimens of the case."""
    return [map_specimen(ctx, s) for s in ctx.case.specimens]
