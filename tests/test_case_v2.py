"""Format /2: every new part loads into the model; every contradiction is named with line and fix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fhir_adapter.case import BodySite, load_case, parse_case
from fhir_adapter.errors import CaseError

FULL = (Path(__file__).with_name("data") / "all-parts.case.yaml").read_text(encoding="utf-8")


def test_every_part_of_format_2_loads(write_case: Callable[..., Path]) -> None:
    case = load_case(write_case(FULL))
    assert case.version == 2
    assert case.patient.age is not None and (case.patient.age.low, case.patient.age.high) == (
        60,
        69,
    )
    ed, stay = case.encounters
    assert (ed.class_, stay.part_of, stay.length and stay.length.value) == ("emergency", "ed", 9)
    assert stay.diagnoses[0].condition == "sle" and stay.diagnoses[1].role == "admission"
    sle, refuted, differential = case.conditions
    assert sle.body_sites == (BodySite(site="knee", laterality="left"), BodySite(site="thigh"))
    assert sle.onset is not None and sle.onset.offset is not None
    assert (sle.onset.relative_to, sle.onset.direction, sle.onset.offset.approximate) == (
        "ed",
        "before",
        True,
    )
    # differential and refuted diagnoses get no invented clinical status (nor category)
    assert (refuted.clinical_status, refuted.category) == (None, None)
    assert (differential.clinical_status, differential.category) == (None, None)
    assert sle.clinical_status == "active" and sle.category == "problem-list-item"
    ulcer, no_plaques = case.findings
    assert ulcer.value is not None and ulcer.value.value == 2 and not no_plaques.present
    (lab,) = case.labs
    assert lab.result.value == -4.5 and lab.reference_range is not None
    assert lab.reference_range.low == -2
    (med,) = case.medications
    assert [p.daily_dose.value for p in med.phases if p.daily_dose] == [60, 40]
    (allergy,) = case.allergies
    assert allergy.reactions[0].manifestations == ("ulcer",)
    assert case.social_history[0].result.qualitative == "absent"
    assert case.kind("skin") == "specimen" and case.item("skin_biopsy").concept == "biopsy"


def test_format_1_files_keep_format_1_defaults() -> None:
    text = (
        FULL.split("encounters:")[0]
        .replace("/2", "/1")
        .replace(
            "source: {kind: made-up test case, doi: 10.1000/xyz123, url: https://example.org/case}\n",
            "",
        )
    )
    text = text.replace(
        "{low: 60, high: 69, unit: a, context: at admission}", "{value: 61, unit: a}"
    )
    text += (
        "conditions:\n  - key: d\n    concept: lupus_panniculitis\n    verification: differential\n"
    )
    case = parse_case(text)
    assert case.version == 1
    (c,) = case.conditions
    assert (c.clinical_status, c.category) == ("active", "problem-list-item")


def _problems(text: str) -> list[tuple[int | None, str | None, str]]:
    with pytest.raises(CaseError) as info:
        parse_case(text, source="c.yaml")
    for p in info.value.problems:
        assert p.fix, f"no fix for {p}"
        assert p.file == "c.yaml"
    return [(p.line, p.field, p.message) for p in info.value.problems]


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        # references
        (
            "reasons: [ulcer]",
            "reasons: [nope]",
            "encounters[0].reasons[0]",
            "not a condition or finding key",
        ),
        (
            "due_to: [pred]",
            "due_to: [ed]",
            "conditions[0].due_to[0]",
            "not a condition, medication or procedure key",
        ),
        (
            "{relative_to: ed, direction: at}",
            "{relative_to: edx, direction: at}",
            "encounters[1].start.relative_to",
            "not an allergy, condition",
        ),
        (
            "specimens: [skin]",
            "specimens: [histo]",
            "pathology[0].specimens[0]",
            "not a specimen key",
        ),
        # concepts, laterality and units
        (
            "laterality: left}, thigh]",
            "laterality: left}, thighs]",
            "conditions[0].body_sites[1]",
            "'thighs' is not in table 'body_sites'",
        ),
        (
            "{value: 2, unit: cm}",
            "{value: 2, unit: cms}",
            "findings[0].value.unit",
            "not in table 'units'",
        ),
        (
            "concept: biopsy",
            "concept: biopsy_x",
            "procedures[0].concept",
            "not in table 'procedures'",
        ),
        (
            "[{site: knee, laterality: left}, thigh]",
            "[{site: knee, laterality: up}]",
            "conditions[0].body_sites[0].laterality",
            "'up' is not allowed",
        ),
        # times
        (
            "{date: 2021-03-02}\n    reasons",
            "{date: 2021-02-30}\n    reasons",
            "encounters[0].start.date",
            "not a possible date",
        ),
        (
            "{relative_to: ed, direction: at}",
            "{relative_to: ed}",
            "encounters[1].start",
            "needs 'direction'",
        ),
        (
            "{relative_to: ed, direction: at}",
            "{date: 2021, direction: at}",
            "encounters[1].start.direction",
            "'direction' needs 'relative_to'",
        ),
        (
            "{relative_to: ed, direction: at}",
            "{relative_to: ed, direction: at, offset: {value: 1, unit: d}}",
            "encounters[1].start.offset",
            "offset makes no sense",
        ),
        (
            "{relative_to: ed, direction: at}",
            "{relative_to: stay, direction: at}",
            "encounters[1].start.relative_to",
            "relative to itself",
        ),
        (
            "{relative_to: ed, direction: at}",
            "{relative_to: ed, date: 2021, direction: at}",
            "encounters[1].start",
            "only one of: date, relative_to",
        ),
        (
            "start: {date: 2021-03-02}",
            "start: {relative_to: stay, direction: before, offset: {value: 1, unit: d}}",
            "encounters[0].start.relative_to",
            "in a loop: ed (start) -> stay (start) -> ed (start)",
        ),
        (
            "{value: 6, unit: mo, approximate: true}",
            "{value: 6, low: 5, unit: mo}",
            "conditions[0].onset.offset",
            "value, or low/high, not both",
        ),
        (
            "collected: {relative_to: skin_biopsy, direction: at}",
            "collected: {relative_to: skin_biopsy, anchor: end, direction: at}",
            "specimens[0].collected.anchor",
            "which has no end time",
        ),
        # combinations
        (
            "    phases:\n",
            "    daily_dose: {value: 1, unit: mg/d}\n    phases:\n",
            "medications[0].daily_dose",
            "'daily_dose' and 'phases' are both given",
        ),
        (
            "    medication: pred\n",
            "    concept: prednisolone\n    medication: pred\n",
            "allergies[0].concept",
            "both medication and concept",
        ),
        (
            "{manifestations: [ulcer], severity: moderate}",
            "{manifestations: [], severity: moderate}",
            "allergies[0].reactions[0].manifestations",
            "at least one manifestation",
        ),
        (
            "    present: false\n",
            "    present: false\n    value: {value: 1, unit: cm}\n",
            "findings[1].present",
            "absent finding cannot have a value",
        ),
        (
            "reference_range: {low: -2, high: 2}",
            "reference_range: {low: 2, high: -2}",
            "labs[0].reference_range.low",
            "low 2 is above high -2",
        ),
        (
            "    verification: refuted\n",
            "    verification: refuted\n    category: problem-list-item\n",
            "conditions[1]",
            "needs a clinical status",
        ),
        ("    part_of: ed\n", "    part_of: stay\n", "encounters[1].part_of", "part of itself"),
        (  # R4 con-4
            "    onset: {relative_to: ed, direction: before",
            "    clinical_status: active\n    abatement: {date: 2021-06}\n"
            "    onset: {relative_to: ed, direction: before",
            "conditions[0].clinical_status",
            "clinical_status 'active' contradicts 'abatement'",
        ),
        # an end before its start (R4 per-1), stated or computed from relative times
        (
            "    reasons: [ulcer]\n",
            "    end: {date: 2021-03-01}\n    reasons: [ulcer]\n",
            "encounters[0].end",
            "end 2021-03-01 is before start 2021-03-02",
        ),
        (
            "    phases:\n      - {daily_dose: {value: 60",
            "    end: {relative_to: ed, direction: before, offset: {value: 2, unit: mo}}\n"
            "    phases:\n      - {daily_dose: {value: 60",
            "medications[0].end",
            "end 2021-01 is before start 2021-02",
        ),
        (
            "    onset: {relative_to: ed, direction: before, offset: {value: 6, unit: mo, approximate: true}}",
            "    abatement: {date: 2020-12}\n    clinical_status: resolved\n    onset: {date: 2021-01}",
            "conditions[0].abatement",
            "abatement 2020-12 is before onset 2021-01",
        ),
        # schema
        ("class: emergency", "class: er", "encounters[0].class", "'er' is not allowed"),
        ("status: available", "status: done", "imaging[0].status", "'done' is not allowed"),
        (
            "{low: 60, high: 69, unit: a, context: at admission}",
            "{unit: a}",
            "patient.age",
            "needs one of: value, low, high",
        ),
        (
            "{relative_to: ed, direction: at}",
            "{description: soon}",
            "encounters[1].start",
            "needs one of: date, age, relative_to",
        ),
        ("doi: 10.1000/xyz123", "doi: xyz", "source.doi", "wrong form"),
    ],
)
def test_each_format_2_problem_is_named(old: str, new: str, field: str, words: str) -> None:
    assert old in FULL, old
    text = FULL.replace(old, new, 1)
    problems = _problems(text)
    hit = [p for p in problems if p[1] == field]
    assert hit, problems
    assert words in hit[0][2], problems
    # the line is the one holding the changed text
    expected = FULL[: FULL.index(old)].count("\n") + 1
    if field == "conditions[1]":  # a missing field: the item's own line
        expected = FULL[: FULL.index("key: infection_ruled_out")].count("\n") + 1
    assert hit[0][0] == expected, (hit, expected)


def test_negative_and_zero_results_are_values_in_format_2() -> None:
    text = FULL.replace("{value: -4.5, unit: mmol/L}", "{value: 0, unit: mmol/L}")
    assert parse_case(text).labs[0].result.value == 0


def test_an_abated_condition_with_no_stated_status_is_inactive() -> None:
    """Abatement implies the condition is no longer active (R4 con-4): with no clinical status
    stated it gets inactive (resolved and remission are kinds of it), never the active
    default; the bundle is valid."""
    from fhir_adapter import convert
    from fhir_adapter.validation import validate

    text = FULL.replace(
        "    verification: differential\n",
        "    verification: differential\n    abatement: {date: 2021-06}\n",
    ).replace("  - key: sle\n", "  - key: sle\n    abatement: {date: 2021-06}\n")
    case = parse_case(text)
    assert [(c.key, c.clinical_status) for c in case.conditions] == [
        ("sle", "inactive"),
        ("infection_ruled_out", None),
        ("maybe", "inactive"),
    ]
    assert validate(convert(case)).ok


@pytest.mark.parametrize(
    ("later", "earlier", "expected"),
    [
        ("2021-03-01", "2021-03-02", True),
        ("2021-02", "2021-03-05", True),
        ("2020", "2021-03", True),
        ("2021-03", "2021", False),  # same year: the precision they share does not order them
        ("2021-03-05", "2021-03", False),
        ("2021-03-02", "2021-03-02", False),
    ],
)
def test_dates_are_compared_at_the_precision_they_share(
    later: str, earlier: str, expected: bool
) -> None:
    from fhir_adapter.case.dates import before

    assert before(later, earlier) is expected
