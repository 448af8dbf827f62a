"""Base R4 rules found by scoring against HL7's fhir-test-cases (bench/fhir_test_cases.py).

Each test pins one rule with a case the official validator decides the same way: the valid form
passes, the broken form is reported with its rule and path.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from fhir_adapter.validation import validate

DAR = {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason", "valueCode": "unknown"}


def _errors(resource: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i.rule, i.path) for i in validate(resource).issues if i.severity in ("error", "fatal")]


def _patient(**extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **extra}


# --- null in primitive arrays (json.html: "null in the gaps" of value and _element arrays) ----


@pytest.mark.parametrize(
    "name",
    [
        {"given": ["A", None], "_given": [None, {"extension": [DAR]}]},
        {"given": [None, "B"], "_given": [{"id": "g0", "extension": [DAR]}]},
        {"given": ["A"], "_given": [None, {"extension": [DAR]}]},
        {"_given": [{"extension": [DAR]}]},
    ],
)
def test_null_aligned_with_an_element_companion_is_valid(name: dict[str, Any]) -> None:
    assert _errors(_patient(name=[name])) == []


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ({"given": ["A", None]}, "Patient.name[0].given[1]"),
        ({"given": ["A", None], "_given": [None, None]}, "Patient.name[0].given[1]"),
        ({"given": ["A"], "_given": [None, None]}, "Patient.name[0]._given[1]"),
        ({"_given": [None]}, "Patient.name[0]._given[0]"),
    ],
)
def test_null_with_nothing_beside_it_is_an_error(name: dict[str, Any], path: str) -> None:
    assert ("json", path) in _errors(_patient(name=[name]))


def test_null_in_an_array_of_complex_values_is_an_error() -> None:
    assert ("json", "Patient.name[1]") in _errors(_patient(name=[{"family": "X"}, None]))


# --- ele-1: an element needs a value or children other than id ---------------------------------


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"_birthDate": {"id": "x"}}, "Patient._birthDate"),
        ({"birthDate": None, "_birthDate": {"id": "x"}}, "Patient._birthDate"),
        ({"name": [{"_given": [{"id": "g"}]}]}, "Patient.name[0]._given[0]"),
        ({"maritalStatus": {"id": "m"}}, "Patient.maritalStatus"),
    ],
)
def test_an_element_with_only_an_id_violates_ele1(extra: dict[str, Any], path: str) -> None:
    assert ("ele-1", path) in _errors(_patient(**extra))


@pytest.mark.parametrize(
    "extra",
    [
        {"birthDate": "1970", "_birthDate": {"id": "x"}},
        {"_birthDate": {"id": "x", "extension": [DAR]}},
        {"name": [{"given": ["A"], "_given": [{"id": "g"}]}]},
        {"maritalStatus": {"id": "m", "text": "married"}},
    ],
)
def test_an_id_beside_a_value_or_extension_is_fine(extra: dict[str, Any]) -> None:
    assert _errors(_patient(**extra)) == []


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"name": [{"given": ["A"], "_given": {"extension": [DAR]}}]}, "Patient.name[0]._given"),
        ({"_birthDate": [{"extension": [DAR]}]}, "Patient._birthDate"),
    ],
)
def test_an_element_companion_has_its_primitives_shape(extra: dict[str, Any], path: str) -> None:
    assert ("structure", path) in _errors(_patient(**extra))


# --- literal references (references.html); the official validator only rejects whitespace ----


def _obs_subject(ref: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": ref},
    }


@pytest.mark.parametrize(
    "ref",
    [
        "Patient/1",
        "Patient/1/_history/2",
        "http://example.org/fhir/Patient/1",
        "urn:uuid:0a5b4c1e-4f0e-4a8e-9a7e-3f1d2c3b4a59",
        "resource:0",  # SMART Health Cards: a bundle-local absolute URI
        "Patient?identifier=http://example.org|1",
    ],
)
def test_literal_reference_forms_are_accepted(ref: str) -> None:
    report = validate(_obs_subject(ref))
    assert not [i for i in report.issues if i.family == "reference"], report.to_text()


def test_a_reference_with_whitespace_is_an_error_an_odd_one_a_warning() -> None:
    bad = [i for i in validate(_obs_subject("Patient/ 1")).issues if i.rule == "reference"]
    assert [i.severity for i in bad] == ["error"]
    odd = [i for i in validate(_obs_subject("patient-1")).issues if i.rule == "reference"]
    assert [i.severity for i in odd] == ["warning"]


def test_a_bundle_local_absolute_uri_resolves_against_full_urls() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "resource:0", "resource": {"resourceType": "Patient"}},
            {"fullUrl": "resource:1", "resource": _obs_subject("resource:0")},
        ],
    }
    assert _errors(bundle) == []


def test_a_utf8_byte_order_mark_is_ignored(tmp_path: Any) -> None:
    path = tmp_path / "bom.json"
    path.write_bytes(b'\xef\xbb\xbf{"resourceType": "Basic", "code": {"text": "x"}}')
    assert [i for i in validate(path).issues if i.severity in ("error", "fatal")] == []
    assert validate(path.read_bytes()).ok


def test_extensions_where_the_r4_definitions_use_them_are_allowed() -> None:
    """R4's own snapshots put structuredefinition-fhir-type on ElementDefinition.type (its
    declared context is ElementDefinition.type.code); a copy of such a snapshot is valid."""
    fhir_type = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
    sd = {
        "resourceType": "StructureDefinition",
        "url": "http://example.org/fhir/StructureDefinition/x",
        "name": "X",
        "status": "draft",
        "kind": "logical",
        "abstract": False,
        "type": "http://example.org/fhir/StructureDefinition/x",
        "snapshot": {
            "element": [
                {"id": "X", "path": "X", "min": 0, "max": "*"},
                {
                    "id": "X.id",
                    "path": "X.id",
                    "min": 0,
                    "max": "1",
                    "type": [
                        {
                            "extension": [{"url": fhir_type, "valueUrl": "string"}],
                            "code": "http://hl7.org/fhirpath/System.String",
                        }
                    ],
                },
            ]
        },
    }
    assert [i for i in validate(sd).issues if i.rule == "extension"] == []
    sd["snapshot"]["element"][1]["extension"] = [{"url": fhir_type, "valueUrl": "string"}]
    assert [i.path for i in validate(sd).issues if i.rule == "extension"] == [
        "StructureDefinition.snapshot.element[1].extension[0]"
    ]


# --- a required binding needs a code: extensions alone do not satisfy it ----------------------


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"_gender": {"extension": [DAR]}}, "Patient._gender"),
        (
            {"link": [{"other": {"reference": "Patient/2"}, "_type": {"extension": [DAR]}}]},
            "Patient.link[0]._type",
        ),
    ],
)
def test_required_binding_without_a_code_is_an_error(extra: dict[str, Any], path: str) -> None:
    assert ("binding", path) in _errors(_patient(**extra))


def test_allergy_category_with_only_an_extension_is_an_error() -> None:
    allergy = {
        "resourceType": "AllergyIntolerance",
        "patient": {"reference": "Patient/1"},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical",
                    "code": "active",
                }
            ]
        },
        "category": ["food", None],
        "_category": [None, {"extension": [DAR]}],
    }
    assert _errors(allergy) == [("binding", "AllergyIntolerance._category[1]")]


def test_extensible_binding_without_a_code_and_a_cross_version_code_pass() -> None:
    # Patient.communication.language is extensible (and preferred elsewhere): no error
    assert _errors(_patient(communication=[{"language": {"extension": [DAR]}}])) == []
    xver = {
        "url": "http://hl7.org/fhir/5.0/StructureDefinition/extension-Patient.gender",
        "valueCode": "other",
    }
    report = validate(_patient(_gender={"extension": [xver]}))
    assert [(i.severity, i.rule) for i in report.issues if i.path == "Patient._gender"] == [
        ("warning", "binding")
    ]


# --- unknown codes: an error in code systems FHIR R4 itself defines (fixed at 4.0.1) -----------


def _contract(legal_state: dict[str, str]) -> dict[str, Any]:
    return {"resourceType": "Contract", "legalState": {"coding": [legal_state]}}


def test_unknown_code_of_a_code_system_defined_by_r4_is_an_error() -> None:
    cs = "http://hl7.org/fhir/contract-legalstate"
    assert _errors(_contract({"system": cs, "code": "executed"})) == []
    assert _errors(_contract({"system": cs, "code": "invalid-code-test"})) == [
        ("code-unknown", "Contract.legalState.coding[0].code")
    ]


def test_unknown_code_of_hl7_terminology_stays_a_warning() -> None:
    # THO editions after R4 add codes: offline this cannot be decided, so never an error
    tho = "http://terminology.hl7.org/CodeSystem/contractsubtypecodes"
    report = validate(_contract({"system": tho, "code": "not-yet-known"}))
    assert report.ok
    assert any(i.rule == "code-unknown" for i in report.warnings)


# --- searchset entries follow their search.mode (search.html) ---------------------------------


def _searchset(self_url: str, *entries: tuple[str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [{"relation": "self", "url": self_url}],
        "entry": [
            {
                "fullUrl": f"http://example.org/fhir/{r['resourceType']}/{r.get('id', n)}",
                "search": {"mode": mode},
                "resource": r,
            }
            for n, (mode, r) in enumerate(entries)
        ],
    }


def test_search_results_follow_their_mode() -> None:
    pat = {"resourceType": "Patient", "id": "p1"}
    oo = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational"}],
    }
    org = {"resourceType": "Organization", "id": "o1", "name": "Org"}
    ok = _searchset(
        "http://example.org/fhir/Patient?name=x", ("match", pat), ("include", org), ("outcome", oo)
    )
    assert _errors(ok) == []
    bad = _searchset(
        "http://example.org/fhir/Patient?name=x",
        ("match", {"resourceType": "Patient"}),
        ("match", org),
        ("outcome", pat),
    )
    assert _errors(bad) == [
        ("bundle", "Bundle.entry[0].resource"),
        ("bundle", "Bundle.entry[1].resource"),
        ("bundle", "Bundle.entry[2].resource"),
    ]


def test_search_types_come_from_the_type_parameter() -> None:
    obs = {"resourceType": "Observation", "id": "o", "status": "final", "code": {"text": "x"}}
    pat = {"resourceType": "Patient", "id": "p"}
    url = "http://example.org/fhir?_type=Observation,DocumentReference&code=x"
    assert _errors(_searchset(url, ("match", obs))) == []
    assert _errors(_searchset(url, ("match", pat))) == [("bundle", "Bundle.entry[0].resource")]


# --- conformance resources: profiles rename choices after their types; CodeSystem consistency -


def _profile(path: str) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": "http://example.org/fhir/StructureDefinition/obs",
        "name": "Obs",
        "status": "draft",
        "kind": "resource",
        "abstract": False,
        "type": "Observation",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Observation",
        "derivation": "constraint",
        "differential": {"element": [{"id": path, "path": path}]},
    }


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("Observation.value[x]", True),
        ("Observation.valueQuantity", True),
        ("Observation.valueQuantity.unit", True),
        ("Observation.component.valueString", True),
        ("Observation.valueBla", False),
        ("Observation.component.valueQuantityX", False),
    ],
)
def test_a_profile_renames_a_choice_only_after_one_of_its_types(path: str, ok: bool) -> None:
    errors = _errors(_profile(path))
    assert errors == (
        [] if ok else [("structure", "StructureDefinition.differential.element[0].path")]
    )


def test_every_profile_of_the_shipped_igs_passes_the_choice_rename_rule() -> None:
    import tarfile
    from pathlib import Path

    from fhir_adapter.validation import conformance

    igs = Path(__file__).resolve().parents[2].parent / "shared" / "igs"
    packages = sorted(igs.glob("*.tgz"))
    if not packages:
        pytest.skip("../shared/igs is absent")
    checked = 0
    for tgz in packages:
        with tarfile.open(tgz) as tar:
            for member in tar.getmembers():
                if "StructureDefinition-" in member.name and member.name.endswith(".json"):
                    sd = json.load(tar.extractfile(member))  # type: ignore[arg-type]
                    issues: list[Any] = []
                    conformance._profile_paths(sd, "StructureDefinition", issues)
                    assert issues == [], (tgz.name, member.name, issues)
                    checked += sd.get("derivation") == "constraint"
    assert checked > 150


def _code_system(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "CodeSystem",
        "url": "http://example.org/fhir/CodeSystem/cs",
        "status": "draft",
        "content": "complete",
        "property": [
            {"code": "notSelectable", "type": "boolean"},
            {"code": "weight", "type": "decimal"},
        ],
        "concept": [
            {
                "code": "a",
                "property": [{"code": "notSelectable", "valueBoolean": True}],
                "concept": [{"code": "b", "property": [{"code": "weight", "valueDecimal": 1.5}]}],
            }
        ],
        **extra,
    }


def test_code_system_concept_properties_have_their_declared_type() -> None:
    cs = _code_system()
    assert _errors(cs) == []
    cs["concept"][0]["concept"][0]["property"][0] = {"code": "weight", "valueInteger": 2}
    assert _errors(cs) == [
        ("structure", "CodeSystem.concept[0].concept[0].property[0].valueInteger")
    ]
    cs["concept"][0]["property"].append({"code": "undeclared", "valueString": "x"})
    warnings = [i.path for i in validate(cs).warnings if i.rule == "structure"]
    assert "CodeSystem.concept[0].property[1].code" in warnings


def test_a_repeated_property_code_warns_a_supplement_says_so() -> None:
    cs = _code_system(
        property=[{"code": "p", "type": "code"}, {"code": "p", "type": "code"}],
        concept=[{"code": "a"}],
    )
    report = validate(cs)
    assert report.ok and any(i.path == "CodeSystem.property[1].code" for i in report.warnings)
    supplement = _code_system(supplements="http://loinc.org", concept=[{"code": "a"}], property=[])
    del supplement["property"]
    assert _errors(supplement) == [("structure", "CodeSystem.content")]
    supplement["content"] = "supplement"
    assert _errors(supplement) == []


# --- references inside bundles (bundle.html#references; fhir-test-cases bundle-urn) -----------


def _bundle(btype: str, base: str, ref: str) -> dict[str, Any]:
    """A two-entry bundle whose Composition points at its Patient with ``ref``; ``base`` builds
    the fullUrls (``urn:uuid:`` or a RESTful server base)."""
    comp, pat = "30551ce1-5a28-4356-b684-1e639094ad4d", "2b90dd2b-2dab-4c75-9bb9-a355e07401e8"

    def full(rtype: str, rid: str) -> str:
        return f"{base}{rid}" if base.startswith("urn:") else f"{base}{rtype}/{rid}"

    composition = {
        "resourceType": "Composition",
        "id": comp,
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">c</div>'},
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "60591-5"}]},
        "subject": {"reference": ref},
        "date": "2024-01-01",
        "author": [{"reference": ref}],
        "title": "t",
    }
    patient = {
        "resourceType": "Patient",
        "id": pat,
        "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">p</div>'},
    }
    entries = [
        {"fullUrl": full("Composition", comp), "resource": composition},
        {"fullUrl": full("Patient", pat), "resource": patient},
    ]
    if btype in ("transaction", "batch"):
        for e in entries:
            e["request"] = {"method": "POST", "url": e["resource"]["resourceType"]}
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": btype, "entry": entries}
    if btype == "document":
        bundle |= {
            "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:1"},
            "timestamp": "2024-01-01T00:00:00Z",
        }
    return bundle


PATIENT_ID = "2b90dd2b-2dab-4c75-9bb9-a355e07401e8"


@pytest.mark.parametrize(
    ("base", "ref"),
    [
        ("urn:uuid:", f"urn:uuid:{PATIENT_ID}"),
        ("http://example.org/fhir/", f"Patient/{PATIENT_ID}"),
        ("http://example.org/fhir/", f"http://example.org/fhir/Patient/{PATIENT_ID}"),
    ],
)
def test_a_document_reference_resolved_by_the_bundle_rules_is_valid(base: str, ref: str) -> None:
    assert _errors(_bundle("document", base, ref)) == []


def test_type_id_against_urn_uuid_full_urls_does_not_resolve_in_a_document() -> None:
    """The official validator (since 2023) and bundle.html: a relative reference resolves only
    against the RESTful base of its entry's fullUrl; an entry of the same type and id under a
    urn:uuid fullUrl is not its target. Reported at each reference (naming the entry and the fix),
    and the entry is unreachable from the Composition."""
    report = validate(_bundle("document", "urn:uuid:", f"Patient/{PATIENT_ID}"))
    refs = [i for i in report.errors if i.rule == "reference"]
    assert [i.path for i in refs] == [
        "Bundle.entry[0].resource.subject.reference",
        "Bundle.entry[0].resource.author[0].reference",
    ]
    assert "entry[1] (urn:uuid:" in refs[0].message and "has this type and id" in refs[0].message
    assert refs[0].fix == f"reference the entry by its fullUrl (urn:uuid:{PATIENT_ID})"
    assert [(i.rule, i.path) for i in report.errors if i.rule == "bundle"] == [
        ("bundle", "Bundle.entry[1]")
    ]


def test_type_id_against_another_server_base_does_not_resolve() -> None:
    bundle = _bundle("document", "http://example.org/fhir/", f"Patient/{PATIENT_ID}")
    bundle["entry"][1]["fullUrl"] = f"http://other.org/fhir/Patient/{PATIENT_ID}"
    refs = [i for i in validate(bundle).errors if i.rule == "reference"]
    assert len(refs) == 2
    assert f"(here to 'http://example.org/fhir/Patient/{PATIENT_ID}')" in refs[0].message


@pytest.mark.parametrize("btype", ["collection", "transaction"])
def test_type_id_against_urn_uuid_full_urls_is_a_warning_outside_documents(btype: str) -> None:
    """Outside documents and messages a Type/id may point at a server's resource: the near miss
    is a warning (the official validator's BUNDLE_BUNDLE_POSSIBLE_MATCH_WRONG_FU)."""
    report = validate(_bundle(btype, "urn:uuid:", f"Patient/{PATIENT_ID}"))
    assert report.errors == []
    assert [i.path for i in report.warnings if i.rule == "reference"] == [
        "Bundle.entry[0].resource.subject.reference",
        "Bundle.entry[0].resource.author[0].reference",
    ]


def test_a_versioned_reference_resolves_to_its_entry() -> None:
    bundle = _bundle("document", "http://example.org/fhir/", f"Patient/{PATIENT_ID}/_history/2")
    bundle["entry"][1]["resource"]["meta"] = {"versionId": "2"}
    assert _errors(bundle) == []


@pytest.mark.parametrize(("btype", "severity"), [("collection", "warning"), ("document", "error")])
def test_a_urn_reference_to_no_entry(btype: str, severity: str) -> None:
    """A urn:uuid names nothing outside its bundle: unresolved, an error where the bundle is all
    the receiver gets, a warning in a collection (fhir-test-cases ref-policy-default-r4)."""
    bundle = _bundle(btype, "urn:uuid:", f"urn:uuid:{PATIENT_ID}")
    bundle["entry"][0]["resource"]["author"] = [{"reference": "urn:uuid:0000-missing"}]
    found = [(i.severity, i.path) for i in validate(bundle).issues if i.rule == "reference"]
    assert found == [(severity, "Bundle.entry[0].resource.author[0].reference")]
