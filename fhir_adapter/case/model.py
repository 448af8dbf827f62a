"""The case model: immutable dataclasses mirroring the case-file structure (formats /1 and /2).

Field metadata declares what each field names, once, for every consumer:

- ``term_key(table)``: concept keys of ``mappings/<table>.yaml`` (``prefix`` turns an enum value
  such as ``active`` into the table key ``clinical_active``);
- ``item_key(kind, ...)``: keys of other case items of those kinds.

The loader's checks walk these declarations (:func:`walk`); mappers read the fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

#: Case sections holding keyed items, with the kind of item each holds, in file order.
SECTIONS: dict[str, str] = {
    "encounters": "encounter",
    "conditions": "condition",
    "findings": "finding",
    "labs": "lab",
    "imaging": "imaging",
    "pathology": "pathology",
    "procedures": "procedure",
    "specimens": "specimen",
    "medications": "medication",
    "allergies": "allergy",
    "social_history": "social_history",
}
ALL_KINDS = frozenset(SECTIONS.values())
#: The field holding each kind's start (and, where it has one, end): what ``relative_to`` with
#: ``anchor: start`` / ``end`` points at.
ANCHORS: dict[str, dict[str, str]] = {
    "encounter": {"start": "start", "end": "end"},
    "condition": {"start": "onset", "end": "abatement"},
    "finding": {"start": "time"},
    "lab": {"start": "date"},
    "imaging": {"start": "date"},
    "pathology": {"start": "date"},
    "procedure": {"start": "time"},
    "specimen": {"start": "collected"},
    "medication": {"start": "start", "end": "end"},
    "allergy": {"start": "onset"},
    "social_history": {"start": "time"},
}


def term_key(table: str, *, prefix: str = "", default: Any = None) -> Any:
    """A field naming a concept (or, for tuples, concepts) of ``mappings/<table>.yaml``."""
    return field(default=default, metadata={"table": table, "prefix": prefix})


def term_keys(table: str) -> Any:
    """A tuple field of concept keys of ``mappings/<table>.yaml``."""
    return field(default=(), metadata={"table": table, "prefix": ""})


def item_key(*kinds: str) -> Any:
    """A field naming one case item of the given kinds."""
    return field(default=None, metadata={"ref": frozenset(kinds)})


def item_keys(*kinds: str) -> Any:
    """A tuple field naming case items of the given kinds."""
    return field(default=(), metadata={"ref": frozenset(kinds)})


def table_key(meta: dict[str, Any], value: str) -> str:
    """The ``mappings/`` key a concept field's value stands for (``problem-list-item`` with
    prefix ``category_`` -> ``category_problem_list_item``)."""
    prefix = meta.get("prefix", "")
    return prefix + value.replace("-", "_") if prefix else value


def walk(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str, Any]]:
    """Every concept or reference value below ``obj``: (field path, value, field metadata).

    Paths use the case file's names (``labs``, 0, ``result``, ``unit``), so they locate the value
    in the file; a value the file left to its default has a path the file does not contain.
    """
    for f in fields(obj):
        value = getattr(obj, f.name)
        if value is None or value == ():
            continue
        p = (*path, f.metadata.get("yaml", f.name))
        if "table" in f.metadata or "ref" in f.metadata:
            if isinstance(value, tuple):
                for i, v in enumerate(value):
                    yield (*p, i), v, f.metadata
            else:
                yield p, value, f.metadata
        elif is_dataclass(value):
            yield from walk(value, p)
        elif isinstance(value, tuple):
            for i, v in enumerate(value):
                if is_dataclass(v):
                    yield from walk(v, (*p, i))


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True, kw_only=True)
class Age:
    """An age: exact (``value``) or a range (``low``/``high``), in a UCUM time unit."""

    unit: str = term_key("units")
    value: float | int | None = None
    low: float | int | None = None
    high: float | int | None = None
    context: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Offset:
    """How far a time lies from the event it is relative to: ``value`` or ``low``-``high``."""

    unit: str = term_key("units")
    value: float | int | None = None
    low: float | int | None = None
    high: float | int | None = None
    approximate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Time:
    """When something happened: a calendar date, an age, or a relation to another case item.

    Exactly one of ``date``, ``age`` and ``relative_to`` is set. A relative time names the item
    (``relative_to``), which of its ends (``anchor``: start or end), the ``direction`` (before,
    after, at, during) and optionally an ``offset``.
    """

    date: str | None = None
    approximate: bool = False
    description: str | None = None
    age: Age | None = None
    relative_to: str | None = item_key(*sorted(ALL_KINDS))
    anchor: str = "start"
    direction: str | None = None
    offset: Offset | None = None


#: Format /1's name for a date; a Time whose ``date`` is set.
DateSpec = Time


@dataclass(frozen=True, slots=True, kw_only=True)
class Quantity:
    """An amount with a UCUM unit code; ``comparator`` for results such as '< 0.5'."""

    value: float | int
    unit: str = term_key("units")
    comparator: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Duration:
    """How long something lasted; ``comparator`` for 'more than a year', ``approximate`` for
    'about two weeks'."""

    value: float | int
    unit: str = term_key("units")
    comparator: str | None = None
    approximate: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Frequency:
    """``times`` administrations per ``period`` ``unit``."""

    times: int
    period: float | int
    unit: str = term_key("units")


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    """A result: a qualitative concept, or a number (zero and negative allowed) with a unit."""

    qualitative: str | None = term_key("qualifiers")
    value: float | int | None = None
    unit: str | None = term_key("units")
    comparator: str | None = None

    @property
    def quantity(self) -> Quantity | None:
        """The numeric result as a Quantity, or None for a qualitative result."""
        if self.value is None or self.unit is None:
            return None
        return Quantity(value=self.value, unit=self.unit, comparator=self.comparator)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReferenceRange:
    """A numeric result's reference range, in the result's unit."""

    low: float | int | None = None
    high: float | int | None = None
    text: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BodySite:
    """A body structure, optionally with its side."""

    site: str = term_key("body_sites")
    laterality: str | None = term_key("qualifiers", prefix="laterality_")

    @property
    def token(self) -> str:
        """A stable token for ids: the site key, with the side when there is one."""
        return f"{self.site}-{self.laterality}" if self.laterality else self.site


# --------------------------------------------------------------------------- items


@dataclass(frozen=True, slots=True, kw_only=True)
class Patient:
    """The patient: administrative sex and, if reported, age."""

    sex: str
    age: Age | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EncounterDiagnosis:
    """A condition diagnosed or treated during an encounter, with its role."""

    condition: str = item_key("condition")
    role: str | None = term_key("hl7", prefix="diagnosis_role_")


@dataclass(frozen=True, slots=True, kw_only=True)
class Encounter:
    """A visit or stay: emergency visit, admission, outpatient visit."""

    key: str
    class_: str = field(
        default="ambulatory",
        metadata={"table": "hl7", "prefix": "encounter_class_", "yaml": "class"},
    )
    status: str = "finished"
    start: Time | None = None
    end: Time | None = None
    length: Duration | None = None
    reasons: tuple[str, ...] = item_keys("condition", "finding")
    diagnoses: tuple[EncounterDiagnosis, ...] = ()
    discharge: str | None = term_key("hl7", prefix="discharge_")
    part_of: str | None = item_key("encounter")
    description: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Condition:
    """A diagnosis: confirmed, provisional, differential or refuted (ruled out)."""

    key: str
    concept: str = term_key("conditions")
    clinical_status: str | None = term_key("hl7", prefix="clinical_")
    verification: str = term_key("hl7", prefix="verification_", default="confirmed")
    category: str | None = term_key("hl7", prefix="category_")
    severity: str | None = term_key("qualifiers", prefix="severity_")
    diagnosed: Time | None = None
    onset: Time | None = None
    abatement: Time | None = None
    body_sites: tuple[BodySite, ...] = ()
    due_to: tuple[str, ...] = item_keys("condition", "medication", "procedure")
    associated_with: tuple[str, ...] = item_keys("condition")
    evidence: tuple[str, ...] = item_keys(
        "finding", "lab", "imaging", "pathology", "procedure", "social_history"
    )
    encounter: str | None = item_key("encounter")
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A clinical, imaging or pathology finding (becomes an Observation); ``present: false``
    records its documented absence."""

    key: str
    concept: str = term_key("findings")
    category: str = term_key("hl7", prefix="obs_category_", default="exam")
    description: str
    body_sites: tuple[BodySite, ...] = ()
    focus: str | None = item_key("condition")
    present: bool = True
    value: Quantity | None = None
    interpretation: str | None = term_key("qualifiers")
    time: Time | None = None
    encounter: str | None = item_key("encounter")
    specimen: str | None = item_key("specimen")


@dataclass(frozen=True, slots=True, kw_only=True)
class Lab:
    """A laboratory result with its interpretation and reference range."""

    key: str
    concept: str = term_key("labs")
    result: Result
    interpretation: str | None = term_key("qualifiers")
    reference_range: ReferenceRange | None = None
    date: Time | None = None
    description: str | None = None
    specimen: str | None = item_key("specimen")
    encounter: str | None = item_key("encounter")


@dataclass(frozen=True, slots=True, kw_only=True)
class Imaging:
    """An imaging study with its findings; one series per imaged region."""

    key: str
    modality: str = term_key("modalities")
    report_code: str = term_key("reports")
    findings: tuple[str, ...] = item_keys("finding")
    regions: tuple[BodySite, ...] = ()
    description: str | None = None
    conclusion: str | None = None
    conclusion_codes: tuple[str, ...] = term_keys("conditions")
    status: str = "unknown"
    date: Time | None = None
    techniques: tuple[str, ...] = term_keys("procedures")
    encounter: str | None = item_key("encounter")


@dataclass(frozen=True, slots=True, kw_only=True)
class Pathology:
    """A pathology examination of specimens, with its findings."""

    key: str
    report_code: str = term_key("reports")
    findings: tuple[str, ...] = item_keys("finding")
    specimen_site: str | None = term_key("body_sites")
    specimens: tuple[str, ...] = item_keys("specimen")
    conclusion: str | None = None
    conclusion_codes: tuple[str, ...] = term_keys("conditions")
    date: Time | None = None
    encounter: str | None = item_key("encounter")


@dataclass(frozen=True, slots=True, kw_only=True)
class Procedure:
    """A procedure performed on the patient (biopsy, endoscopy, surgery, lithotripsy...)."""

    key: str
    concept: str = term_key("procedures")
    status: str = "completed"
    body_sites: tuple[BodySite, ...] = ()
    time: Time | None = None
    reasons: tuple[str, ...] = item_keys("condition", "finding")
    outcome: str | None = term_key("qualifiers")
    complications: tuple[str, ...] = item_keys("condition")
    part_of: str | None = item_key("procedure")
    reports: tuple[str, ...] = item_keys("imaging", "pathology")
    encounter: str | None = item_key("encounter")
    description: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Specimen:
    """A specimen taken from the patient."""

    key: str
    type: str = term_key("specimen_types")
    site: BodySite | None = None
    collected: Time | None = None
    procedure: str | None = item_key("procedure")
    quantity: Quantity | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    """One regimen of a medication course whose dose changed."""

    dose: Quantity | None = None
    daily_dose: Quantity | None = None
    frequency: Frequency | None = None
    route: str | None = term_key("routes")
    start: Time | None = None
    end: Time | None = None
    duration: Duration | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Medication:
    """A medication the patient took, with what is known of its dosage and course."""

    key: str
    concept: str = term_key("medications")
    status: str
    route: str | None = term_key("routes")
    dose: Quantity | None = None
    daily_dose: Quantity | None = None
    frequency: Frequency | None = None
    duration: Duration | None = None
    reasons: tuple[str, ...] = item_keys("condition", "finding")
    description: str | None = None
    start: Time | None = None
    end: Time | None = None
    phases: tuple[Phase, ...] = ()
    stopped_due_to: tuple[str, ...] = item_keys("condition", "finding")
    encounter: str | None = item_key("encounter")


@dataclass(frozen=True, slots=True, kw_only=True)
class Reaction:
    """One adverse reaction: what it looked like, how severe, when it began."""

    manifestations: tuple[str, ...] = item_keys("condition", "finding")
    severity: str | None = None  # mild | moderate | severe
    onset: Time | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Allergy:
    """An allergy or intolerance (adverse drug reaction) to a medication."""

    key: str
    medication: str | None = item_key("medication")
    concept: str | None = term_key("medications")
    type: str | None = None  # allergy | intolerance
    category: str = "medication"
    criticality: str | None = None  # low | high | unable-to-assess
    clinical_status: str = term_key("hl7", prefix="allergy_clinical_", default="active")
    verification: str = term_key("hl7", prefix="allergy_verification_", default="confirmed")
    onset: Time | None = None
    reactions: tuple[Reaction, ...] = ()
    encounter: str | None = item_key("encounter")
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SocialHistory:
    """A social-history observation such as smoking status."""

    key: str
    concept: str = term_key("social_history")
    result: Result
    time: Time | None = None
    description: str | None = None
    encounter: str | None = item_key("encounter")


@dataclass(frozen=True)
class Case:
    """A whole case: the patient and every fact about them, as read from one case file."""

    id: str
    title: str
    patient: Patient
    summary: str | None = None
    source: dict[str, str] = field(default_factory=dict)
    encounters: tuple[Encounter, ...] = ()
    conditions: tuple[Condition, ...] = ()
    findings: tuple[Finding, ...] = ()
    labs: tuple[Lab, ...] = ()
    imaging: tuple[Imaging, ...] = ()
    pathology: tuple[Pathology, ...] = ()
    procedures: tuple[Procedure, ...] = ()
    specimens: tuple[Specimen, ...] = ()
    medications: tuple[Medication, ...] = ()
    allergies: tuple[Allergy, ...] = ()
    social_history: tuple[SocialHistory, ...] = ()
    path: str | None = None
    #: The format version the file was written in (1 or 2).
    version: int = 2

    def items(self) -> Iterator[tuple[str, int, Any]]:
        """Every keyed item: (section, index, item), sections in :data:`SECTIONS` order."""
        for section in SECTIONS:
            for i, item in enumerate(getattr(self, section)):
                yield section, i, item

    def _index(self) -> dict[str, tuple[str, Any]]:
        index: dict[str, tuple[str, Any]] | None = self.__dict__.get("_by_key")
        if index is None:
            index = {item.key: (SECTIONS[s], item) for s, _, item in self.items()}
            object.__setattr__(self, "_by_key", index)
        return index

    def item(self, key: str) -> Any:
        """The item with ``key`` (any section); KeyError when there is none."""
        return self._index()[key][1]

    def kind(self, key: str) -> str:
        """The kind of item ``key`` names (``condition``, ``medication``...); KeyError if none."""
        return self._index()[key][0]

    def condition(self, key: str) -> Condition:
        """The condition with ``key``."""
        return next(c for c in self.conditions if c.key == key)

    def finding(self, key: str) -> Finding:
        """The finding with ``key``."""
        return next(f for f in self.findings if f.key == key)
