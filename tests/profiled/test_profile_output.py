"""Every case in fixtures/, in every profile mode: valid base R4, valid against the official
profiles (checked independently from the packages), deterministic, and honest about what it
does not know."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter import convert, validate
from fhir_adapter.bundle import references
from fhir_adapter.errors import ProfileError
from fhir_adapter.profiled import parse_mode

from .conftest import ALL_PARTS, CASES, MODES, SMALL
from .pkgcheck import check_bundle

Profiled = Callable[[Path, str], dict[str, Any]]
DAR = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"
ALL = [(c, m) for c in [*CASES, ALL_PARTS, *SMALL] for m in MODES]
IDS = [f"{c.name.removesuffix('.case.yaml')}-{m}" for c, m in ALL]


def resources(bundle: dict[str, Any], rtype: str | None = None) -> list[dict[str, Any]]:
    return [
        e["resource"]
        for e in bundle["entry"]
        if rtype is None or e["resource"]["resourceType"] == rtype
    ]


def claims(r: dict[str, Any]) -> list[str]:
    return list(r.get("meta", {}).get("profile", []))


@pytest.mark.parametrize(("case", "mode"), ALL, ids=IDS)
def test_valid_base_r4(profiled: Profiled, case: Path, mode: str) -> None:
    report = validate(profiled(case, mode))
    assert report.ok, report.to_text()
    # no warnings either, but that the claimed profiles were not checked (no IG loaded here)
    assert {i.rule for i in report.issues} <= {"profile-not-loaded"}, report.to_text()


@pytest.mark.parametrize(("case", "mode"), ALL, ids=IDS)
def test_valid_against_the_profiles(profiled: Profiled, case: Path, mode: str) -> None:
    """fhir-adapter's own profile validator, with the mode's IG loaded: 0 errors."""
    report = validate(profiled(case, mode), igs=[parse_mode(mode).ig])
    assert report.ok, report.to_text()
    # warnings allowed: extensible-binding notes only (a SNOMED CT finding code where US Core
    # prefers LOINC; 3.1.1's per-category binding meeting the base v2-0074 category), and
    # information about invariants that need a terminology server (us-core-1 in 3.1.1)
    assert {(i.severity, i.rule) for i in report.issues} <= {
        ("warning", "profile-binding"),
        ("information", "profile-unchecked"),
    }, report.to_text()


@pytest.mark.parametrize(("case", "mode"), ALL, ids=IDS)
def test_valid_against_the_official_packages(
    profiled: Profiled, case: Path, mode: str, igs: Path
) -> None:
    problems = check_bundle(profiled(case, mode))
    assert problems == []


@pytest.mark.parametrize(("case", "mode"), ALL, ids=IDS)
def test_deterministic(profiled: Profiled, case: Path, mode: str, epoch: str) -> None:
    again = convert(case, profile=mode)
    assert json.dumps(again, indent=2) == json.dumps(profiled(case, mode), indent=2)


@pytest.mark.parametrize(("case", "mode"), ALL, ids=IDS)
def test_claims_name_the_selected_ig_version(profiled: Profiled, case: Path, mode: str) -> None:
    version = {"ips": "1.1.0", "us-core": "6.1.0"}.get(mode, mode.partition("@")[2])
    base = "http://hl7.org/fhir/uv/ips/" if mode == "ips" else "http://hl7.org/fhir/us/core/"
    all_claims = [p for r in resources(profiled(case, mode)) for p in claims(r)]
    assert all_claims
    for p in all_claims:
        assert p.startswith(base) and p.endswith(f"|{version}"), p


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_default_mode_is_unchanged_by_the_modes(case: Path, epoch: str) -> None:
    before = json.dumps(convert(case))
    for mode in MODES:
        convert(case, profile=mode)
    assert json.dumps(convert(case)) == before
    assert json.dumps(convert(case, profile=None)) == before


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_same_resources_and_identities_in_every_mode(profiled: Profiled, case: Path) -> None:
    """A mode reshapes resources, never changes their identity, and drops none, except what the
    IPS leaves out by its rules (rules.yaml leave_out), which its Composition lists."""
    converted = resources(convert(case))
    base = {r["id"]: r["identifier"] for r in converted}
    kinds = {r["id"]: r["resourceType"] for r in converted}
    for mode in MODES:
        bundle = profiled(case, mode)
        got = {r["id"]: r.get("identifier") for r in resources(bundle)}
        missing = set(base) - set(got)
        if mode == "ips":
            assert {kinds[k] for k in missing} <= {"Encounter", "BodyStructure", "Condition"}
            if missing:
                assert "Not in this summary" in json.dumps(bundle)
        else:
            assert not missing, mode
        assert {k: got[k] for k in base if k not in missing} == {
            k: v for k, v in base.items() if k not in missing
        }, mode


# --- US Core ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("mode", [m for m in MODES if m != "ips"])
def test_us_core_is_a_transaction_without_false_claims(
    profiled: Profiled, case: Path, mode: str
) -> None:
    bundle = profiled(case, mode)
    assert bundle["type"] == "transaction"
    assert all(e["request"]["method"] == "POST" for e in bundle["entry"])
    for r in resources(bundle):
        if r["resourceType"] in ("MedicationStatement", "ImagingStudy"):
            assert "meta" not in r, "US Core has no profile for it: no claim"
    patient = resources(bundle, "Patient")[0]
    assert claims(patient)[0].startswith(
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient|"
    )
    assert not [e for e in patient.get("extension", []) if "us-core" in e["url"]], (
        "race, ethnicity and birth sex are never guessed"
    )
    assert patient["name"] == [
        {
            "extension": [{"url": DAR, "valueCode": "unknown"}],
            "_text": {"extension": [{"url": DAR, "valueCode": "unknown"}]},
        }
    ]


def test_us_core_conditions_follow_the_case_category(profiled: Profiled) -> None:
    seed = CASES[[c.name for c in CASES].index("sle-calcinosis-cutis-universalis.case.yaml")]
    t2 = CASES[[c.name for c in CASES].index("t2dm-metformin.case.yaml")]
    for case, expected in ((seed, "problems-health-concerns"), (t2, "encounter-diagnosis")):
        for r in resources(profiled(case, "us-core"), "Condition"):
            assert claims(r)[0].split("|")[0].endswith(f"us-core-condition-{expected}")
        for r in resources(profiled(case, "us-core@3.1.1"), "Condition"):
            assert claims(r)[0].split("|")[0].endswith("us-core-condition")


def test_us_core_reports_get_their_note_category(profiled: Profiled) -> None:
    seed = next(c for c in CASES if c.name.startswith("sle-"))
    for r in resources(profiled(seed, "us-core"), "DiagnosticReport"):
        assert claims(r)[0].split("|")[0].endswith("us-core-diagnosticreport-note")
        codes = {c["code"] for cc in r["category"] for c in cc["coding"]}
        assert codes & {"LP29684-5", "LP7839-6"}
        assert r["_effectiveDateTime"] == {"extension": [{"url": DAR, "valueCode": "unknown"}]}


def test_us_core_lab_with_a_day_keeps_it_and_partial_dates_become_periods(
    profiled: Profiled,
) -> None:
    t2 = next(c for c in CASES if c.name.startswith("t2dm-"))
    (lab,) = [
        r
        for r in resources(profiled(t2, "us-core"), "Observation")
        if "valueQuantity" in r and claims(r)
    ]
    assert lab["effectiveDateTime"] == "2024-05-14"
    from fhir_adapter.profiled.adjust import partial_dates

    r = {"resourceType": "Observation", "effectiveDateTime": "2024-05"}
    partial_dates(r)
    assert r == {
        "resourceType": "Observation",
        "effectivePeriod": {"start": "2024-05", "end": "2024-05"},
    }


# --- IPS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_ips_document_structure(profiled: Profiled, case: Path) -> None:
    bundle = profiled(case, "ips")
    assert bundle["type"] == "document" and bundle["timestamp"] == "2024-05-14T00:00:00Z"
    assert "request" not in json.dumps(bundle)
    comp = bundle["entry"][0]["resource"]
    assert comp["resourceType"] == "Composition" and comp["date"] == "2024-05-14T00:00:00Z"
    assert comp["type"]["coding"][0]["code"] == "60591-5"
    codes = [s["code"]["coding"][0]["code"] for s in comp["section"]]
    assert codes[:3] == ["11450-4", "48765-2", "10160-0"]  # problems, allergies, medications
    # every entry is reached from the Composition
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    seen, todo = set(), [bundle["entry"][0]["fullUrl"]]
    while todo:
        url = todo.pop()
        if url not in seen and url in by_url:
            seen.add(url)
            todo.extend(references(by_url[url]))
    assert seen == set(by_url)
    # every section reads as a table or a statement, and lists what it holds
    for s in comp["section"]:
        div = s["text"]["div"]
        assert s["text"]["status"] == "generated" and ("<table>" in div or "no information" in div)
        assert len(s["entry"]) >= 1
    author = by_url[comp["author"][0]["reference"]]
    assert author["resourceType"] == "Device"
    assert author["deviceName"] == [{"name": "fhir-adapter", "type": "manufacturer-name"}]
    assert "not written or attested by a clinician" in comp["text"]["div"]


def test_ips_seed_says_what_it_does_not_know(profiled: Profiled) -> None:
    seed = next(c for c in CASES if c.name.startswith("sle-"))
    bundle = profiled(seed, "ips")
    patient = resources(bundle, "Patient")[0]
    assert patient["_birthDate"] == {"extension": [{"url": DAR, "valueCode": "unknown"}]}
    assert "birthDate" not in patient
    assert patient["name"][0]["_text"]["extension"][0]["valueCode"] == "unknown"
    (allergy,) = resources(bundle, "AllergyIntolerance")
    assert allergy["code"]["coding"] == [
        {
            "system": "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips",
            "code": "no-allergy-info",
            "display": "No information about allergies",
        }
    ]
    comp = bundle["entry"][0]["resource"]
    allergies = next(s for s in comp["section"] if s["code"]["coding"][0]["code"] == "48765-2")
    assert "No information about allergies" in allergies["text"]["div"]
    # the three histology findings (no value in the base output) now carry their description
    pathology = [r for r in resources(bundle, "Observation") if "pathology" in claims(r)[0]]
    assert len(pathology) == 3 and all(r["valueString"] for r in pathology)
    # normal-only labs keep a coded value saying so, never a number
    labs = [r for r in resources(bundle, "Observation") if "laboratory" in claims(r)[0]]
    assert labs and all(r["valueCodeableConcept"]["coding"][0]["code"] == "17621005" for r in labs)
    for r in labs + pathology:
        assert r["performer"] == [{"extension": [{"url": DAR, "valueCode": "unknown"}]}]
    # nothing invented: no dates but the document time
    text = json.dumps(bundle)
    for key in ('"birthDate"', '"effectiveDateTime"', '"issued"', '"onsetDateTime"'):
        assert key not in text


def test_ips_required_section_with_data_has_no_absent_statement(profiled: Profiled) -> None:
    t2 = next(c for c in CASES if c.name.startswith("t2dm-"))
    bundle = profiled(t2, "ips")
    meds = resources(bundle, "MedicationStatement")
    assert [m["medicationCodeableConcept"]["text"] for m in meds] == ["Metformin"]
    assert "no-medication-info" not in json.dumps(bundle)


def test_ips_empty_required_sections_get_the_ips_unknown_codes(epoch: str, write_case) -> None:  # type: ignore[no-untyped-def]
    path = write_case(
        "format: fhir-adapter-case/1\nid: empty-case\ntitle: Nothing known\npatient: {sex: unknown}\n"
    )
    bundle = convert(path, profile="ips")
    assert validate(bundle).ok
    assert check_bundle(bundle) == []
    codes = {
        c["code"]
        for r in resources(bundle)
        for key in ("code", "medicationCodeableConcept")
        for c in r.get(key, {}).get("coding", [])
    }
    assert {"no-problem-info", "no-allergy-info", "no-medication-info"} <= codes


def test_ips_resolved_conditions_go_to_past_illness(epoch: str, write_case) -> None:  # type: ignore[no-untyped-def]
    path = write_case(
        "format: fhir-adapter-case/1\nid: past\ntitle: Past only\npatient: {sex: male}\n"
        "conditions:\n  - {key: dm, concept: type_2_diabetes_mellitus, clinical_status: resolved}\n"
    )
    bundle = convert(path, profile="ips")
    assert check_bundle(bundle) == [] and validate(bundle).ok
    comp = bundle["entry"][0]["resource"]
    by_code = {s["code"]["coding"][0]["code"]: s for s in comp["section"]}
    assert "11348-0" in by_code and len(by_code["11348-0"]["entry"]) == 1
    assert "No information about problems" in by_code["11450-4"]["text"]["div"]


def test_ips_refuses_a_bundle_type(epoch: str) -> None:
    with pytest.raises(ProfileError, match="document"):
        convert(profile="ips", bundle_type="transaction")
    assert convert(profile="ips", bundle_type="document")["type"] == "document"


@pytest.mark.parametrize("bad", ["ipss", "us-core@5.0.1", "US Core", ""])
def test_unknown_mode_is_a_clear_error(bad: str) -> None:
    with pytest.raises(ProfileError, match="use one of: ips, us-core"):
        convert(profile=bad)


def test_mode_names_are_case_insensitive(profiled: Profiled) -> None:
    assert json.dumps(convert(CASES[0], profile="US-Core@7.0.0")) == json.dumps(
        profiled(CASES[0], "us-core@7.0.0")
    )


def test_a_mode_does_not_touch_the_mappers_resources(epoch: str) -> None:
    from fhir_adapter.case import load_case
    from fhir_adapter.convert import to_resources
    from fhir_adapter.profiled import build
    from fhir_adapter.terminology import default_terminology

    case = load_case(CASES[0])
    rs = to_resources(case)
    before = copy.deepcopy(rs)
    for mode in MODES:
        build(case, rs, mode, bundle_type=None, terminology=default_terminology())
    assert rs == before


# --- format /2 content -----------------------------------------------------------------------


def test_ips_takes_every_format_2_part(profiled: Profiled) -> None:
    bundle = profiled(ALL_PARTS, "ips")
    comp = bundle["entry"][0]["resource"]
    titles = [s["title"] for s in comp["section"]]
    assert titles == [
        "Active problems",
        "Allergies and intolerances",
        "Medication summary",
        "History of procedures",
        "Social history",
        "Results",
    ]
    kinds = {r["resourceType"]: claims(r) for r in resources(bundle)}
    for rtype, profile in (
        ("AllergyIntolerance", "AllergyIntolerance-uv-ips"),
        ("Procedure", "Procedure-uv-ips"),
        ("Specimen", "Specimen-uv-ips"),
    ):
        assert kinds[rtype][0].split("|")[0].endswith(profile)
    for rtype in ("Encounter", "BodyStructure"):
        assert kinds[rtype] == [], "no IPS profile: no claim"
    # a diagnosis with no clinical status (differential, refuted) claims no IPS profile
    for r in resources(bundle, "Condition"):
        assert bool(claims(r)) == ("clinicalStatus" in r)
    problems = comp["section"][0]
    assert "differential" in problems["text"]["div"]
    # the absent statement appears only where the case gives nothing
    assert "no-allergy-info" not in json.dumps(bundle)


def test_ips_radiology_findings_keep_their_value_in_a_component(profiled: Profiled) -> None:
    """IPS radiology results take only valueString: a measured or an absent imaging finding
    keeps its value as a component (found by the papilloma and renal-artery fixtures)."""
    fixtures = {c.name.split(".")[0]: c for c in CASES}
    for name, kind, expected in (
        ("endobronchial-squamous-papilloma", "measurement", "valueQuantity"),
        ("spontaneous-renal-artery-dissection", "presence", "valueCodeableConcept"),
    ):
        bundle = profiled(fixtures[name], "ips")
        moved = [
            r
            for r in resources(bundle, "Observation")
            if any(c["code"]["text"].endswith(f": {kind}") for c in r.get("component", []))
        ]
        assert moved, name
        for r in moved:
            assert expected not in r  # the description may follow as valueString
            (component,) = r["component"]
            assert expected in component
    absent = [
        c["valueCodeableConcept"]
        for r in resources(profiled(fixtures["spontaneous-renal-artery-dissection"], "ips"))
        for c in r.get("component", [])
        if "valueCodeableConcept" in c
    ]
    assert {x["coding"][0]["code"] for x in absent} == {"2667000"}


def test_us_core_takes_every_format_2_part(profiled: Profiled) -> None:
    bundle = profiled(ALL_PARTS, "us-core")
    kinds = {r["resourceType"]: claims(r) for r in resources(bundle)}
    for rtype, profile in (
        ("AllergyIntolerance", "us-core-allergyintolerance"),
        ("Procedure", "us-core-procedure"),
        ("Encounter", "us-core-encounter"),
        ("Specimen", "us-core-specimen"),
    ):
        assert kinds[rtype][0].split("|")[0].endswith(profile)
    for r in resources(bundle, "Encounter"):
        # US Core Missing Data: a required coded element gets the data-absent-reason code
        assert r["type"] == [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                        "code": "unknown",
                        "display": "Unknown",
                    }
                ],
                "text": "Unknown",
            }
        ]
    smoking = next(r for r in resources(bundle, "Observation") if "72166-2" in json.dumps(r))
    assert claims(smoking)[0].split("|")[0].endswith("us-core-simple-observation")
    assert "meta" not in next(
        r for r in resources(profiled(ALL_PARTS, "us-core@3.1.1"), "Specimen")
    )


V2 = """format: fhir-adapter-case/2
id: v2-small
title: Small format 2 case
patient: {sex: male}
conditions:
"""


def test_ips_leaves_out_an_unreferenced_ruled_out_diagnosis_and_says_so(
    epoch: str, write_case: Callable[..., Path]
) -> None:
    path = write_case(
        V2
        + "  - {key: dm, concept: type_2_diabetes_mellitus}\n"
        + "  - {key: no_sle, concept: systemic_lupus_erythematosus, verification: refuted}\n"
    )
    assert len(resources(convert(path), "Condition")) == 2
    bundle = convert(path, profile="ips")
    assert len(resources(bundle, "Condition")) == 1
    div = bundle["entry"][0]["resource"]["text"]["div"]
    assert "Not in this summary" in div and "Systemic lupus erythematosus" in div
    assert check_bundle(bundle) == [] and validate(bundle, igs=["ips"]).ok


def test_ips_exam_finding_cited_by_a_pathology_report_claims_no_pathology_profile(
    epoch: str, write_case: Callable[..., Path]
) -> None:
    """Observation-results-pathology-uv-ips fixes the laboratory category: a finding of another
    category that a pathology report cites gets the general results profile (it claimed the
    pathology one and failed its category slice)."""
    path = write_case(
        V2
        + "  - {key: dm, concept: type_2_diabetes_mellitus}\n"
        + "findings:\n"
        + "  - {key: ulcer, concept: skin_ulcer, category: exam, description: An ulcer.}\n"
        + "pathology:\n"
        + "  - {key: histo, report_code: pathology_report, findings: [ulcer]}\n"
    )
    bundle = convert(path, profile="ips")
    (obs,) = resources(bundle, "Observation")
    assert claims(obs) == [
        "http://hl7.org/fhir/uv/ips/StructureDefinition/Observation-results-uv-ips|1.1.0"
    ]
    assert check_bundle(bundle) == [] and validate(bundle, igs=["ips"]).ok
