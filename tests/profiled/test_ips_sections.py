"""IPS required sections when the case holds little: no conditions, only open diagnostic
questions (differential, provisional, unconfirmed), no allergies, no medications. The document
carries the IPS "absent or unknown" statement where the Composition profile needs an entry the
case cannot give, keeps every diagnosis the case states, and never makes up a clinical status.
US Core mode with nothing US Core profiles converts too. Every variant of the all-parts case
converts in every mode to output valid against the mode's IG."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from fhir_adapter import convert, validate
from fhir_adapter.case import parse_case
from fhir_adapter.cli import main
from fhir_adapter.errors import CaseError, ProfileError
from fhir_adapter.profiled import parse_mode

from ..test_case_variants import BASE, VARIANTS
from .conftest import MODES
from .pkgcheck import check_bundle

WriteCase = Callable[..., Path]
ABSENT = "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips"
IPS_CONDITION = "http://hl7.org/fhir/uv/ips/StructureDefinition/Condition-uv-ips|1.1.0"
SECTION = {"problems": "11450-4", "allergies": "48765-2", "medications": "10160-0"}
HEAD = """format: fhir-adapter-case/2
id: small
title: A small case
source: {kind: made-up test case, date: 2024-05-14}
patient: {sex: female}
"""
DIFFERENTIAL = (
    "conditions:\n  - {key: q, concept: lupus_panniculitis, verification: differential}\n"
)


def entries(bundle: dict[str, Any], section: str) -> list[dict[str, Any]]:
    """The resources a Composition section lists, in its order."""
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    comp = bundle["entry"][0]["resource"]
    (s,) = [s for s in comp["section"] if s["code"]["coding"][0]["code"] == SECTION[section]]
    return [by_url[e["reference"]] for e in s["entry"]]


def section_div(bundle: dict[str, Any], section: str) -> str:
    comp = bundle["entry"][0]["resource"]
    (s,) = [s for s in comp["section"] if s["code"]["coding"][0]["code"] == SECTION[section]]
    return str(s["text"]["div"])


def absent_code(r: dict[str, Any]) -> str | None:
    cc = r.get("code") or r.get("medicationCodeableConcept") or {}
    codes = [c["code"] for c in cc.get("coding", []) if c.get("system") == ABSENT]
    return codes[0] if codes else None


def valid_ips(bundle: dict[str, Any]) -> None:
    """0 errors from fhir-adapter's validator with IPS 1.1.0 loaded, and from the package check."""
    report = validate(bundle, igs=["ips"])
    assert report.ok, report.to_text()
    assert check_bundle(bundle) == []


def test_only_a_differential_diagnosis_stays_beside_the_no_information_statement(
    epoch: str, write_case: WriteCase
) -> None:
    verification = "differential"
    path = write_case(
        HEAD + "conditions:\n  - {key: q, concept: systemic_lupus_erythematosus, "
        "verification: differential}\n"
    )
    bundle = convert(path, profile="ips")
    valid_ips(bundle)
    statement, question = entries(bundle, "problems")
    assert absent_code(statement) == "no-problem-info"
    assert statement["meta"]["profile"] == [IPS_CONDITION]
    assert statement["code"]["coding"][0]["display"] == "No information about problems"
    # the diagnosis stays as the case gives it: no clinical status, no IPS Condition claim
    assert question["code"]["text"] == "Systemic lupus erythematosus"
    assert question["verificationStatus"]["coding"][0]["code"] == verification
    assert "clinicalStatus" not in question and "meta" not in question
    div = section_div(bundle, "problems")
    assert "No information about problems" in div and "Systemic lupus erythematosus" in div
    assert "not established problems" in div
    assert (
        "Active problems: no information; beside it (1)"
        in bundle["entry"][0]["resource"]["text"]["div"]
    )


@pytest.mark.parametrize("verification", ["provisional", "unconfirmed"])
def test_a_provisional_diagnosis_with_its_format_default_status_is_an_ips_problem(
    epoch: str, write_case: WriteCase, verification: str
) -> None:
    """Format /2 gives provisional and unconfirmed diagnoses clinical status active by default
    (fixtures/README.md); such a Condition meets Condition-uv-ips and needs no statement."""
    path = write_case(
        HEAD + f"conditions:\n  - {{key: q, concept: systemic_lupus_erythematosus, "
        f"verification: {verification}}}\n"
    )
    bundle = convert(path, profile="ips")
    valid_ips(bundle)
    (problem,) = entries(bundle, "problems")
    assert problem["meta"]["profile"] == [IPS_CONDITION] and absent_code(problem) is None
    assert problem["verificationStatus"]["coding"][0]["code"] == verification


def test_no_conditions_gives_only_the_no_information_statement(
    epoch: str, write_case: WriteCase
) -> None:
    bundle = convert(write_case(HEAD), profile="ips")
    valid_ips(bundle)
    for section, code in [
        ("problems", "no-problem-info"),
        ("allergies", "no-allergy-info"),
        ("medications", "no-medication-info"),
    ]:
        (only,) = entries(bundle, section)
        assert absent_code(only) == code
        assert "nothing is known either way" in section_div(bundle, section)
    # never "no known ...": the case does not say there are none
    assert "no-known" not in json.dumps(bundle)


def test_a_problem_with_a_clinical_status_needs_no_statement(
    epoch: str, write_case: WriteCase
) -> None:
    path = write_case(
        HEAD + "conditions:\n"
        "  - {key: q, concept: systemic_lupus_erythematosus, verification: differential}\n"
        "  - {key: dm, concept: type_2_diabetes_mellitus, clinical_status: active}\n"
    )
    bundle = convert(path, profile="ips")
    valid_ips(bundle)
    problems = entries(bundle, "problems")
    assert [absent_code(r) for r in problems] == [None, None] and len(problems) == 2


def test_only_ruled_out_or_past_conditions_leave_current_problems_unknown(
    epoch: str, write_case: WriteCase
) -> None:
    path = write_case(
        HEAD + "conditions:\n"
        "  - {key: no_sle, concept: systemic_lupus_erythematosus, verification: refuted}\n"
        "  - {key: dm, concept: type_2_diabetes_mellitus, clinical_status: resolved}\n"
    )
    bundle = convert(path, profile="ips")
    valid_ips(bundle)
    (only,) = entries(bundle, "problems")
    assert absent_code(only) == "no-problem-info"


def test_allergies_and_medications_each_fall_back_alone(epoch: str, write_case: WriteCase) -> None:
    meds_only = convert(
        write_case(HEAD + "medications:\n  - {key: met, concept: metformin, status: active}\n"),
        profile="ips",
    )
    valid_ips(meds_only)
    assert [absent_code(r) for r in entries(meds_only, "allergies")] == ["no-allergy-info"]
    assert [absent_code(r) for r in entries(meds_only, "medications")] == [None]
    allergy_only = convert(
        write_case(HEAD + "allergies:\n  - {key: allo, concept: allopurinol}\n", name="a.yaml"),
        profile="ips",
    )
    valid_ips(allergy_only)
    assert [absent_code(r) for r in entries(allergy_only, "allergies")] == [None]
    assert [absent_code(r) for r in entries(allergy_only, "medications")] == ["no-medication-info"]


def test_cli_converts_a_case_with_only_a_differential_diagnosis(
    epoch: str, write_case: WriteCase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_case(HEAD + DIFFERENTIAL)
    out = tmp_path / "ips.json"
    assert main(["convert", str(path), "--profile", "ips", "-o", str(out)]) == 0
    valid_ips(json.loads(out.read_text(encoding="utf-8")))


@pytest.mark.parametrize("mode", [m for m in MODES if m.startswith("us-core")])
def test_us_core_with_nothing_us_core_profiles_but_the_patient(
    write_case: WriteCase, mode: str
) -> None:
    """Only a differential diagnosis (no category) and a medication (US Core profiles
    MedicationRequest): the Patient claims us-core-patient, the rest stays plain R4."""
    path = write_case(
        HEAD.replace("female", "unknown") + "conditions:\n"
        "  - {key: q, concept: lupus_panniculitis, verification: differential}\n"
        "medications:\n  - {key: met, concept: metformin, status: active}\n"
    )
    bundle = convert(path, profile=mode)
    report = validate(bundle, igs=[parse_mode(mode).ig])
    assert report.ok and not report.issues, report.to_text()
    assert check_bundle(bundle) == []
    claiming = [e["resource"]["resourceType"] for e in bundle["entry"] if "meta" in e["resource"]]
    assert claiming == ["Patient"]
    assert check_bundle(convert(write_case(HEAD, name="p.yaml"), profile=mode)) == []


# --- the guards have teeth ------------------------------------------------------------------


def test_without_the_statement_beside_open_questions_the_document_is_invalid(
    epoch: str, write_case: WriteCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_adapter.profiled import ips

    path = write_case(HEAD + DIFFERENTIAL)
    monkeypatch.setattr(ips, "_unfilled", lambda *args: [])
    bundle = convert(path, profile="ips")
    assert not validate(bundle, igs=["ips"]).ok
    assert any("problem" in p for p in check_bundle(bundle)), check_bundle(bundle)


def test_a_section_without_beside_words_never_mixes_the_statement_with_entries(
    epoch: str, write_case: WriteCase, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_adapter.profiled import ips

    data = copy.deepcopy(ips.rules())
    problems = next(s for s in data["ips"]["sections"] if s["key"] == "problems")
    del problems["when_empty"]["beside"]
    monkeypatch.setattr(ips, "rules", lambda: data)
    path = write_case(HEAD + DIFFERENTIAL)
    with pytest.raises(ProfileError, match="required entry slices \\(problem\\)") as err:
        convert(path, profile="ips")
    assert "rules.yaml" in str(err.value)


# --- every variant of the all-parts case, in every mode ---------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_every_variant_converts_to_valid_output_in_every_mode(mode: str, epoch: str) -> None:
    """The all-parts variants of tests/test_case_variants.py (every enum value, the clinical
    status x verification x abatement grid) that load: 0 errors against the mode's IG (and the
    package check in IPS mode, the mode these variants reach most paths of)."""
    failures, converted = [], 0
    for name, edit in VARIANTS:
        data = copy.deepcopy(BASE)
        edit(data)
        try:
            case = parse_case(yaml.safe_dump(data, sort_keys=False), source="variant.yaml")
        except CaseError:
            continue  # refused at load with a named field (tests/test_case_variants.py)
        converted += 1
        try:
            bundle = convert(case, profile=mode)
        except ProfileError as err:
            failures.append(f"{name}: {err}")
            continue
        report = validate(bundle, igs=[parse_mode(mode).ig])
        if not report.ok:
            failures.append(f"{name}: {report.to_text()[:500]}")
        elif mode == "ips" and (problems := check_bundle(bundle)):
            failures.append(f"{name}: {problems[:3]}")
    assert converted > 100
    assert failures == []
