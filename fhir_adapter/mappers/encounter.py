"""Encounter: one per visit or stay (emergency visit, admission, outpatient visit).

- ``class`` is the v3 ActCode the R4 binding asks for (EMER, IMP, AMB, OBSENC, SS, HH, VR);
  status is the case's (``finished`` by default).
- ``start``/``end`` become ``period`` when exact or relative (``relative-date`` extension on
  ``period.start``/``end``); other times, and an approximate length, are in the narrative only.
  An exact length of stay is ``length``.
- ``reasons`` become ``reasonReference``; ``diagnoses`` ``diagnosis`` with their role
  (admission, discharge... from diagnosis-role); ``discharge`` the hospitalisation's discharge
  disposition; ``part_of`` ``partOf`` (an admission that followed an emergency visit).
- Everything that happened during the encounter points at it (``encounter``, or ``context`` on
  MedicationStatement); no practitioner, location or service provider is invented.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Encounter
from fhir_adapter.mappers.context import UCUM, MappingContext
from fhir_adapter.mappers.timing import when
from fhir_adapter.narrative import join


def map_encounter(ctx: MappingContext, e: Encounter) -> dict[str, Any]:
    """The Encounter for one visit or stay."""
    klass = ctx.concept("hl7", "encounter_class_" + e.class_.replace("-", "_"))
    start = when(ctx, e.start, e.key) if e.start else None
    end = when(ctx, e.end, e.key) if e.end else None
    length = None
    if e.length:
        about = "about " if e.length.approximate else ""
        length = (
            f"{about}{e.length.comparator or ''}{ctx.quantity_text(e.length.value, e.length.unit)}"
        )
    discharge = (
        ctx.text("hl7", f"discharge_{e.discharge.replace('-', '_')}") if e.discharge else None
    )
    rows = [
        ("Encounter", klass.text),
        ("Status", e.status),
        ("Start", start.text if start else None),
        ("End", end.text if end else None),
        ("Length", length),
        ("Reason", join(ctx.label(k) for k in e.reasons)),
        ("Diagnoses", join(ctx.label(d.condition) for d in e.diagnoses)),
        ("Discharge", discharge),
        ("Part of", ctx.label(e.part_of) if e.part_of else None),
        ("Description", e.description),
        ("Notes", join(e.notes, " ")),
    ]
    r = ctx.base("Encounter", e.key, "Encounter", rows)
    r["status"] = e.status
    r["class"] = klass.coding().to_fhir()
    r["subject"] = ctx.patient_ref()
    period: dict[str, Any] = {}
    for name, w in (("start", start), ("end", end)):
        if w:
            period.update(w.date_element(name))
    if period:
        r["period"] = period
    if e.length and not e.length.approximate:
        q: dict[str, Any] = {"value": e.length.value}
        if e.length.comparator:
            q["comparator"] = e.length.comparator
        q.update(
            {
                "unit": ctx.concept("units", e.length.unit).text,
                "system": UCUM,
                "code": e.length.unit,
            }
        )
        r["length"] = q
    if e.reasons:
        r["reasonReference"] = [ref for k in e.reasons for ref in ctx.refs(k)]
    if e.diagnoses:
        diagnoses = []
        for d in e.diagnoses:
            entry: dict[str, Any] = {"condition": ctx.ref(d.condition)}
            if d.role:
                entry["use"] = ctx.cc("hl7", "diagnosis_role_" + d.role.replace("-", "_"))
            diagnoses.append(entry)
        r["diagnosis"] = diagnoses
    if e.discharge:
        r["hospitalization"] = {
            "dischargeDisposition": ctx.cc("hl7", f"discharge_{e.discharge.replace('-', '_')}")
        }
    if e.part_of:
        r["partOf"] = ctx.ref(e.part_of)
    return r


def map_encounters(ctx: MappingContext) -> list[dict[str, Any]]:
    """All Encounters of the case."""
    return [map_encounter(ctx, e) for e in ctx.case.encounters]
