"""What every mapper receives: the case, the terminology, and the identity of each case item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir_adapter.case import Age, Case
from fhir_adapter.ids import business_identifier, resource_uuid
from fhir_adapter.narrative import narrative
from fhir_adapter.terminology import Concept, Terminology

#: Which resource type each kind of case item becomes (its main resource).
RESOURCE_OF_SECTION = {
    "conditions": "Condition",
    "findings": "Observation",
    "labs": "Observation",
    "imaging": "DiagnosticReport",
    "pathology": "DiagnosticReport",
    "medications": "MedicationStatement",
}

PATIENT_KEY = "patient"
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class MappingContext:
    """The case being mapped, its terminology, and the resource each case key becomes."""

    case: Case
    term: Terminology
    _types: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for section, rtype in RESOURCE_OF_SECTION.items():
            for item in getattr(self.case, section):
                self._types[item.key] = rtype

    def uuid(self, resource_type: str, key: str) -> str:
        """The deterministic UUID of a resource."""
        return resource_uuid(self.case.id, resource_type, key)

    def ref(self, key: str, resource_type: str | None = None) -> dict[str, str]:
        """A Reference to the resource made from case item ``key`` (``urn:uuid:`` form)."""
        rtype = resource_type or self._types[key]
        return {"reference": f"urn:uuid:{self.uuid(rtype, key)}"}

    def patient_ref(self) -> dict[str, str]:
        """A Reference to the case's Patient."""
        return self.ref(PATIENT_KEY, "Patient")

    def base(
        self, resource_type: str, key: str, title: str, rows: list[tuple[str, str | None]]
    ) -> dict[str, Any]:
        """The common head of a resource: type, id, narrative and business identifier."""
        uid = self.uuid(resource_type, key)
        return {
            "resourceType": resource_type,
            "id": uid,
            "text": narrative(title, rows),
            "identifier": [business_identifier(uid)],
        }

    def concept(self, table: str, key: str) -> Concept:
        """A concept of a ``mappings/`` table."""
        return self.term.concept(table, key)

    def cc(self, table: str, key: str) -> dict[str, Any]:
        """The CodeableConcept of a ``mappings/`` concept."""
        return self.term.concept(table, key).to_codeable_concept()

    def quantity(self, value: float | int, unit: str, **extra: Any) -> dict[str, Any]:
        """A UCUM Quantity; the human unit text comes from ``mappings/units.yaml``."""
        q: dict[str, Any] = dict(extra)
        q.update(
            {
                "value": value,
                "unit": self.term.concept("units", unit).text,
                "system": UCUM,
                "code": unit,
            }
        )
        return q

    def quantity_text(self, value: float | int, unit: str) -> str:
        """A Quantity as readable text, e.g. '20 milligram per day'."""
        return f"{value:g} {self.term.concept('units', unit).text}"

    def age_text(self, age: Age) -> str:
        """An age (exact or a range) as readable text: '37 year', '60 to 69 year'."""
        if age.value is not None:
            return self.quantity_text(age.value, age.unit)
        unit = self.term.concept("units", age.unit).text
        if age.low is not None and age.high is not None:
            return f"{age.low:g} to {age.high:g} {unit}"
        if age.low is not None:
            return f"at least {age.low:g} {unit}"
        return f"under {age.high:g} {unit}"

    def age_value(self, age: Age, prefix: str) -> dict[str, Any]:
        """``{<prefix>Age: ...}`` for an exact age, ``{<prefix>Range: ...}`` for a range."""
        if age.value is not None:
            return {
                f"{prefix}Quantity" if prefix == "value" else f"{prefix}Age": self.quantity(
                    age.value, age.unit
                )
            }
        bounds = {
            side: self.quantity(v, age.unit)
            for side, v in (("low", age.low), ("high", age.high))
            if v is not None
        }
        return {f"{prefix}Range": bounds}
