"""AllergyIntolerance: allergies and adverse drug reactions to a medication.

- ``code`` is the drug (the case medication's concept, or a medication concept); ``type``,
  ``category``, ``criticality`` and the clinical and verification statuses are the case's.
  ``onset[x]`` follows Condition.onset (exact dateTime, relative-date extension, age, string).
- Each reaction lists its manifestations (the codes of the case's conditions and findings it
  showed as), its severity, a description, and its onset (``reaction.onset`` when exact, else in
  the description). The drug is also the reaction's ``substance``.
- The condition the drug caused points at the MedicationStatement (``condition-dueTo``); a
  course stopped because of the reaction names it in ``statusReason``.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Allergy, Reaction
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.mappers.timing import choice, when
from fhir_adapter.narrative import join


def _manifestation(ctx: MappingContext, key: str) -> dict[str, Any]:
    item = ctx.case.item(key)
    table = "conditions" if ctx.case.kind(key) == "condition" else "findings"
    return ctx.cc(table, item.concept)


def _reaction(ctx: MappingContext, a: Allergy, x: Reaction) -> dict[str, Any]:
    out: dict[str, Any] = {"substance": ctx.allergen(a).to_codeable_concept()}
    out["manifestation"] = [_manifestation(ctx, k) for k in x.manifestations]
    onset = when(ctx, x.onset, a.key) if x.onset else None
    texts = [x.description]
    if onset and not onset.date:
        texts.append(f"Onset {onset.text}.")
    text = join(texts, " ")
    if text:
        out["description"] = text
    if onset:
        out.update(onset.date_element("onset"))
    if x.severity:
        out["severity"] = x.severity
    return out


def map_allergy_intolerance(ctx: MappingContext, a: Allergy) -> dict[str, Any]:
    """The AllergyIntolerance for one allergy or adverse drug reaction."""
    substance = ctx.allergen(a)
    rows = [
        ("Substance", substance.text),
        ("Type", a.type),
        ("Category", a.category),
        ("Criticality", a.criticality),
        ("Clinical status", a.clinical_status),
        ("Verification", a.verification),
        ("Caused by", ctx.label(a.medication) if a.medication else None),
        ("Onset", when(ctx, a.onset).text if a.onset else None),
        *(
            (
                f"Reaction {i}",
                join(
                    [
                        join(ctx.label(k) for k in x.manifestations),
                        x.severity,
                        when(ctx, x.onset).text if x.onset else None,
                        x.description,
                    ]
                ),
            )
            for i, x in enumerate(a.reactions, 1)
        ),
        ("Notes", join(a.notes, " ")),
    ]
    r = ctx.base("AllergyIntolerance", a.key, "Allergy or intolerance", rows)
    r["clinicalStatus"] = ctx.cc("hl7", f"allergy_clinical_{a.clinical_status}")
    r["verificationStatus"] = ctx.cc("hl7", f"allergy_verification_{a.verification}")
    if a.type:
        r["type"] = a.type
    r["category"] = [a.category]
    if a.criticality:
        r["criticality"] = a.criticality
    r["code"] = substance.to_codeable_concept()
    r["patient"] = ctx.patient_ref()
    if a.encounter:
        r["encounter"] = ctx.ref(a.encounter)
    if a.onset:
        r.update(choice(ctx, a.onset, "onset", a.key))
    notes = list(a.notes)
    if a.medication:
        notes.insert(0, f"Reaction to the course of {ctx.label(a.medication)} in this case.")
    if notes:
        r["note"] = [{"text": n} for n in notes]
    if a.reactions:
        r["reaction"] = [_reaction(ctx, a, x) for x in a.reactions]
    return r


def map_allergy_intolerances(ctx: MappingContext) -> list[dict[str, Any]]:
    """All AllergyIntolerances of the case."""
    return [map_allergy_intolerance(ctx, a) for a in ctx.case.allergies]
