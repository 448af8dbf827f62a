"""Observation: findings, laboratory results, social history, and the reported age.

- A finding is an Observation whose code is the finding itself; its description is a note. An
  absent finding ("no lymphadenopathy", ``present: false``) has the value SNOMED CT
  ``Absent``; a measured one ("an ulcer of 2 cm") its ``valueQuantity``. ``bodySite`` holds one
  site in R4, so in format /2 a finding with several sites becomes one Observation per site
  (each linked wherever the finding is: report results, condition evidence); format /1 keeps one
  Observation with the sites in the narrative only.
- Lab results: a qualitative result ("normal") is ``valueCodeableConcept`` with no invented
  number; a numeric one (zero and negative included) is a UCUM ``valueQuantity`` with its
  comparator, reference range and interpretation (H, L, HH, LL...).
- Social history (smoking status...) has the category ``social-history`` and the same results.
- The age at presentation becomes an Observation (LOINC age) instead of a made-up birth date.
- Times: an exact or exactly derived date is ``effectiveDateTime``; a relative one carries the
  ``relative-date`` extension; one FHIR cannot hold exactly ("about a week before") goes to a note.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import BodySite, Finding, Lab, Result, SocialHistory, Time
from fhir_adapter.mappers.context import PATIENT_KEY, MappingContext, site_parts
from fhir_adapter.mappers.timing import when
from fhir_adapter.narrative import join
from fhir_adapter.terminology import Concept

AGE_KEY = "age"


def _effective(ctx: MappingContext, r: dict[str, Any], t: Time | None, own: str) -> str | None:
    """Set ``effectiveDateTime`` (and its relative-date extension); the time's text, if FHIR
    cannot hold it, for a note."""
    if t is None:
        return None
    w = when(ctx, t, own)
    r.update(w.date_element("effectiveDateTime"))
    return None if w.date else f"When: {w.text}."


def _value(ctx: MappingContext, r: dict[str, Any], result: Result) -> str:
    """Set ``value[x]`` from a result; the result as text."""
    q = result.quantity
    if q is not None:
        extra = {"comparator": q.comparator} if q.comparator else {}
        r["valueQuantity"] = ctx.quantity(q.value, q.unit, **extra)
        return f"{q.comparator or ''}{ctx.quantity_text(q.value, q.unit)}"
    r["valueCodeableConcept"] = ctx.cc("qualifiers", result.qualitative or "")
    return ctx.concept("qualifiers", result.qualitative or "").text


def _head(
    ctx: MappingContext,
    key: str,
    rows: list[tuple[str, str | None]],
    category: str,
    concept: Concept,
    encounter: str | None,
    time: Time | None,
    own: str,
) -> tuple[dict[str, Any], str | None]:
    """An Observation's common part: narrative, status, category (``hl7`` table key), code,
    subject, encounter and effective time; with the time's text when FHIR cannot hold it."""
    r = ctx.base("Observation", key, "Observation", rows)
    r["status"] = "final"
    r["category"] = [ctx.cc("hl7", category)]
    r["code"] = concept.to_codeable_concept()
    r["subject"] = ctx.patient_ref()
    if encounter:
        r["encounter"] = ctx.ref(encounter)
    return r, _effective(ctx, r, time, own)


def _notes(r: dict[str, Any], *texts: str | None) -> None:
    notes = [t for t in texts if t]
    if notes:
        r["note"] = [{"text": t} for t in notes]


def map_finding(ctx: MappingContext, f: Finding) -> list[dict[str, Any]]:
    """The Observation(s) of one finding: one, or one per body site (format /2)."""
    return [_finding_part(ctx, f, key, site) for key, site in site_parts(f, ctx.case.version)]


def _finding_part(
    ctx: MappingContext, f: Finding, key: str, site: BodySite | None
) -> dict[str, Any]:
    concept = ctx.concept("findings", f.concept)
    shown = [site] if key != f.key and site else list(f.body_sites)
    value = None
    if f.value:
        value = f"{f.value.comparator or ''}{ctx.quantity_text(f.value.value, f.value.unit)}"
    rows = [
        ("Finding", concept.text),
        ("Category", f.category),
        ("Body site", join(ctx.site_text(s) for s in shown)),
        ("Description", f.description),
        ("Present", None if f.present else "no (documented as absent)"),
        ("Value", value),
        ("Interpretation", ctx.text("qualifiers", f.interpretation)),
        ("When", when(ctx, f.time).text if f.time else None),
    ]
    category = "obs_category_" + f.category.replace("-", "_")
    r, when_note = _head(ctx, key, rows, category, concept, f.encounter, f.time, f.key)
    if not f.present:
        r["valueCodeableConcept"] = ctx.cc("qualifiers", "absent")
    elif f.value:
        extra = {"comparator": f.value.comparator} if f.value.comparator else {}
        r["valueQuantity"] = ctx.quantity(f.value.value, f.value.unit, **extra)
    if f.interpretation:
        r["interpretation"] = [ctx.cc("qualifiers", f.interpretation)]
    if site is not None:
        r["bodySite"] = ctx.body_site(site)
    _notes(r, f.description, when_note)
    if f.specimen:
        r["specimen"] = ctx.ref(f.specimen)
    return r


def _reference_range(ctx: MappingContext, lab: Lab) -> list[dict[str, Any]]:
    rr = lab.reference_range
    if rr is None:
        return []
    out: dict[str, Any] = {}
    unit = lab.result.unit
    for side in ("low", "high"):
        v = getattr(rr, side)
        if v is not None and unit:
            out[side] = ctx.quantity(v, unit)
    if rr.text:
        out["text"] = rr.text
    return [out]


def _range_text(ctx: MappingContext, lab: Lab) -> str | None:
    rr = lab.reference_range
    if rr is None:
        return None
    unit = ctx.text("units", lab.result.unit) or ""
    if rr.low is not None and rr.high is not None:
        text = f"{rr.low:g} to {rr.high:g} {unit}"
    elif rr.low is not None:
        text = f">= {rr.low:g} {unit}"
    elif rr.high is not None:
        text = f"<= {rr.high:g} {unit}"
    else:
        text = ""
    return join([text.strip(), rr.text])


def map_lab(ctx: MappingContext, lab: Lab) -> dict[str, Any]:
    """The Observation for one laboratory result."""
    concept = ctx.concept("labs", lab.concept)
    interp = ctx.concept("qualifiers", lab.interpretation) if lab.interpretation else None
    probe: dict[str, Any] = {}
    result = _value(ctx, probe, lab.result)
    rows = [
        ("Test", concept.text),
        ("Result", result),
        ("Interpretation", interp.text if interp else None),
        ("Reference range", _range_text(ctx, lab)),
        ("Date", when(ctx, lab.date).text if lab.date else None),
        ("Note", lab.description),
    ]
    r, when_note = _head(
        ctx, lab.key, rows, "obs_category_laboratory", concept, lab.encounter, lab.date, lab.key
    )
    r.update(probe)
    if interp:
        r["interpretation"] = [interp.to_codeable_concept()]
    _notes(r, lab.description, when_note)
    if lab.specimen:
        r["specimen"] = ctx.ref(lab.specimen)
    if lab.reference_range:
        r["referenceRange"] = _reference_range(ctx, lab)
    return r


def map_social_history(ctx: MappingContext, s: SocialHistory) -> dict[str, Any]:
    """The Observation (category social-history) for one social-history fact."""
    concept = ctx.concept("social_history", s.concept)
    probe: dict[str, Any] = {}
    result = _value(ctx, probe, s.result)
    rows = [
        ("Social history", concept.text),
        ("Result", result),
        ("When", when(ctx, s.time).text if s.time else None),
        ("Note", s.description),
    ]
    r, when_note = _head(
        ctx, s.key, rows, "obs_category_social_history", concept, s.encounter, s.time, s.key
    )
    r.update(probe)
    _notes(r, s.description, when_note)
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
    """Every Observation of the case: age, findings, labs, then social history."""
    return [
        *map_age(ctx),
        *(r for f in ctx.case.findings for r in map_finding(ctx, f)),
        *(map_lab(ctx, lab) for lab in ctx.case.labs),
        *(map_social_history(ctx, s) for s in ctx.case.social_history),
    ]
