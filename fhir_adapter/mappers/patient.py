"""Patient: administrative sex only; no name, birth date or identifier the case does not give."""

from __future__ import annotations

from typing import Any

from fhir_adapter.mappers.context import PATIENT_KEY, MappingContext


def map_patient(ctx: MappingContext) -> list[dict[str, Any]]:
    """The case's single Patient resource."""
    p = ctx.case.patient
    age = p.age
    rows = [
        ("Sex", p.sex),
        ("Age", f"{ctx.age_text(age)} ({age.context})" if age else None),
        ("Birth date", "not reported"),
        ("Case", ctx.case.title),
    ]
    resource = ctx.base("Patient", PATIENT_KEY, "Patient", rows)
    resource["gender"] = p.sex
    return [resource]
