"""Profile semantics on official US Core 6.1.0 / IPS 1.1.0 examples, each broken in one rule that
base R4 allows: the finding names the profile (canonical|version), the element id with its
slice, the JSON path and line, and the fix."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from fhir_adapter.validation import Validator, validate
from fhir_adapter.validation.report import Report

from .conftest import example

US = "hl7.fhir.us.core-6.1.0"
SD = "http://hl7.org/fhir/us/core/StructureDefinition/"


@pytest.fixture(scope="module")
def us_core() -> Validator:
    return Validator(igs=["us-core"])


def bp() -> dict[str, Any]:
    return example(US, "Observation-blood-pressure.json")


def errors(report: Report) -> list[str]:
    return [f"{i.rule} {i.path}: {i.message}" for i in report.errors]


def only_profile_errors(report: Report) -> list[Any]:
    assert all("[profile " in i.message for i in report.errors), errors(report)
    return report.errors


def test_official_examples_used_here_are_clean(us_core: Validator) -> None:
    for name in ("Observation-blood-pressure.json", "Patient-example.json", "Observation-bmi.json"):
        assert us_core.validate(example(US, name)).ok, name


def test_cardinality_names_profile_element_path_line_and_fix(us_core: Validator) -> None:
    patient = example(US, "Patient-example.json")
    del patient["identifier"]
    report = us_core.validate_text(json.dumps(patient, indent=2), source="p.json")
    (err,) = only_profile_errors(report)
    assert err.rule == "profile-cardinality" and err.path == "Patient.identifier"
    assert (
        f"{SD}us-core-patient|6.1.0" in err.message and "element Patient.identifier" in err.message
    )
    assert err.line == 1 and err.fix == "add identifier"  # the object holding the missing element


def test_slice_cardinality_and_fixed_value(us_core: Validator) -> None:
    obs = bp()
    systolic = next(c for c in obs["component"] if c["code"]["coding"][0]["code"] == "8480-6")
    systolic["valueQuantity"]["code"] = "kPa"
    (err,) = only_profile_errors(us_core.validate(obs))
    assert err.rule == "profile-fixed" and err.path.endswith("valueQuantity.code")
    assert "element Observation.component:systolic.value[x].code" in err.message
    assert '"mm[Hg]"' in err.message
    obs = bp()
    obs["component"] = [c for c in obs["component"] if c["code"]["coding"][0]["code"] != "8480-6"]
    found = only_profile_errors(us_core.validate(obs))
    assert {i.rule for i in found} == {"profile-cardinality"}
    assert any("element Observation.component:systolic]" in i.message for i in found)


def test_pattern_on_code(us_core: Validator) -> None:
    obs = bp()
    obs["code"]["coding"][0]["code"] = "8867-4"  # heart rate: a real LOINC code, not BP
    found = only_profile_errors(us_core.validate(obs))
    assert [i.rule for i in found] == ["profile-pattern"]
    assert found[0].path == "Observation.code" and "85354-9" in found[0].message


def test_choice_type_restriction(us_core: Validator) -> None:
    obs = bp()
    obs.pop("effectiveDateTime")
    obs["effectiveInstant"] = "2023-01-02T10:00:00Z"
    found = only_profile_errors(us_core.validate(obs))
    assert [i.rule for i in found] == ["profile-type"]
    assert (
        "element Observation.effective[x]" in found[0].message
        and found[0].fix == "use one of: dateTime, Period"
    )


def test_meta_profile_version_and_unloaded_claims() -> None:
    patient = example(US, "Patient-example.json")
    patient["meta"] = {"profile": [f"{SD}us-core-patient|3.1.1"]}
    del patient["identifier"]
    report = Validator(igs=["us-core"]).validate(patient)
    assert report.ok  # 3.1.1 is not loaded: nothing checked, and the report says so
    (w,) = [i for i in report.warnings if i.rule == "profile-not-loaded"]
    assert "us-core-patient|3.1.1" in w.message and w.path == "Patient.meta.profile"
    report = Validator(igs=["us-core", "us-core#3.1.1"]).validate(patient)
    assert [i.message.split("[profile ")[1].split(",")[0] for i in report.errors] == [
        f"{SD}us-core-patient|3.1.1"
    ]


def test_a_profile_of_another_resource_type(us_core: Validator) -> None:
    patient = example(US, "Patient-example.json")
    patient["meta"] = {"profile": [f"{SD}us-core-blood-pressure"]}
    (err,) = us_core.validate(patient).errors
    assert err.rule == "profile-type" and "is for Observation resources, not Patient" in err.message


def test_requested_profile_applies_to_bundle_entries() -> None:
    patient = example(US, "Patient-example.json")
    patient.pop("meta", None)
    del patient["gender"]
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:2bcd0b5c-64d6-4b8c-8a0f-5e58c9e8a0a1", "resource": patient}
        ],
    }
    assert validate(bundle).ok
    report = validate(bundle, igs=["us-core"], profiles=[f"{SD}us-core-patient"])
    assert [i.path for i in report.errors] == ["Bundle.entry[0].resource.gender"]


def test_target_profile_resolved_in_bundle(us_core: Validator) -> None:
    obs = bp()
    obs["subject"] = {"reference": "urn:uuid:5e1a8e36-3a4f-4f9c-9a53-07a3b7d3c0a1"}
    device = {"resourceType": "Device", "id": "d1"}
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0c3e0a55-9c56-4d1f-a4a8-6a4e0c2a9f11", "resource": obs},
            {"fullUrl": "urn:uuid:5e1a8e36-3a4f-4f9c-9a53-07a3b7d3c0a1", "resource": device},
        ],
    }
    found = [i for i in us_core.validate(bundle).errors if i.rule == "profile-target"]
    assert [i.path for i in found] == ["Bundle.entry[0].resource.subject.reference"]
    assert "Device" in found[0].message and f"{SD}us-core-patient" in found[0].message


def test_complex_extension_against_its_definition(us_core: Validator) -> None:
    patient = example(US, "Patient-example.json")
    race = next(e for e in patient["extension"] if e["url"].endswith("us-core-race"))
    omb = next(e for e in race["extension"] if e["url"] == "ombCategory")
    omb["valueString"] = omb.pop("valueCoding")["display"]
    found = only_profile_errors(us_core.validate(patient))
    assert [i.rule for i in found] == ["profile-type"]
    assert (
        "us-core-race|6.1.0" in found[0].message
        and "Extension.extension:ombCategory.value[x]" in found[0].message
    )
    patient = example(US, "Patient-example.json")
    race = next(e for e in patient["extension"] if e["url"].endswith("us-core-race"))
    race["extension"] = [e for e in race["extension"] if e["url"] != "text"]
    found = only_profile_errors(us_core.validate(patient))
    assert [i.rule for i in found] == ["profile-cardinality"]
    assert "Extension.extension:text" in found[0].message


def test_extension_policy_unknown_is_a_warning_whatever_the_domain() -> None:
    patient: dict[str, Any] = {"resourceType": "Patient"}
    for url in (
        "http://example.org/fhir/StructureDefinition/local",
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-nope",
        "http://nema.org/fhir/ext",
    ):
        patient["extension"] = [{"url": url, "valueString": "x"}]
        report = validate(patient)
        assert report.ok and [i.rule for i in report.warnings if i.rule != "dom-6"] == [
            "extension"
        ], url
        assert "not checked: its definition is not loaded" in report.warnings[0].message
        strict = validate(patient, igs=["us-core"], strict_extensions=True)
        assert [i.rule for i in strict.errors] == ["extension"]


def test_ig_extension_context_is_checked() -> None:
    patient = example(US, "Patient-example.json")
    race = next(e for e in patient["extension"] if e["url"].endswith("us-core-race"))
    obs = bp()
    obs["extension"] = [race]
    report = validate(obs, igs=["us-core"])
    (err,) = report.errors
    assert err.rule == "extension" and err.path == "Observation.extension[0]"
    assert "us-core-race is not allowed here" in err.message and "Patient" in err.message


def test_us_core_extensions_are_known_once_loaded() -> None:
    patient = example(US, "Patient-example.json")
    assert any(i.rule == "extension" for i in validate(patient).warnings)
    assert not [i for i in validate(patient, igs=["us-core"]).warnings if i.rule == "extension"]


def test_must_support_is_information_only() -> None:
    obs = bp()
    obs.pop("encounter", None)
    obs.pop("performer", None)
    report = validate(obs, igs=["us-core"], must_support=True)
    assert report.ok
    ms = [i for i in report.issues if i.rule == "must-support"]
    assert ms and all(i.severity == "information" for i in ms)
    assert not [i for i in validate(obs, igs=["us-core"]).issues if i.rule == "must-support"]


def test_ips_bundle_profile_slicing_resolves_entries() -> None:
    bundle = example("hl7.fhir.uv.ips-1.1.0", "Bundle-IPS-examples-Bundle-01.json")
    v = Validator(
        igs=["ips"], profiles=["http://hl7.org/fhir/uv/ips/StructureDefinition/Bundle-uv-ips"]
    )
    assert not [i for i in v.validate(bundle).errors if "[profile " in i.message]
    broken = copy.deepcopy(bundle)
    # the Patient entry no longer conforms to Patient-uv-ips (name is required there)
    patient = next(
        e["resource"] for e in broken["entry"] if e["resource"]["resourceType"] == "Patient"
    )
    del patient["name"]
    found = [i for i in v.validate(broken).errors if "[profile " in i.message]
    (slice_missing,) = [i for i in found if "element Bundle.entry:patient]" in i.message]
    assert "Bundle.entry[1] does not conform to" in slice_missing.message
    assert "Patient-uv-ips" in slice_missing.message and "name" in slice_missing.message


def test_undecidable_terminology_is_a_warning_naming_the_value_set() -> None:
    patient = example(US, "Patient-example.json")
    report = validate(patient, igs=["us-core"])
    unchecked = [i for i in report.warnings if i.rule == "terminology-unchecked"]
    assert unchecked and report.ok
    assert any(
        "http://hl7.org/fhir/us/core/ValueSet/omb-race-category" in i.message for i in unchecked
    )
    strict = validate(patient, igs=["us-core"], strict_terminology=True)
    assert {i.rule for i in strict.errors} == {"terminology-unchecked"}


def test_paths_used_as_booleans_and_resolve_in_profile_constraints(us_core: Validator) -> None:
    bundle = example(US, "Bundle-66c8856b-ba11-4876-8aa8-467aad8c11a2.json")
    role = next(
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "PractitionerRole"
    )
    assert not [i for i in us_core.validate(role).issues if i.rule in ("pd-1", "profile-unchecked")]
    del role["endpoint"]
    assert [i.rule for i in us_core.validate(role).errors] == ["pd-1"]  # telecom or endpoint
    practitioner = example(US, "Practitioner-practitioner-1.json")
    provenance = {
        "resourceType": "Provenance",
        "meta": {"profile": [f"{SD}us-core-provenance"]},
        "target": [{"reference": "Practitioner/practitioner-1"}],
        "recorded": "2024-01-02T10:00:00Z",
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://hl7.org/fhir/us/core/CodeSystem/us-core-provenance-participant-type",
                            "code": "transmitter",
                        }
                    ]
                },
                "who": {"reference": "Practitioner/practitioner-1"},
            }
        ],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "http://example.org/fhir/Provenance/p1",
                "resource": {**provenance, "id": "p1"},
            },
            {
                "fullUrl": "http://example.org/fhir/Practitioner/practitioner-1",
                "resource": practitioner,
            },
        ],
    }
    found = [i for i in us_core.validate(bundle).errors if i.rule == "provenance-1"]
    assert [i.path for i in found] == [
        "Bundle.entry[0].resource.agent[0]"
    ]  # who resolves to a Practitioner


def test_member_of_in_profile_constraints() -> None:
    condition = example("hl7.fhir.us.core-3.1.1", "Condition-example.json")
    v = Validator(igs=["us-core#3.1.1"])
    assert not [
        i for i in v.validate(condition).issues if i.rule in ("us-core-1", "profile-unchecked")
    ]
    condition["category"][0]["coding"][0]["code"] = "encounter-diagnosis-x"
    found = [i for i in v.validate(condition).issues if i.rule == "us-core-1"]
    assert [i.severity for i in found] == ["warning"]  # the constraint's own severity
    patient = example("hl7.fhir.uv.ips-1.1.0", "Patient-patient-example-female.json")
    ips = Validator(
        igs=["ips"], profiles=["http://hl7.org/fhir/uv/ips/StructureDefinition/Patient-uv-ips"]
    )
    assert not [
        i
        for i in ips.validate(patient).issues
        if i.rule in ("pat-cnt-2or3-char", "profile-unchecked")
    ]
    patient["address"][0]["country"] = "Belgium"  # neither ISO 3166 alpha-2 nor (offline) alpha-3
    found = [
        i
        for i in ips.validate(patient).issues
        if "pat-cnt-2or3-char" in i.message or i.rule == "pat-cnt-2or3-char"
    ]
    assert found and all(i.severity in ("warning", "information") for i in found)
