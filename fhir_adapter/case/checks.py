"""What the schema cannot say: keys that must exist, concepts the tables must hold, real dates,
consistent times, and combinations of fields that contradict each other.

Reference and concept checks are driven by the model's field declarations
(:func:`fhir_adapter.case.model.walk`); the rest are one small function per rule, each reporting
through ``report(path, message, fix)``. Every problem of a file is reported in one run.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable, Iterator
from dataclasses import fields, is_dataclass
from typing import Any

from fhir_adapter.case.dates import before, exact_date
from fhir_adapter.case.model import (
    ANCHORS,
    SECTIONS,
    BodySite,
    Case,
    Medication,
    Phase,
    Time,
    table_key,
    walk,
)
from fhir_adapter.case.source import Lines, problem
from fhir_adapter.codesystems import DICOM, SNOMED
from fhir_adapter.errors import CaseError, InputError
from fhir_adapter.terminology import Terminology

Report = Callable[[tuple[Any, ...], str, str], None]

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATE_FIX = "write a real date, e.g. 2010 or 2010-03-14"
#: The clinical statuses R4 con-4 allows a condition with an abatement.
ABATED_STATUSES = ("inactive", "remission", "resolved")


def check_case(
    case: Case,
    lines: Lines,
    source: str,
    term: Terminology,
    known: dict[str, str] | None = None,
) -> None:
    """Raise one CaseError listing every problem of ``case`` (none: return). ``known``: keys
    (-> kinds) of items the file holds but the model left out (they failed the schema), so that
    references to them are not reported again."""
    problems: list[InputError] = []

    def report(path: tuple[Any, ...], message: str, fix: str) -> None:
        problems.append(problem(lines, source, path, message, fix))

    kinds = {**(known or {}), **_check_keys(case, report)}
    for section, i, item in case.items():
        for path, value, meta in walk(item, (section, i)):
            if "ref" in meta:
                _check_ref(path, value, meta["ref"], kinds, report)
            else:
                _check_concept(path, table_key(meta, value), meta["table"], term, report)
    if case.patient.age:
        _check_concept(("patient", "age", "unit"), case.patient.age.unit, "units", term, report)
    for rule in RULES:
        rule(case, term, report)
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        raise CaseError.collect(problems)


def _check_keys(case: Case, report: Report) -> dict[str, str]:
    kinds: dict[str, str] = {}
    for section, i, item in case.items():
        if item.key in kinds:
            report(
                (section, i, "key"), f"key {item.key!r} is used twice", "give each item its own key"
            )
        kinds[item.key] = SECTIONS[section]
    return kinds


def _a(kinds: frozenset[str]) -> str:
    names = sorted(k.replace("_", " ") for k in kinds)
    listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
    return f"{'an' if listed[0] in 'aeiou' else 'a'} {listed} key"


def _check_ref(
    path: tuple[Any, ...], key: str, allowed: frozenset[str], kinds: dict[str, str], report: Report
) -> None:
    if kinds.get(key) in allowed:
        return
    known = sorted(k for k, v in kinds.items() if v in allowed)
    report(
        path,
        f"{key!r} is not {_a(allowed)} of this case",
        f"use one of: {', '.join(known) or '(none yet)'}",
    )


def _check_concept(
    path: tuple[Any, ...], key: str, table: str, term: Terminology, report: Report
) -> None:
    if not term.has(table, key):
        report(path, *term.missing(table, key))


def instances(
    obj: Any, cls: type, path: tuple[Any, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every instance of ``cls`` below ``obj`` with its case-file path."""
    for f in fields(obj):
        value = getattr(obj, f.name)
        p = (*path, f.metadata.get("yaml", f.name))
        values = enumerate(value) if isinstance(value, tuple) else [(None, value)]
        for i, v in values:
            q = p if i is None else (*p, i)
            if isinstance(v, cls):
                yield q, v
            if is_dataclass(v):
                yield from instances(v, cls, q)


def _all(case: Case, cls: type) -> Iterator[tuple[tuple[Any, ...], Any]]:
    for section, i, item in case.items():
        yield from instances(item, cls, (section, i))


# --------------------------------------------------------------------------- rules


def date_problem(date: str) -> str | None:
    """Why ``date`` is not a plausible YYYY, YYYY-MM or YYYY-MM-DD date (None if it is)."""
    m = _DATE_RE.match(date)
    if not m:
        return f"{date!r} is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD"
    year, month, day = (int(g) if g else None for g in m.groups())
    try:
        _dt.date(year or 1, month or 1, day or 1)
    except ValueError:
        return f"{date!r} is not a possible date"
    if (year or 0) < 1800 or date > _dt.date.today().isoformat()[: len(date)]:
        return f"{date!r} is outside the plausible range (1800 to today)"
    return None


def _times(case: Case, term: Terminology, report: Report) -> None:
    kinds = _kinds(case)
    for path, t in _all(case, Time):
        given = [name for name in ("date", "age", "relative_to") if getattr(t, name) is not None]
        if len(given) > 1:
            report(path, f"give only one of: {', '.join(given)}", "keep the one the source states")
        if t.date is not None and (why := date_problem(t.date)):
            report((*path, "date"), why, _DATE_FIX)
        if t.relative_to is None:
            for name, default in (("direction", None), ("offset", None), ("anchor", "start")):
                if getattr(t, name) != default:
                    report(
                        (*path, name),
                        f"'{name}' needs 'relative_to'",
                        "add relative_to: <key> or remove it",
                    )
            continue
        if t.direction is None:
            report(
                path,
                "a relative time needs 'direction'",
                "add direction: before, after, at or during",
            )
        if t.approximate:
            report(
                (*path, "approximate"),
                "'approximate' of a relative time belongs on its offset",
                "write offset: {value: ..., unit: ..., approximate: true}",
            )
        if t.offset and t.direction in ("at", "during"):
            report(
                (*path, "offset"),
                f"an offset makes no sense with direction {t.direction!r}",
                "use before or after, or remove the offset",
            )
        if t.offset:
            _offset(path, t, report)
        target = kinds.get(t.relative_to)
        if target and t.anchor not in ANCHORS[target]:
            report(
                (*path, "anchor"),
                f"{t.relative_to!r} is a {target.replace('_', ' ')}, which has no {t.anchor} time",
                "use anchor: start",
            )
    _cycles(case, kinds, report)


def _order(case: Case, term: Terminology, report: Report) -> None:
    """An end that the case dates before its start (R4 per-1 refuses such a Period; a condition
    cannot abate before its onset)."""
    spans: list[tuple[tuple[Any, ...], Any, str, str]] = []
    for section, i, item in case.items():
        names = ANCHORS[SECTIONS[section]]
        if "end" in names:
            spans.append(((section, i), item, names["start"], names["end"]))
    for i, m in enumerate(case.medications):
        spans += [
            (("medications", i, "phases", j), ph, "start", "end") for j, ph in enumerate(m.phases)
        ]
    for path, obj, start_name, end_name in spans:
        start, end = getattr(obj, start_name), getattr(obj, end_name)
        if start is None or end is None:
            continue
        first, last = exact_date(case, start), exact_date(case, end)
        if first and last and before(last, first):
            report(
                (*path, end_name),
                f"{end_name} {last} is before {start_name} {first}",
                f"correct the {start_name} or the {end_name} to the dates the source gives",
            )


def _kinds(case: Case) -> dict[str, str]:
    return {item.key: SECTIONS[section] for section, _, item in case.items()}


def _offset(path: tuple[Any, ...], t: Time, report: Report) -> None:
    o = t.offset
    assert o is not None
    if o.value is not None and (o.low is not None or o.high is not None):
        report(
            (*path, "offset"),
            "give value, or low/high, not both",
            "keep the form the source states",
        )
    if o.low is not None and o.high is not None and o.low > o.high:
        report((*path, "offset", "low"), f"low {o.low:g} is above high {o.high:g}", "swap them")


def _defines(t: Time) -> bool:
    """Whether a relative time fixes a point (``at``, or an exact offset before or after), as
    opposed to only ordering it ("after the visit", "about a week before")."""
    if t.direction == "at":
        return True
    o = t.offset
    return (
        t.direction in ("before", "after")
        and o is not None
        and o.value is not None
        and not o.approximate
    )


def _cycles(case: Case, kinds: dict[str, str], report: Report) -> None:
    """Start/end times defined through each other in a loop, or through themselves (times that
    only order, "after the visit", may point either way)."""
    edges: dict[tuple[str, str], tuple[str, str]] = {}
    where: dict[tuple[str, str], tuple[Any, ...]] = {}
    for section, i, item in case.items():
        for point, name in ANCHORS[SECTIONS[section]].items():
            t = getattr(item, name)
            if isinstance(t, Time) and t.relative_to in kinds and _defines(t):
                node = (item.key, point)
                edges[node] = (t.relative_to, t.anchor)
                where[node] = (section, i, name, "relative_to")
    reported: set[tuple[str, str]] = set()
    for start in sorted(edges):
        trail = [start]
        node = edges[start]
        while node in edges and node not in trail:
            trail.append(node)
            node = edges[node]
        if node == start and len(trail) == 1:
            report(
                where[start],
                f"the {start[1]} of {start[0]!r} is defined relative to itself",
                "name another item, or the other end of this one",
            )
        elif node == start and not reported & set(trail):
            reported.update(trail)
            loop = " -> ".join(f"{k} ({p})" for k, p in [*trail, start])
            report(
                where[start],
                f"times defined through each other in a loop: {loop}",
                "anchor one of them on a date or on another item",
            )


def _regimen(path: tuple[Any, ...], m: Medication | Phase, report: Report) -> None:
    if m.dose and m.daily_dose:
        report(
            (*path, "daily_dose"),
            "both dose and daily_dose are given",
            "keep one: dose (with frequency) or daily_dose",
        )
    if m.frequency and not m.dose:
        report(
            (*path, "frequency"), "frequency without a dose", "add 'dose:' or remove 'frequency:'"
        )


def _medications(case: Case, term: Terminology, report: Report) -> None:
    for i, m in enumerate(case.medications):
        path = ("medications", i)
        _regimen(path, m, report)
        if m.phases:
            for name in ("dose", "daily_dose", "frequency", "duration"):
                if getattr(m, name) is not None:
                    report(
                        (*path, name),
                        f"'{name}' and 'phases' are both given",
                        f"move '{name}' into the first phase",
                    )
            for j, ph in enumerate(m.phases):
                _regimen((*path, "phases", j), ph, report)


def _imaging(case: Case, term: Terminology, report: Report) -> None:
    for i, im in enumerate(case.imaging):
        if term.has("modalities", im.modality) and not _coded(
            term, "modalities", im.modality, DICOM
        ):
            report(
                ("imaging", i, "modality"),
                f"modality {im.modality!r} has no DICOM code in mappings/modalities.yaml, and ImagingStudy.modality needs one",
                "use a modality with a verified DICOM code, or add one to the table",
            )
        for j, r in enumerate(im.regions):
            if term.has("body_sites", r.site) and not _coded(term, "body_sites", r.site, SNOMED):
                report(
                    ("imaging", i, "regions", j),
                    f"body site {r.site!r} has no SNOMED CT code, and an imaging series needs a coded body site",
                    "name a coded body site of mappings/body_sites.yaml, or describe the region in 'description'",
                )


def _coded(term: Terminology, table: str, key: str, system: str) -> bool:
    return any(c.system == system for c in term.concept(table, key).codings)


def _interpretations(case: Case, term: Terminology, report: Report) -> None:
    items: list[tuple[str, int, Any]] = [("labs", i, x) for i, x in enumerate(case.labs)]
    items += [("findings", i, x) for i, x in enumerate(case.findings)]
    for section, i, x in items:
        if x.interpretation and not x.interpretation.startswith("interpretation_"):
            report(
                (section, i, "interpretation"),
                f"{x.interpretation!r} is not an interpretation",
                "use an interpretation_* key of mappings/qualifiers.yaml",
            )


def _results(case: Case, term: Terminology, report: Report) -> None:
    for i, lab in enumerate(case.labs):
        rr = lab.reference_range
        if rr and lab.result.quantity is None and (rr.low is not None or rr.high is not None):
            report(
                ("labs", i, "reference_range"),
                "a numeric reference range for a qualitative result",
                "give the range as text, or the result as value and unit",
            )
        if rr and rr.low is not None and rr.high is not None and rr.low > rr.high:
            report(
                ("labs", i, "reference_range", "low"),
                f"low {rr.low:g} is above high {rr.high:g}",
                "swap them",
            )
    for i, f in enumerate(case.findings):
        if not f.present and (f.value or f.interpretation):
            report(
                ("findings", i, "present"),
                "an absent finding cannot have a value or interpretation",
                "remove 'present: false', or the value",
            )


def _conditions(case: Case, term: Terminology, report: Report) -> None:
    for i, c in enumerate(case.conditions):
        if c.category and c.clinical_status is None:
            report(
                ("conditions", i, "clinical_status"),
                "a condition with a category needs a clinical status (R4 con-3 as published asks"
                " every categorised Condition for one)",
                "add the clinical_status the source states, or leave out the category",
            )
        if c.abatement is not None and c.clinical_status not in ABATED_STATUSES:
            report(
                ("conditions", i, "clinical_status"),
                f"clinical_status {c.clinical_status!r} contradicts 'abatement': a condition that"
                " abated is inactive, in remission or resolved (R4 con-4)",
                "set clinical_status to inactive, remission or resolved (leave it out: inactive),"
                " or remove 'abatement' if the condition is still active",
            )
        if c.key in c.due_to:
            report(
                ("conditions", i, "due_to"),
                "a condition cannot be due to itself",
                "remove its own key",
            )


def _allergies(case: Case, term: Terminology, report: Report) -> None:
    for i, a in enumerate(case.allergies):
        if a.medication and a.concept:
            report(
                ("allergies", i, "concept"),
                "both medication and concept are given",
                "keep medication (the case's drug) or concept, not both",
            )
        for j, r in enumerate(a.reactions):
            if not r.manifestations:
                report(
                    ("allergies", i, "reactions", j, "manifestations"),
                    "a reaction needs at least one manifestation",
                    "name the condition or finding it showed as",
                )


def _self_links(case: Case, term: Terminology, report: Report) -> None:
    for section in ("encounters", "procedures"):
        for i, x in enumerate(getattr(case, section)):
            if x.part_of == x.key:
                report(
                    (section, i, "part_of"), "an item cannot be part of itself", "name another item"
                )


#: The checks beyond references and concepts, in the order they run.
def _source_date(case: Case, term: Terminology, report: Report) -> None:
    date = (case.source or {}).get("date")
    if date is not None and (why := date_problem(str(date))):
        report(("source", "date"), why, _DATE_FIX)


RULES: tuple[Callable[[Case, Terminology, Report], None], ...] = (
    _source_date,
    _times,
    _order,
    _medications,
    _imaging,
    _interpretations,
    _results,
    _conditions,
    _allergies,
    _self_links,
)

__all__ = ["BodySite", "check_case", "date_problem", "instances"]
