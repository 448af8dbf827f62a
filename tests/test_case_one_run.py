"""Every problem of a case file in one run, each once, as ``file:line:col: field: message (fix)``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from fhir_adapter.case import load_case
from fhir_adapter.errors import CaseError

MANY = """\
format: fhir-adapter-case/2
id: bad-case
title: Many problems
colour: blue
patient:
  sex: femal
conditions:
  - key: cap
    concept: pnemonia
    clinical_stauts: active
    evidence: [crp, nothing_here]
  - key: cap
    concept: systemic_lupus_erythematosus
labs:
  - key: crp
    concept: c_reactive_protein
    result: {value: 85, unit: mg/day}
    date: {date: 2024-02-30}
medications:
  - key: amox
    concept: amoxicilin
    status: taking
    reasons: [cap]
  - key: amox2
    concept: amoxicillin
    status: active
    dose: {value: 500, unit: mg}
    dose: {value: 250, unit: mg}
"""

#: (line, column, field, words in the message, words in the fix)
EXPECTED = [
    (4, 1, "colour", "unknown key 'colour'", "remove it"),
    (6, 8, "patient.sex", "'femal' is not allowed", "did you mean 'female'"),
    (9, 14, "conditions[0].concept", "'pnemonia' is not in table 'conditions'", "concepts search"),
    (10, 5, "conditions[0].clinical_stauts", "unknown key", "did you mean 'clinical_status'?"),
    (11, 21, "conditions[0].evidence[1]", "'nothing_here' is not", "use one of: crp"),
    (12, 10, "conditions[1].key", "key 'cap' is used twice", "its own key"),
    (17, 31, "labs[0].result.unit", "'mg/day' is not in table 'units'", "did you mean 'mg/d'?"),
    (18, 18, "labs[0].date.date", "not a possible date", "real date"),
    (21, 14, "medications[0].concept", "'amoxicilin'", "did you mean 'amoxicillin'?"),
    (22, 13, "medications[0].status", "'taking' is not allowed", "use one of"),
    (28, 5, "medications[1].dose", "duplicate key 'dose' (first on line 27)", "keep one"),
]


def _problems(write_case: Callable[..., Path], text: str) -> tuple[Path, CaseError]:
    path = write_case(text)
    with pytest.raises(CaseError) as info:
        load_case(path)
    return path, info.value


def test_every_problem_in_one_run_each_once_in_file_order(write_case: Callable[..., Path]) -> None:
    path, err = _problems(write_case, MANY)
    got = [(p.line, p.column, p.field) for p in err.problems]
    assert got == [(line, col, field) for line, col, field, _, _ in EXPECTED], str(err)
    for p, (_, _, _, message, fix) in zip(err.problems, EXPECTED, strict=True):
        assert message in p.message and p.fix and fix in p.fix, str(p)
    text = str(err)
    assert text.startswith(f"{len(EXPECTED)} problems in {path}:")
    for p in err.problems:
        assert re.search(
            rf"^  {re.escape(str(path))}:{p.line}:{p.column}: {re.escape(p.field or '')}: "
            rf"{re.escape(p.message)} \(fix: ",
            text,
            re.M,
        )


def test_a_left_out_item_keeps_positions_and_its_key(write_case: Callable[..., Path]) -> None:
    """An item the schema rejects is left out of the checks of meaning: the items after it keep
    their positions and lines, and references to its key are not reported as dangling."""
    _, err = _problems(
        write_case,
        """\
format: fhir-adapter-case/2
id: left-out
title: Left out
patient: {sex: female}
conditions:
  - key: broken
    concept: [not, a, key]
  - key: second
    concept: no_such_condition
    associated_with: [broken]
""",
    )
    fields = [(p.line, p.field) for p in err.problems]
    assert fields == [(7, "conditions[0].concept"), (9, "conditions[1].concept")], str(err)
    assert "no_such_condition" in err.problems[1].message


def test_a_valid_file_still_loads(write_case: Callable[..., Path]) -> None:
    fixed = MANY.replace("colour: blue\n", "").replace("femal", "female")
    fixed = fixed.replace("    clinical_stauts: active\n", "").replace(", nothing_here", "")
    fixed = fixed.replace(
        "  - key: cap\n    concept: systemic", "  - key: sle\n    concept: systemic"
    )
    fixed = fixed.replace("pnemonia", "systemic_lupus_erythematosus").replace("mg/day", "mg/L")
    fixed = fixed.replace("2024-02-30", "2024-02-28").replace("amoxicilin", "amoxicillin")
    fixed = fixed.replace("taking", "active").replace("    dose: {value: 250, unit: mg}\n", "")
    assert len(load_case(write_case(fixed)).conditions) == 2
