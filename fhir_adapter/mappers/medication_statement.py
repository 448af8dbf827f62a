"""MedicationStatement: what the patient took, with the dosage the case states and nothing more.

- A dose per administration with a frequency becomes ``doseQuantity`` plus ``timing.repeat``.
- A daily amount (``mg/d``, ``mg/kg/d``) becomes ``rateQuantity`` in UCUM: the case states an
  amount per day, not how it was divided, so no frequency is made up.
- A treatment length becomes ``timing.repeat.boundsDuration`` (with its comparator, e.g. '>' for
  "more than one year"). Unknown start/end dates are omitted.
- Drug classes with no RxNorm ingredient keep their class coding (ATC) or text only.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Medication
from fhir_adapter.mappers.context import UCUM, MappingContext
from fhir_adapter.narrative import join


def _dosage(ctx: MappingContext, m: Medication) -> dict[str, Any]:
    dosage: dict[str, Any] = {}
    if m.description:
        dosage["text"] = m.description
    repeat: dict[str, Any] = {}
    if m.duration:
        d = m.duration
        bounds: dict[str, Any] = {"value": d.value}
        if d.comparator:
            bounds["comparator"] = d.comparator
        bounds.update({"unit": ctx.concept("units", d.unit).text, "system": UCUM, "code": d.unit})
        repeat["boundsDuration"] = bounds
    if m.frequency:
        repeat.update(
            {
                "frequency": m.frequency.times,
                "period": m.frequency.period,
                "periodUnit": m.frequency.unit,
            }
        )
    if repeat:
        dosage["timing"] = {"repeat": repeat}
    if m.route:
        dosage["route"] = ctx.cc("routes", m.route)
    if m.dose:
        dosage["doseAndRate"] = [{"doseQuantity": ctx.quantity(m.dose.value, m.dose.unit)}]
    elif m.daily_dose:
        dosage["doseAndRate"] = [
            {"rateQuantity": ctx.quantity(m.daily_dose.value, m.daily_dose.unit)}
        ]
    return dosage


def map_medication_statement(ctx: MappingContext, m: Medication) -> dict[str, Any]:
    """The MedicationStatement for one treatment."""
    concept = ctx.concept("medications", m.concept)
    dose = m.dose or m.daily_dose
    rows = [
        ("Medication", concept.text),
        ("Status", m.status),
        ("Route", ctx.concept("routes", m.route).text if m.route else None),
        ("Dose", ctx.quantity_text(dose.value, dose.unit) if dose else None),
        (
            "Frequency",
            f"{m.frequency.times} per {m.frequency.period:g} {m.frequency.unit}"
            if m.frequency
            else None,
        ),
        (
            "Duration",
            f"{m.duration.comparator or ''}{ctx.quantity_text(m.duration.value, m.duration.unit)}"
            if m.duration
            else None,
        ),
        (
            "Reason",
            join(ctx.concept("conditions", ctx.case.condition(k).concept).text for k in m.reasons),
        ),
        ("Details", m.description),
    ]
    r = ctx.base("MedicationStatement", m.key, "Medication statement", rows)
    r["status"] = m.status
    r["medicationCodeableConcept"] = concept.to_codeable_concept()
    r["subject"] = ctx.patient_ref()
    if m.reasons:
        r["reasonReference"] = [ctx.ref(k) for k in m.reasons]
    dosage = _dosage(ctx, m)
    if dosage:
        r["dosage"] = [dosage]
    return r


def map_medication_statements(ctx: MappingContext) -> list[dict[str, Any]]:
    """All MedicationStatements of the case."""
    return [map_medication_statement(ctx, m) for m in ctx.case.medications]
