"""Case times -> FHIR: exact where the source is exact, text or an age where it is not.

A :class:`~fhir_adapter.case.Time` maps to at most three things (:class:`When`):

- ``date``: a FHIR dateTime, only when it is exact (:func:`fhir_adapter.case.dates.exact_date`:
  a stated, non-approximate date, or one that follows exactly from another item's exact date).
- ``extension``: the R4 core extension ``relative-date`` (event = the anchor's resource,
  relationship = before/after its start/end, offset = an exact Duration), put on the
  dateTime element (``_onsetDateTime``) with or without a value;
- ``text``: what the source says, in words ("about 6 month before the start of emergency
  encounter"), used where the element takes a string (``onsetString``) and in narratives and
  notes elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fhir_adapter.case import ANCHORS, Age, Time
from fhir_adapter.case.dates import exact_date

if TYPE_CHECKING:
    from fhir_adapter.mappers.context import MappingContext

RELATIVE_DATE = "http://hl7.org/fhir/StructureDefinition/relative-date"
UCUM = "http://unitsofmeasure.org"


@dataclass(frozen=True)
class When:
    """What a case time becomes: an exact dateTime, a relative-date extension, an age, text."""

    text: str
    date: str | None = None
    extension: dict[str, Any] | None = None
    age: Age | None = None

    def date_element(self, name: str) -> dict[str, Any]:
        """``{name: date, _name: {extension}}`` with the parts that exist (may be empty)."""
        out: dict[str, Any] = {}
        if self.date:
            out[name] = self.date
        if self.extension:
            out[f"_{name}"] = {"extension": [self.extension]}
        return out

    @property
    def structured(self) -> bool:
        """Whether FHIR holds it as data (a dateTime or a relative-date extension)."""
        return bool(self.date or self.extension)


def date_text(t: Time) -> str:
    """A calendar-date time as text: '2000', 'about 2010 (description)'."""
    text = f"about {t.date}" if t.approximate else str(t.date)
    return f"{text} ({t.description})" if t.description else text


def when(ctx: MappingContext, t: Time, own: str | None = None) -> When:
    """What case time ``t`` becomes in FHIR; ``own`` is the key of the item whose resource will
    hold it (a time relative to that same item names the event in words, not by a reference
    the resource would make to itself)."""
    if t.date is not None:
        return When(date_text(t), None if t.approximate else t.date)
    if t.age is not None:
        text = f"at {'about ' if t.approximate else ''}age {ctx.age_text(t.age)}"
        return When(_described(text, t), age=t.age)
    return When(
        _described(_relative_text(ctx, t), t), exact_date(ctx.case, t), _extension(ctx, t, own)
    )


def choice(ctx: MappingContext, t: Time, prefix: str, own: str | None = None) -> dict[str, Any]:
    """A ``<prefix>[x]`` element of types dateTime | Age | Range | string (Condition.onset,
    abatement, Procedure.performed, AllergyIntolerance.onset)."""
    w = when(ctx, t, own)
    if w.structured:
        return w.date_element(f"{prefix}DateTime")
    if w.age is not None and not t.approximate:
        return ctx.age_value(w.age, prefix)
    return {f"{prefix}String": w.text}


def period(
    ctx: MappingContext, start: Time | None, end: Time | None, own: str | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """A Period of the ends FHIR can hold (empty when neither), and the words of the ends it
    cannot hold as a date ({"start": "about 2010"}), for a note."""
    out: dict[str, Any] = {}
    words: dict[str, str] = {}
    for name, t in (("start", start), ("end", end)):
        if t is not None:
            w = when(ctx, t, own)
            out.update(w.date_element(name))
            if not w.date:
                words[name] = w.text
    return out, words


def _described(text: str, t: Time) -> str:
    return f"{text} ({t.description})" if t.description else text


def _offset_text(ctx: MappingContext, t: Time) -> str:
    o = t.offset
    assert o is not None
    unit = ctx.unit_text(o.unit, o.value)
    if o.value is not None:
        amount = f"{o.value:g} {unit}"
    elif o.low is not None and o.high is not None:
        amount = f"{o.low:g} to {o.high:g} {unit}"
    elif o.low is not None:
        amount = f"at least {o.low:g} {unit}"
    else:
        amount = f"less than {o.high:g} {unit}"
    return f"about {amount}" if o.approximate else amount


def _relative_text(ctx: MappingContext, t: Time) -> str:
    assert t.relative_to is not None
    point = "the end of " if t.anchor == "end" else ""
    if t.anchor == "start" and ANCHORS[ctx.case.kind(t.relative_to)].get("end"):
        point = "the start of "
    target = f"{point}{ctx.label(t.relative_to)}"
    if t.direction == "during":
        return f"during {ctx.label(t.relative_to)}"
    if t.direction == "at":
        return f"at {target}"
    if t.offset is None:
        return f"{t.direction} {target}"
    return f"{_offset_text(ctx, t)} {t.direction} {target}"


def _exact_offset(t: Time) -> bool:
    o = t.offset
    return o is not None and o.value is not None and not o.approximate


def _extension(ctx: MappingContext, t: Time, own: str | None) -> dict[str, Any] | None:
    """The relative-date extension, for a time before or after another item by an exact offset."""
    if t.direction not in ("before", "after") or not _exact_offset(t):
        return None
    assert t.offset is not None and t.relative_to is not None
    o = t.offset
    if t.relative_to == own:
        event: dict[str, Any] = {
            "valueCodeableConcept": {"text": f"the {t.anchor} of this {ctx.label(own)} record"}
        }
    else:
        event = {"valueReference": ctx.ref(t.relative_to)}
    return {
        "url": RELATIVE_DATE,
        "extension": [
            {"url": "event", **event},
            {"url": "relationship", "valueCode": f"{t.direction}-{t.anchor}"},
            {
                "url": "offset",
                "valueDuration": {
                    "value": o.value,
                    "unit": ctx.term.concept("units", o.unit).text,
                    "system": UCUM,
                    "code": o.unit,
                },
            },
        ],
    }
