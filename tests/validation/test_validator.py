"""One-rule-violation cases per check family, valid resources with zero issues, outputs, CLI."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.cli import main
from fhir_adapter.validation import Validator, validate

DIV = '<div xmlns="http://www.w3.org/1999/xhtml"><p>text</p></div>'


def obs(**extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o1",
        "text": {"status": "generated", "div": DIV},
        "status": "final",
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "17861-6", "display": "Calcium"}]
        },
        "subject": {"reference": "Patient/p1"},
        "valueQuantity": {
            "value": 9.1,
            "unit": "mg/dL",
            "system": "http://unitsofmeasure.org",
            "code": "mg/dL",
        },
    }
    r.update(extra)
    return r


def rules(report: Any) -> set[tuple[str, str]]:
    return {(i.rule, i.path) for i in report.issues}


VALID = [
    obs(),
    {
        "resourceType": "Patient",
        "id": "p1",
        "text": {"status": "generated", "div": DIV},
        "gender": "female",
        "birthDate": "1970-02-28",
        "name": [{"family": "Doe", "given": ["Jo"]}],
        "active": True,
    },
    {
        "resourceType": "Condition",
        "id": "c1",
        "text": {"status": "generated", "div": DIV},
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "code": {"text": "SLE"},
        "subject": {"reference": "Patient/p1"},
        "onsetString": "about 2010",
    },
    {
        "resourceType": "MedicationStatement",
        "id": "m1",
        "text": {"status": "generated", "div": DIV},
        "status": "active",
        "medicationCodeableConcept": {"text": "x"},
        "subject": {"reference": "Patient/p1"},
        "dosage": [
            {
                "timing": {
                    "repeat": {
                        "boundsDuration": {
                            "value": 1,
                            "comparator": ">",
                            "unit": "year",
                            "system": "http://unitsofmeasure.org",
                            "code": "a",
                        }
                    }
                }
            }
        ],
    },
    {
        "resourceType": "Observation",
        "id": "o2",
        "text": {"status": "generated", "div": DIV},
        "status": "final",
        "code": {"text": "x"},
        "dataAbsentReason": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                    "code": "unknown",
                }
            ]
        },
        "contained": [
            # a no-break space and a thin space are string content (ASCII \\s, as in Java)
            {
                "resourceType": "Patient",
                "id": "pc",
                "gender": "male",
                "name": [{"text": "Jos\u00e9\u00a0Mar\u00eda\u2009R."}],
            }
        ],
        "subject": {"reference": "#pc"},
        "_status": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                    "valueCode": "unknown",
                }
            ]
        },
    },
]


@pytest.mark.parametrize("resource", VALID, ids=lambda r: r["resourceType"] + "/" + r["id"])
def test_valid_resources_have_no_issues(resource: dict[str, Any]) -> None:
    report = validate(resource)
    assert report.issues == [], report.to_text()


def test_seed_bundle_has_zero_errors_and_zero_warnings() -> None:
    report = validate(convert())
    assert report.issues == [], report.to_text()
    assert validate(convert(bundle_type="collection")).issues == []


BAD = [
    # (mutation, rule, path)
    (lambda r: r.update(status="bogus"), "binding", "Observation.status"),
    (lambda r: r.update(foo=1), "structure", "Observation.foo"),
    (lambda r: r.pop("code"), "cardinality", "Observation.code"),
    (lambda r: r.update(valueString="x"), "structure", "Observation.valueString"),
    (lambda r: r.update(note=[]), "json", "Observation.note"),
    (lambda r: r.update(issued=None), "json", "Observation.issued"),
    (lambda r: r.update(issued=""), "json", "Observation.issued"),
    (
        lambda r: r.update(effectiveDateTime="2010-02-30"),
        "primitive",
        "Observation.effectiveDateTime",
    ),
    (
        lambda r: r.update(effectiveDateTime="2010-02-03T10:00:00"),
        "primitive",
        "Observation.effectiveDateTime",
    ),
    (lambda r: r.update(issued="2010-02-03"), "primitive", "Observation.issued"),
    (lambda r: r.update(id="bad id!"), "primitive", "Observation.id"),
    (
        lambda r: r["valueQuantity"].update(value="9.1"),
        "primitive",
        "Observation.valueQuantity.value",
    ),
    (lambda r: r.update(category={"text": "x"}), "structure", "Observation.category"),
    (
        lambda r: r.update(subject=[{"reference": "Patient/p1"}]),
        "cardinality",
        "Observation.subject",
    ),
    (lambda r: r.update(dataAbsentReason={"text": "x"}), "obs-6", "Observation"),
    (lambda r: r["valueQuantity"].pop("system"), "qty-3", "Observation.valueQuantity"),
    (
        lambda r: r["valueQuantity"].update(code="mg/day", unit="mg/day"),
        "code-syntax",
        "Observation.valueQuantity.code",
    ),
    (
        lambda r: r["code"]["coding"][0].update(code="17861-7"),
        "code-syntax",
        "Observation.code.coding[0].code",
    ),
    (
        lambda r: r["code"]["coding"][0].update(system="http://loinc.org/"),
        "code-system",
        "Observation.code.coding[0].system",
    ),
    (
        lambda r: r["code"]["coding"].append(
            {"system": "http://hl7.org/fhir/sid/icd-10", "code": "S72.001A"}
        ),
        "code-system",
        "Observation.code.coding[1].system",
    ),
    (
        lambda r: r["code"]["coding"].append(
            {"system": "http://snomed.info/sct", "code": "55464008"}
        ),
        "code-syntax",
        "Observation.code.coding[1].code",
    ),
    (
        lambda r: r.update(subject={"reference": "Medication/m1"}),
        "reference",
        "Observation.subject.reference",
    ),
    (
        lambda r: r.update(subject={"reference": "not a ref"}),
        "reference",
        "Observation.subject.reference",
    ),
    (
        lambda r: r.update(subject={"reference": "#missing"}),
        "ref-1",
        "Observation.subject.reference",
    ),
    (
        lambda r: r.update(contained=[{"resourceType": "Patient", "id": "x"}]),
        "dom-3",
        "Observation.contained[0]",
    ),
    (
        lambda r: r.update(extension=[{"url": "http://e.org/x"}]),
        "ext-1",
        "Observation.extension[0]",
    ),
    (
        lambda r: r.update(extension=[{"valueString": "x"}]),
        "structure",
        "Observation.extension[0].url",
    ),
    (
        lambda r: r["text"].update(
            div='<div xmlns="http://www.w3.org/1999/xhtml"><script>x</script></div>'
        ),
        "txt-1",
        "Observation.text.div",
    ),
    (
        lambda r: r["text"].update(div='<div xmlns="http://www.w3.org/1999/xhtml">   </div>'),
        "txt-2",
        "Observation.text.div",
    ),
    (lambda r: r.pop("text"), "dom-6", "Observation"),
    (lambda r: r.update(_status="x"), "structure", "Observation._status"),
    (
        lambda r: r.update(extension=[{"url": "http://example.org/fhir/x", "valueString": "y"}]),
        "extension",
        "Observation.extension[0]",
    ),
    (
        lambda r: r.update(
            extension=[
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                    "valueString": "y",
                }
            ]
        ),
        "extension",
        "Observation.extension[0].valueString",
    ),
    (
        lambda r: r.update(
            extension=[
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/condition-assertedDate",
                    "valueDateTime": "2000",
                }
            ]
        ),
        "extension",
        "Observation.extension[0]",
    ),
    (lambda r: r.update(resourceType="Observatio"), "structure", "Observatio"),
    (lambda r: r["code"].update(text="a\x0bb"), "primitive", "Observation.code.text"),
]


@pytest.mark.parametrize(("mutate", "rule", "path"), BAD, ids=[f"{b[1]}:{b[2]}" for b in BAD])
def test_each_violation_is_caught_with_rule_and_path(mutate: Any, rule: str, path: str) -> None:
    r = obs()
    mutate(r)
    report = validate(r)
    assert (rule, path) in rules(report), report.to_text()


def test_fhir_resources_accepts_what_we_reject() -> None:
    from fhir.resources.R4B.patient import Patient

    Patient.model_validate({"resourceType": "Patient", "gender": "woman"})  # structural only
    assert not validate({"resourceType": "Patient", "gender": "woman"}).ok


def test_bundle_rules() -> None:
    b = convert()
    bad = copy.deepcopy(b)
    bad["entry"][1]["fullUrl"] = bad["entry"][0]["fullUrl"]
    del bad["entry"][2]["request"]
    bad["entry"][3]["response"] = {"status": "201"}
    bad["total"] = 3
    dangling = bad["entry"][4]["resource"]["subject"] = {
        "reference": "urn:uuid:00000000-0000-4000-8000-000000000000"
    }
    got = rules(validate(bad))
    assert ("bdl-7", "Bundle.entry[1].fullUrl") in got
    assert ("bdl-3", "Bundle.entry[2]") in got
    assert ("bdl-4", "Bundle.entry[3]") in got
    assert any(r == "bdl-1" for r, _ in got)
    assert ("reference", "Bundle.entry[4].resource.subject.reference") in got
    assert dangling


def test_fullurl_must_match_resource_id() -> None:
    b = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "http://x.org/fhir/Patient/a",
                "resource": {
                    "resourceType": "Patient",
                    "id": "b",
                    "text": {"status": "generated", "div": DIV},
                },
            }
        ],
    }
    assert ("bundle", "Bundle.entry[0].fullUrl") in rules(validate(b))


def test_document_bundle_needs_composition_first() -> None:
    b = {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {
            "system": "urn:ietf:rfc:3986",
            "value": "urn:uuid:7a3b1e2c-0d4f-4a5b-9c6d-1e2f3a4b5c6d",
        },
        "timestamp": "2024-01-01T00:00:00Z",
        "entry": [{"fullUrl": "urn:uuid:7a3b1e2c-0d4f-4a5b-9c6d-1e2f3a4b5c6e", "resource": obs()}],
    }
    assert any(r == "bdl-11" for r, _ in rules(validate(b)))


def test_all_issues_in_one_pass_and_operation_outcome_is_valid() -> None:
    r = obs(status="bogus", foo=1, note=[])
    report = validate(r)
    assert len(report.errors) >= 3
    oo = report.to_operation_outcome()
    assert [i["expression"][0] for i in oo["issue"]][:3] == [i.path for i in report.issues][:3]
    assert validate(oo).errors == []


def test_text_input_reports_json_lines_and_duplicate_keys() -> None:
    text = json.dumps(obs(status="bogus"), indent=2)
    (issue,) = [i for i in validate(text).issues if i.rule == "binding"]
    assert issue.line == text.splitlines().index('  "status": "bogus",') + 1
    dup = '{"resourceType": "Patient", "gender": "male", "gender": "female"}'
    assert validate(dup).issues[0].message == "duplicate key 'gender'"
    assert validate('{"resourceType": ').issues[0].severity == "fatal"


def test_layers_can_be_switched() -> None:
    r = obs(status="bogus", foo=1)
    only_structure = Validator(only=["structure"]).validate(r)
    assert {i.rule for i in only_structure.issues} == {"structure"}
    no_bindings = Validator(skip=["bindings"]).validate(r)
    assert "binding" not in {i.rule for i in no_bindings.issues}


def test_cli_exit_codes_and_formats(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(obs()))
    bad.write_text(json.dumps(obs(status="bogus"), indent=2))
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(bad)]) == 1
    out = capsys.readouterr().out
    assert (
        "bad.json: INVALID" in out and "[binding] Observation.status (line" in out and "fix:" in out
    )
    assert main(["validate", "--format", "outcome", str(bad)]) == 1
    oo = json.loads(capsys.readouterr().out)
    assert oo["resourceType"] == "OperationOutcome"
    nd = tmp_path / "x.ndjson"
    nd.write_text(json.dumps(obs()) + "\n" + json.dumps(obs(status="bogus")) + "\n")
    assert main(["validate", "--format", "json", str(nd)]) == 1
    (rep,) = json.loads(capsys.readouterr().out)
    assert [i["line"] for i in rep["issues"]] == [2]
    assert main(["validate", str(tmp_path / "missing.json")]) == 2
    warn = tmp_path / "warn.json"
    r = obs()
    r.pop("text")
    warn.write_text(json.dumps(r))
    assert main(["validate", str(warn)]) == 0
    assert main(["validate", "--warnings-as-errors", str(warn)]) == 1


def test_cli_reads_stdin() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fhir_adapter.cli", "validate", "-"],
        input=json.dumps(obs(status="bogus")),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1 and "observation-status" in proc.stdout


def test_search_parameter_rules() -> None:
    base = {
        "resourceType": "SearchParameter",
        "text": {"status": "generated", "div": DIV},
        "url": "http://x.org/sp",
        "name": "Name",
        "status": "active",
        "description": "d",
        "code": "nm",
        "base": ["Organization"],
        "type": "string",
        "expression": "Organization.name",
        "derivedFrom": "http://hl7.org/fhir/SearchParameter/Organization-name",
    }
    assert validate(base).issues == []
    assert ("search-param", "SearchParameter.type") in rules(validate({**base, "type": "token"}))
    assert ("search-param", "SearchParameter.expression") in rules(
        validate({**base, "base": ["Patient"]})
    )
    composite = {
        **base,
        "type": "composite",
        "derivedFrom": None,
        "component": [{"definition": "http://x.org/a", "expression": "a"}],
    }
    del composite["derivedFrom"]
    assert ("search-param", "SearchParameter.component") in rules(validate(composite))


def test_capability_statement_search_param_type_must_match_definition() -> None:
    cs = {
        "resourceType": "CapabilityStatement",
        "text": {"status": "generated", "div": DIV},
        "status": "active",
        "date": "2024-01-01",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "implementation": {"description": "x"},
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": "AllergyIntolerance",
                        "searchParam": [
                            {
                                "name": "clinical-status",
                                "definition": "http://hl7.org/fhir/SearchParameter/AllergyIntolerance-clinical-status",
                                "type": "date",
                            }
                        ],
                    }
                ],
            }
        ],
    }
    assert ("search-param", "CapabilityStatement.rest[0].resource[0].searchParam[0].type") in rules(
        validate(cs)
    )


def test_unversioned_reference_to_several_versions_is_ambiguous() -> None:
    o = {**obs(), "id": "o1"}
    b = {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {
            "system": "urn:ietf:rfc:3986",
            "value": "urn:uuid:7a3b1e2c-0d4f-4a5b-9c6d-1e2f3a4b5c6d",
        },
        "timestamp": "2024-01-01T00:00:00Z",
        "entry": [
            {
                "fullUrl": "http://x.org/fhir/Composition/c",
                "resource": {
                    "resourceType": "Composition",
                    "id": "c",
                    "text": {"status": "generated", "div": DIV},
                    "status": "final",
                    "type": {"text": "note"},
                    "date": "2024-01-01",
                    "author": [{"display": "a"}],
                    "title": "t",
                    "section": [
                        {
                            "title": "s",
                            "text": {"status": "generated", "div": DIV},
                            "entry": [{"reference": "Observation/o1"}],
                        }
                    ],
                },
            },
            {
                "fullUrl": "http://x.org/fhir/Observation/o1",
                "resource": {**o, "meta": {"versionId": "1"}},
            },
            {
                "fullUrl": "http://x.org/fhir/Observation/o1",
                "resource": {**o, "meta": {"versionId": "2"}},
            },
        ],
    }
    got = rules(validate(b))
    assert ("reference", "Bundle.entry[0].resource.section[0].entry[0].reference") in got
    assert not any(r == "bdl-7" for r, _ in got)


def _vs(language: str, expression: str) -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "text": {"status": "generated", "div": DIV},
        "status": "active",
        "extension": [
            {
                "url": "http://hl7.org/fhir/tools/StructureDefinition/valueset-parameter",
                "extension": [{"url": "name", "valueCode": "p-inactive"}],
            }
        ],
        "compose": {
            "include": [
                {
                    "system": "http://snomed.info/sct",
                    "filter": [
                        {
                            "property": "inactive",
                            "op": "=",
                            "_value": {
                                "extension": [
                                    {
                                        "url": "http://hl7.org/fhir/StructureDefinition/cqf-expression",
                                        "valueExpression": {
                                            "language": language,
                                            "expression": expression,
                                        },
                                    }
                                ]
                            },
                        }
                    ],
                }
            ]
        },
    }


@pytest.mark.parametrize(
    ("language", "expression", "bad"),
    [
        ("text/fhirpath", "%p-inactive", False),
        ("text/cql", "%p-inactive", True),
        ("text/fhirpath", "$ and %p-inactive", True),
        ("text/fhirpath", "%p-other", True),
    ],
)
def test_valueset_parameter_expressions(language: str, expression: str, bad: bool) -> None:
    got = {i.rule for i in validate(_vs(language, expression)).issues}
    assert ("valueset-parameter" in got) == bad, got


OBS_CAT = "http://terminology.hl7.org/CodeSystem/observation-category"
DCM = "http://dicom.nema.org/resources/ontology/DCM"


@pytest.mark.parametrize(
    ("coding", "rule"),
    [
        ({"system": OBS_CAT, "code": "laboratory", "display": "Laboratory"}, None),
        ({"system": OBS_CAT, "code": "laboratory", "display": "  laboratory "}, None),
        ({"system": OBS_CAT, "code": "laboratory"}, None),
        ({"system": OBS_CAT, "code": "laboratory", "display": "Lab"}, "code-display"),
        ({"system": OBS_CAT, "code": "Laboratory"}, "code-unknown"),  # codes are case-sensitive
        ({"system": DCM, "code": "CT", "display": "Computed Tomography"}, None),
        ({"system": DCM, "code": "XR"}, "code-unknown"),  # not a DICOM modality
        ({"system": "http://loinc.org", "code": "17861-6", "display": "anything"}, None),
    ],
)
def test_hl7_and_dicom_codes_and_displays_are_checked(
    coding: dict[str, str], rule: str | None
) -> None:
    r = obs()
    r["category"] = [{"coding": [coding]}]
    report = validate(r)
    got = {i.rule for i in report.issues if i.rule.startswith("code-")}
    assert got == ({rule} if rule else set()), report.to_text()
    assert report.ok  # warnings: a newer edition of HL7 terminology may add codes


@pytest.mark.parametrize(
    ("content_type", "ok"),
    [
        ("application/pdf", True),
        ("text/plain; charset=UTF-8", True),
        ("image/svg+xml", True),
        ("application/fhir+json;canonicalization=http://hl7.org/fhir/canonicalization/json", True),
        ("pdf", False),
        ("json", False),  # allowed only in CapabilityStatement.format
        ("application/", False),
        ("made-up/thing", False),
    ],
)
def test_mime_types_follow_bcp13(content_type: str, ok: bool) -> None:
    doc = {
        "resourceType": "DocumentReference",
        "text": {"status": "generated", "div": DIV},
        "status": "current",
        "content": [{"attachment": {"contentType": content_type, "data": "aGVsbG8="}}],
    }
    found = ("binding", "DocumentReference.content[0].attachment.contentType") in rules(
        validate(doc)
    )
    assert found != ok


def test_capability_statement_format_allows_the_shorthands() -> None:
    cs = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2024-01-01",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json", "application/fhir+xml", "yaml"],
        "implementation": {"description": "x"},
    }
    bad = [p for r, p in rules(validate(cs)) if r == "binding"]
    assert bad == ["CapabilityStatement.format[2]"]


@pytest.mark.parametrize(
    ("rtype", "ok"),
    [
        ("Patient", True),
        ("http://hl7.org/fhir/StructureDefinition/Group", True),
        ("http://example.org/fhir/StructureDefinition/MyLogicalModel", True),  # not checked
        ("Practitioner", False),  # not a target of Observation.subject
        ("patient", False),  # type names are case-sensitive
    ],
)
def test_reference_type_must_be_an_allowed_target(rtype: str, ok: bool) -> None:
    r = obs()
    r["subject"] = {"reference": "Patient/1", "type": rtype}
    found = ("reference", "Observation.subject.type") in rules(validate(r))
    assert found != ok


def test_a_value_set_url_is_not_a_code_system() -> None:
    r = obs()
    r["code"]["coding"][0]["system"] = "http://hl7.org/fhir/ValueSet/icd-10"
    assert ("code-system", "Observation.code.coding[0].system") in rules(validate(r))


def test_entries_of_non_transaction_bundles_need_a_full_url() -> None:
    patient = {"resourceType": "Patient", "id": "p1", "text": {"status": "generated", "div": DIV}}
    anonymous = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "information", "code": "informational"}],
        "text": {"status": "generated", "div": DIV},
    }
    for btype, resource, needed in (
        ("collection", patient, True),
        ("searchset", patient, True),
        ("searchset", anonymous, False),  # an unidentified operation result
        ("transaction", patient, False),
    ):
        entry: dict[str, Any] = {"resource": resource}
        if btype == "transaction":
            entry["request"] = {"method": "POST", "url": "Patient"}
        b = {"resourceType": "Bundle", "type": btype, "entry": [entry]}
        assert (("bundle", "Bundle.entry[0]") in rules(validate(b))) == needed, (btype, resource)


def test_canonical_urls_of_conformance_resources_are_absolute() -> None:
    vs = {
        "resourceType": "ValueSet",
        "text": {"status": "generated", "div": DIV},
        "url": "ValueSet/my-codes",
        "status": "draft",
        "contained": [
            {
                "resourceType": "CodeSystem",
                "id": "cs",
                "url": "cs",
                "status": "draft",
                "content": "complete",
            }
        ],
        "compose": {"include": [{"system": "cs"}, {"system": "http://example.org/cs"}]},
    }
    found = rules(validate(vs))
    assert ("structure", "ValueSet.url") in found
    assert ("structure", "ValueSet.contained[0].url") in found
    assert ("structure", "ValueSet.compose.include[0].system") in found
    assert ("structure", "ValueSet.compose.include[1].system") not in found
    vs["url"] = "http://example.org/fhir/ValueSet/my-codes"
    assert ("structure", "ValueSet.url") not in rules(validate(vs))


def test_document_entries_must_be_reachable_from_the_composition() -> None:
    def entry(r: dict[str, Any]) -> dict[str, Any]:
        r["text"] = {"status": "generated", "div": DIV}
        return {"fullUrl": f"urn:uuid:{r['id']}", "resource": r}

    ids = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(4)]
    comp = {
        "resourceType": "Composition",
        "id": ids[0],
        "status": "final",
        "type": {"text": "note"},
        "date": "2024-01-01",
        "author": [{"reference": f"urn:uuid:{ids[1]}"}],
        "title": "t",
    }
    author = {"resourceType": "Practitioner", "id": ids[1]}
    linked_back = {  # reachable backwards: it references the author
        "resourceType": "Provenance",
        "id": ids[2],
        "target": [{"reference": f"urn:uuid:{ids[1]}"}],
        "recorded": "2024-01-01T00:00:00Z",
        "agent": [{"who": {"reference": f"urn:uuid:{ids[1]}"}}],
    }
    stray = {"resourceType": "Patient", "id": ids[3]}
    doc = {
        "resourceType": "Bundle",
        "type": "document",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{ids[0]}"},
        "timestamp": "2024-01-01T00:00:00Z",
        "entry": [entry(comp), entry(author), entry(linked_back), entry(stray)],
    }
    unreachable = [p for r, p in rules(validate(doc)) if r == "bundle"]
    assert unreachable == ["Bundle.entry[3]"]


def test_cli_validates_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (tmp_path / "a" / "good.json").write_text(json.dumps(obs()))
    (nested / "bad.json").write_text(json.dumps(obs(status="bogus")))
    (nested / "notes.txt").write_text("not FHIR")
    assert main(["validate", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "good.json: valid" in out and "bad.json: INVALID" in out and "notes.txt" not in out
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["validate", str(empty)]) == 2
    assert "no .json or .ndjson files" in capsys.readouterr().err


def test_cli_help_lists_every_layer() -> None:
    from fhir_adapter.validation.cli import LAYER_NAMES
    from fhir_adapter.validation.engine import LAYERS

    assert LAYER_NAMES.split(",") == list(LAYERS)
