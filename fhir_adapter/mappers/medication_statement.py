"""MedicationStatement: what the patient took, with the dosage and course the case states.

- A dose per administration with a frequency becomes ``doseQuantity`` plus ``timing.repeat``.
- A daily amount (``mg/d``, ``mg/kg/d``) becomes ``rateQuantity`` in UCUM: the case states an
  amount per day, not how it was divided, so no frequency is made up.
- A treatment length becomes ``timing.repeat.boundsDuration`` (with its comparator, e.g. '>' for
  "more than one year"); an approximate length stays in the dosage text.
- A course whose dose changed (``phases``) has one Dosage per regimen, in order (``sequence``),
  each bounded by its own period (``boundsPeriod``, relative starts with the ``relative-date``
  extension) or length.
- The course's ``start``/``end`` become ``effectivePeriod`` when exact or relative; other times
  are a note. ``stopped_due_to`` becomes ``statusReason`` (the codes of the reaction or
  condition that ended it). Unknown start/end dates are omitted.
- Drug classes with no RxNorm ingredient keep their class coding (ATC) or text only.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Duration, Medication, Phase
from fhir_adapter.mappers import timing
from fhir_adapter.mappers.context import UCUM, MappingContext
from fhir_adapter.mappers.timing import when
from fhir_adapter.narrative import join


def _duration(ctx: MappingContext, d: Duration) -> dict[str, Any]:
    bounds: dict[str, Any] = {"value": d.value}
    if d.comparator:
        bounds["comparator"] = d.comparator
    bounds.update({"unit": ctx.concept("units", d.unit).text, "system": UCUM, "code": d.unit})
    return bounds


def _duration_text(ctx: MappingContext, d: Duration) -> str:
    about = "about " if d.approximate else ""
    return f"{about}{d.comparator or ''}{ctx.quantity_text(d.value, d.unit)}"


def _dosage(ctx: MappingContext, m: Medication | Phase, own: str) -> dict[str, Any]:
    dosage: dict[str, Any] = {}
    texts = [m.description]
    repeat: dict[str, Any] = {}
    period: dict[str, Any] = {}
    if isinstance(m, Phase):
        period, words = timing.period(ctx, m.start, m.end, own)
        texts += [f"{name.capitalize()}: {text}." for name, text in words.items()]
    if period:
        repeat["boundsPeriod"] = period
        if m.duration:
            texts.append(f"Duration: {_duration_text(ctx, m.duration)}.")
    elif m.duration and not m.duration.approximate:
        repeat["boundsDuration"] = _duration(ctx, m.duration)
    elif m.duration:
        texts.append(f"Duration: {_duration_text(ctx, m.duration)}.")
    text = join(texts, " ")
    if text:
        dosage["text"] = text
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


def _regimen_text(ctx: MappingContext, m: Medication | Phase) -> str | None:
    dose = m.dose or m.daily_dose
    parts = [
        ctx.quantity_text(dose.value, dose.unit) if dose else None,
        f"{m.frequency.times} per {m.frequency.period:g} {m.frequency.unit}"
        if m.frequency
        else None,
        ctx.text("routes", m.route),
        f"for {_duration_text(ctx, m.duration)}" if m.duration else None,
        f"from {when(ctx, m.start).text}" if isinstance(m, Phase) and m.start else None,
        f"until {when(ctx, m.end).text}" if isinstance(m, Phase) and m.end else None,
    ]
    return join(parts, ", ")


def map_medication_statement(ctx: MappingContext, m: Medication) -> dict[str, Any]:
    """The MedicationStatement for one treatment course."""
    concept = ctx.concept("medications", m.concept)
    dose = m.dose or m.daily_dose
    rows = [
        ("Medication", concept.text),
        ("Status", m.status),
        ("Route", ctx.text("routes", m.route)),
        ("Dose", ctx.quantity_text(dose.value, dose.unit) if dose else None),
        (
            "Frequency",
            f"{m.frequency.times} per {m.frequency.period:g} {m.frequency.unit}"
            if m.frequency
            else None,
        ),
        ("Duration", _duration_text(ctx, m.duration) if m.duration else None),
        *(
            (f"Regimen {i}", _regimen_text(ctx, ph) or ph.description)
            for i, ph in enumerate(m.phases, 1)
        ),
        ("Started", when(ctx, m.start).text if m.start else None),
        ("Ended", when(ctx, m.end).text if m.end else None),
        ("Stopped because of", join(ctx.label(k) for k in m.stopped_due_to)),
        ("Reason", join(ctx.label(k) for k in m.reasons)),
        ("Details", m.description),
    ]
    r = ctx.base("MedicationStatement", m.key, "Medication statement", rows)
    r["status"] = m.status
    if m.stopped_due_to:
        r["statusReason"] = [_concept_of(ctx, k) for k in m.stopped_due_to]
    r["medicationCodeableConcept"] = concept.to_codeable_concept()
    r["subject"] = ctx.patient_ref()
    if m.encounter:
        r["context"] = ctx.ref(m.encounter)
    period, words = timing.period(ctx, m.start, m.end, m.key)
    notes = [f"{'Started' if name == 'start' else 'Ended'} {text}." for name, text in words.items()]
    if period:
        r["effectivePeriod"] = period
    if m.reasons:
        r["reasonReference"] = [ref for k in m.reasons for ref in ctx.refs(k)]
    if notes:
        r["note"] = [{"text": n} for n in notes]
    if m.phases:
        r["dosage"] = [
            {"sequence": i, **_dosage(ctx, ph, m.key)} for i, ph in enumerate(m.phases, 1)
        ]
    else:
        dosage = _dosage(ctx, m, m.key)
        if dosage:
            r["dosage"] = [dosage]
    return r


def _concept_of(ctx: MappingContext, key: str) -> dict[str, Any]:
    """The CodeableConcept of the condition or finding a course was stopped for."""
    item = ctx.case.item(key)
    table = "conditions" if ctx.case.kind(key) == "condition" else "findings"
    return ctx.cc(table, item.concept)


def map_medication_statements(ctx: MappingContext) -> list[dict[str, Any]]:
    """All MedicationStatements of the case."""
    return [map_medication_statement(ctx, m) for m in ctx.case.medications]
