"""What every mapper receives: the case, the terminology, and the identity of each case item."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fhir_adapter.case import Age, BodySite, Case, Finding
from fhir_adapter.ids import business_identifier, resource_uuid
from fhir_adapter.narrative import narrative
from fhir_adapter.terminology import Concept, Terminology

#: Which resource type each kind of case item becomes (its main resource).
RESOURCE_OF_SECTION = {
    "encounters": "Encounter",
    "conditions": "Condition",
    "findings": "Observation",
    "labs": "Observation",
    "imaging": "DiagnosticReport",
    "pathology": "DiagnosticReport",
    "procedures": "Procedure",
    "specimens": "Specimen",
    "medications": "MedicationStatement",
    "allergies": "AllergyIntolerance",
    "social_history": "Observation",
}

PATIENT_KEY = "patient"
#: UCUM time units, whose text takes a plural 's' ('6 months').
TIME_UNITS = frozenset({"min", "h", "d", "wk", "mo", "a"})
UCUM = "http://unitsofmeasure.org"
EXT = "http://hl7.org/fhir/StructureDefinition/"


def body_structure_key(site: BodySite) -> str:
    """The case-level key of the BodyStructure recording a lateralised body site."""
    return f"body-site/{site.token}"


def site_parts(f: Finding, version: int) -> list[tuple[str, BodySite | None]]:
    """The Observations a finding becomes: (resource key, its one body site).

    A finding with several body sites becomes one Observation per site in format /2 (R4's
    Observation.bodySite holds one); format /1 keeps its single Observation without a site.
    """
    if len(f.body_sites) > 1 and version >= 2:
        return [(f"{f.key}/{s.token}", s) for s in f.body_sites]
    return [(f.key, f.body_sites[0] if len(f.body_sites) == 1 else None)]


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
        """A Reference to the resource made from case item ``key`` (``urn:uuid:`` form); for a
        finding split by body site, its first Observation."""
        if resource_type is None and self.case.kind(key) == "finding":
            return self.refs(key)[0]
        rtype = resource_type or self._types[key]
        return {"reference": f"urn:uuid:{self.uuid(rtype, key)}"}

    def refs(self, key: str) -> list[dict[str, str]]:
        """References to every resource case item ``key`` becomes as the target of links
        (one per body site for a finding split by site)."""
        if self.case.kind(key) == "finding":
            parts = site_parts(self.case.finding(key), self.case.version)
            return [self.ref(k, "Observation") for k, _ in parts]
        return [self.ref(key)]

    def patient_ref(self) -> dict[str, str]:
        """A Reference to the case's Patient."""
        return self.ref(PATIENT_KEY, "Patient")

    def base(
        self, resource_type: str, key: str, title: str, rows: Sequence[tuple[str, str | None]]
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

    def text(self, table: str, key: str | None) -> str | None:
        """The human text of a concept (None for None)."""
        return self.term.concept(table, key).text if key else None

    def label(self, key: str) -> str:
        """A short human name for case item ``key``: its concept's text, or what it is."""
        item = self.case.item(key)
        kind = self.case.kind(key)
        if kind == "encounter":
            text = self.concept("hl7", "encounter_class_" + item.class_.replace("-", "_")).text
            text = text.lower()
            return text if text.endswith("encounter") else f"{text} encounter"
        if kind == "imaging":
            return f"{self.concept('modalities', item.modality).text.lower()} study"
        if kind == "pathology":
            return self.concept("reports", item.report_code).text.lower()
        if kind == "specimen":
            text = self.concept("specimen_types", item.type).text.lower()
            return text if text.endswith("specimen") else f"{text} specimen"
        if kind == "allergy":
            return f"reaction to {self.allergen(item).text.lower()}"
        table = {
            "condition": "conditions",
            "finding": "findings",
            "lab": "labs",
            "procedure": "procedures",
            "medication": "medications",
            "social_history": "social_history",
        }[kind]
        return self.concept(table, item.concept).text

    def allergen(self, allergy: Any) -> Concept:
        """The substance concept of an allergy (its own, or its medication's)."""
        key = allergy.concept or self.case.item(allergy.medication).concept
        return self.concept("medications", key)

    def site_text(self, site: BodySite) -> str:
        """A body site as text, with its side: 'Knee (left)'."""
        text = self.concept("body_sites", site.site).text
        if site.laterality:
            side = self.concept("qualifiers", f"laterality_{site.laterality}").text.lower()
            text = f"{text} ({side})"
        return text

    def body_site(self, site: BodySite) -> dict[str, Any]:
        """The CodeableConcept of a body site. A side is coded on a BodyStructure
        (``locationQualifier``) that the core ``bodySite`` extension points to; the text names it."""
        cc = self.concept("body_sites", site.site).to_codeable_concept()
        if not site.laterality:
            return cc
        ext = {
            "url": EXT + "bodySite",
            "valueReference": self.ref(body_structure_key(site), "BodyStructure"),
        }
        return {"extension": [ext], **cc, "text": self.site_text(site)}

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
        """A Quantity as readable text: '20 milligram per day', '6 months'."""
        return f"{value:g} {self.unit_text(unit, value)}"

    def unit_text(self, unit: str, value: float | int | None = None) -> str:
        """A unit's human text, plural for time units of amounts other than one ('years')."""
        text = self.term.concept("units", unit).text
        return text + "s" if unit in TIME_UNITS and value != 1 else text

    def age_text(self, age: Age) -> str:
        """An age (exact or a range) as readable text: '37 year', '60 to 69 year'."""
        if age.value is not None:
            return self.quantity_text(age.value, age.unit)
        unit = self.unit_text(age.unit)
        if age.low is not None and age.high is not None:
            return f"{age.low:g} to {age.high:g} {unit}"
        if age.low is not None:
            return f"at least {age.low:g} {unit}"
        return f"under {age.high:g} {unit}"

    def age_value(self, age: Age, prefix: str) -> dict[str, Any]:
        """``{<prefix>Age: ...}`` (``valueQuantity`` for ``value``) for an exact age,
        ``{<prefix>Range: ...}`` for a range."""
        if age.value is not None:
            name = "valueQuantity" if prefix == "value" else f"{prefix}Age"
            return {name: self.quantity(age.value, age.unit)}
        bounds = {
            side: self.quantity(v, age.unit)
            for side, v in (("low", age.low), ("high", age.high))
            if v is not None
        }
        return {f"{prefix}Range": bounds}
