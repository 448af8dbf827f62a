"""Slicing and the other snapshot rules on a small package built here: closed / open / openAtEnd
rules, ordered slicing, re-slicing, value / pattern / exists / type / profile discriminators,
extension slicing by url (closed), maxLength, target profiles, nested type profiles and
constraints a profile adds. Each rule is broken once and the finding checked."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.validation import Validator
from fhir_adapter.validation.profiles.compiler import _core_row

from .conftest import make_tgz

BASE = "http://example.org/fhir/StructureDefinition/"
LOINC = "http://loinc.org"
EPISODE = "http://hl7.org/fhir/StructureDefinition/event-statusReason"


def el(eid: str, lo: int | None = None, hi: str | None = None, **extra: Any) -> dict[str, Any]:
    """A snapshot element; path and base (from R4 core) derived from the id."""
    path = ".".join(seg.split(":")[0] for seg in eid.split("."))
    row = _core_row(path) or {}
    bmin = row.get("min", 0)
    bmax = "*" if row.get("max", 1) < 0 else str(row.get("max", 1))
    if "." not in path:
        bmin, bmax = 0, "*"
    out: dict[str, Any] = {
        "id": eid,
        "path": path,
        "min": bmin if lo is None else lo,
        "max": bmax if hi is None else hi,
        "base": {"path": path, "min": bmin, "max": bmax},
    }
    if ":" in eid.rsplit(".", 1)[-1]:
        out["sliceName"] = eid.rsplit(":", 1)[-1]
    out.update(extra)
    return out


def sd(name: str, rtype: str, elements: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "StructureDefinition",
        "url": BASE + name,
        "version": "1.0.0",
        "name": name,
        "status": "draft",
        "kind": "complex-type"
        if rtype[0].isupper() and rtype in ("Quantity", "Extension")
        else "resource",
        "abstract": False,
        "type": rtype,
        "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{rtype}",
        "derivation": "constraint",
        "snapshot": {"element": [el(rtype), *elements]},
        **extra,
    }


OBS = sd(
    "obs",
    "Observation",
    [
        el(
            "Observation.identifier",
            1,
            slicing={
                "discriminator": [{"type": "value", "path": "system"}],
                "rules": "closed",
                "ordered": True,
            },
        ),
        el("Observation.identifier:mrn", 1, "1"),
        el("Observation.identifier:mrn.system", 1, fixedUri="urn:mrn"),
        el("Observation.identifier:other", 0, "*"),
        el("Observation.identifier:other.system", 1, fixedUri="urn:other"),
        el("Observation.code"),
        el(
            "Observation.code.coding",
            slicing={"discriminator": [{"type": "value", "path": "system"}], "rules": "open"},
        ),
        el(
            "Observation.code.coding:loinc",
            1,
            "*",
            slicing={"discriminator": [{"type": "value", "path": "code"}], "rules": "open"},
        ),
        el("Observation.code.coding:loinc.system", 1, fixedUri=LOINC),
        el("Observation.code.coding:loinc/bp", 0, "1"),
        el("Observation.code.coding:loinc/bp.code", 1, fixedCode="85354-9"),
        el(
            "Observation.component",
            slicing={
                "discriminator": [{"type": "exists", "path": "dataAbsentReason"}],
                "rules": "openAtEnd",
            },
        ),
        el("Observation.component:absent", 0, "1"),
        el("Observation.component:absent.dataAbsentReason", 1),
        el(
            "Observation.value[x]",
            slicing={"discriminator": [{"type": "type", "path": "$this"}], "rules": "closed"},
            type=[{"code": "Quantity"}, {"code": "string"}],
        ),
        el(
            "Observation.value[x]:valueQuantity",
            0,
            "1",
            type=[{"code": "Quantity", "profile": [BASE + "ucum-quantity"]}],
        ),
        el("Observation.value[x]:valueString", 0, "1", type=[{"code": "string"}], maxLength=10),
        el("Observation.note"),
        el("Observation.note.text", maxLength=5),
        el(
            "Observation.extension",
            slicing={"discriminator": [{"type": "value", "path": "url"}], "rules": "closed"},
        ),
        el(
            "Observation.extension:reason",
            0,
            "1",
            type=[{"code": "Extension", "profile": [EPISODE]}],
        ),
        el(
            "Observation.subject",
            1,
            type=[{"code": "Reference", "targetProfile": [BASE + "patient"]}],
        ),
        el(
            "Observation.hasMember",
            slicing={"discriminator": [{"type": "profile", "path": "resolve()"}], "rules": "open"},
        ),
        el(
            "Observation.hasMember:dated",
            1,
            "1",
            type=[{"code": "Reference", "targetProfile": [BASE + "dated-obs"]}],
        ),
        el(
            "Observation.effective[x]",
            constraint=[
                {
                    "key": "ex-1",
                    "severity": "error",
                    "human": "effective must be a full date",
                    "expression": "$this is dateTime implies $this.toString().length() >= 10",
                    "source": BASE + "obs",
                }
            ],
        ),
    ],
)
PATIENT = sd("patient", "Patient", [el("Patient.birthDate", 1)])
DATED = sd("dated-obs", "Observation", [el("Observation.effective[x]", 1)])
UCUM_Q = sd(
    "ucum-quantity",
    "Quantity",
    [el("Quantity.system", 1, fixedUri="http://unitsofmeasure.org"), el("Quantity.code", 1)],
)


@pytest.fixture(scope="module")
def validator(tmp_path_factory: pytest.TempPathFactory) -> Validator:
    tgz = make_tgz(
        tmp_path_factory.mktemp("pkg") / "example.slicing-1.0.0.tgz",
        {"name": "example.slicing", "version": "1.0.0"},
        {f"StructureDefinition-{s['name']}.json": s for s in (OBS, PATIENT, DATED, UCUM_Q)},
    )
    return Validator(igs=[str(tgz)])


def good() -> dict[str, Any]:
    member = {
        "resourceType": "Observation",
        "id": "m",
        "meta": {"profile": [BASE + "dated-obs"]},
        "status": "final",
        "code": {"text": "member"},
        "effectiveDateTime": "2024-01-02",
    }
    obs = {
        "resourceType": "Observation",
        "id": "o",
        "meta": {"profile": [BASE + "obs|1.0.0"]},
        "identifier": [{"system": "urn:mrn", "value": "1"}, {"system": "urn:other", "value": "2"}],
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "85354-9"}]},
        "subject": {"reference": "urn:uuid:9d2b3c1e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"},
        "effectiveDateTime": "2024-01-02",
        "valueQuantity": {
            "value": 1,
            "unit": "mm[Hg]",
            "system": "http://unitsofmeasure.org",
            "code": "mm[Hg]",
        },
        "hasMember": [{"reference": "urn:uuid:1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d"}],
        "component": [{"code": {"text": "a"}, "valueString": "x"}],
    }
    patient = {"resourceType": "Patient", "id": "p", "birthDate": "1970-01-01"}
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "urn:uuid:0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e", "resource": obs},
            {"fullUrl": "urn:uuid:9d2b3c1e-5f6a-4b7c-8d9e-0f1a2b3c4d5e", "resource": patient},
            {"fullUrl": "urn:uuid:1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d", "resource": member},
        ],
    }


def findings(validator: Validator, bundle: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(rule, path relative to the observation, element) of each profile error."""
    out = []
    for i in validator.validate(bundle).errors:
        assert "[profile " in i.message, str(i)
        element = i.message.rsplit("element ", 1)[1][:-1]
        out.append((i.rule, i.path.replace("Bundle.entry[0].resource", "O"), element))
    return out


def obs(bundle: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = bundle["entry"][0]["resource"]
    return resource


def test_the_good_instance_is_valid(validator: Validator) -> None:
    assert findings(validator, good()) == []


def test_closed_slicing_ordered_and_slice_cardinality(validator: Validator) -> None:
    b = good()
    obs(b)["identifier"].append({"system": "urn:stranger", "value": "3"})
    assert findings(validator, b) == [
        ("profile-slicing", "O.identifier[2]", "Observation.identifier")
    ]
    b = good()
    obs(b)["identifier"].reverse()
    assert findings(validator, b) == [
        ("profile-slicing", "O.identifier[1]", "Observation.identifier")
    ]
    b = good()
    obs(b)["identifier"] = [{"system": "urn:other", "value": "2"}]
    assert findings(validator, b) == [
        ("profile-cardinality", "O.identifier", "Observation.identifier:mrn")
    ]
    b = good()
    obs(b)["identifier"].insert(1, {"system": "urn:mrn", "value": "9"})
    assert findings(validator, b) == [
        ("profile-cardinality", "O.identifier[1]", "Observation.identifier:mrn")
    ]


def test_reslicing(validator: Validator) -> None:
    b = good()
    obs(b)["code"]["coding"].append({"system": LOINC, "code": "85354-9"})
    assert findings(validator, b) == [
        ("profile-cardinality", "O.code.coding[1]", "Observation.code.coding:loinc/bp")
    ]
    b = good()
    obs(b)["code"]["coding"] = [{"system": "http://snomed.info/sct", "code": "75367002"}]
    assert findings(validator, b) == [
        ("profile-cardinality", "O.code.coding", "Observation.code.coding:loinc")
    ]


def test_exists_discriminator_and_open_at_end(validator: Validator) -> None:
    absent = {"code": {"text": "b"}, "dataAbsentReason": {"text": "not asked"}}
    b = good()
    obs(b)["component"].append(absent)  # unmatched first, then the slice: not at the end
    assert findings(validator, b) == [
        ("profile-slicing", "O.component[1]", "Observation.component")
    ]
    b = good()
    obs(b)["component"].insert(0, absent)
    assert findings(validator, b) == []
    b = good()
    obs(b)["component"][:0] = [absent, copy.deepcopy(absent)]
    assert findings(validator, b) == [
        ("profile-cardinality", "O.component[1]", "Observation.component:absent")
    ]


def test_type_slicing_nested_type_profile_and_max_length(validator: Validator) -> None:
    b = good()
    del obs(b)["valueQuantity"]["code"]
    found = findings(validator, b)
    assert ("profile-cardinality", "O.valueQuantity.code", "Quantity.code") in found
    b = good()
    del obs(b)["valueQuantity"]
    obs(b)["valueString"] = "much too long"
    assert findings(validator, b) == [
        ("profile-maxlength", "O.valueString", "Observation.value[x]:valueString")
    ]
    b = good()
    del obs(b)["valueQuantity"]
    obs(b)["valueBoolean"] = True
    found = findings(validator, b)
    assert ("profile-type", "O.valueBoolean", "Observation.value[x]") in found
    b = good()
    obs(b)["note"] = [{"text": "123456"}]
    assert findings(validator, b) == [
        ("profile-maxlength", "O.note[0].text", "Observation.note.text")
    ]


def test_closed_extension_slicing_and_extension_definitions(validator: Validator) -> None:
    b = good()
    obs(b)["extension"] = [{"url": EPISODE, "valueCodeableConcept": {"text": "paused"}}]
    assert findings(validator, b) == []
    obs(b)["extension"].append(
        {"url": "http://example.org/fhir/StructureDefinition/other", "valueString": "x"}
    )
    assert findings(validator, b) == [
        ("profile-slicing", "O.extension[1]", "Observation.extension")
    ]
    b = good()
    obs(b)["extension"] = [{"url": EPISODE, "valueString": "paused"}]
    found = [f for f in validator.validate(b).errors]
    assert [i.rule for i in found] == ["profile-type"] and "event-statusReason" in found[0].message


def test_target_profile_and_profile_discriminator(validator: Validator) -> None:
    b = good()
    del b["entry"][1]["resource"]["birthDate"]
    assert findings(validator, b) == [
        ("profile-target", "O.subject.reference", "Observation.subject")
    ]
    b = good()
    del b["entry"][2]["resource"]["effectiveDateTime"]
    found = findings(validator, b)
    assert ("profile-cardinality", "O.hasMember", "Observation.hasMember:dated") in found
    assert any(f[1] == "Bundle.entry[2].resource.effective" for f in found)  # its own claim


def test_profile_constraint(validator: Validator) -> None:
    b = good()
    obs(b)["effectiveDateTime"] = "2024-01"
    assert findings(validator, b) == [("ex-1", "O.effectiveDateTime", "Observation.effective[x]")]


def test_unresolvable_reference_is_not_a_slicing_error(validator: Validator) -> None:
    b = good()
    obs(b)["hasMember"] = [{"reference": "Observation/elsewhere"}]
    report = validator.validate(b)
    assert not [i for i in report.errors if "hasMember" in i.path]
    assert any(
        i.rule == "profile-unchecked" and "do not resolve" in i.message for i in report.issues
    )


def test_generated_tables_are_deterministic(tmp_path: Path) -> None:
    from fhir_adapter.validation.profiles.compiler import dump
    from fhir_adapter.validation.profiles.load import Loader
    from fhir_adapter.validation.profiles.packages import read_path

    meta = {"name": "example.slicing", "version": "1.0.0"}
    one = read_path(make_tgz(tmp_path / "p.tgz", meta, {"SD.json": OBS, "P.json": PATIENT}))
    two = read_path(make_tgz(tmp_path / "q.tgz", meta, {"P.json": PATIENT, "SD.json": OBS}))
    assert dump(Loader(cache=False).table_for(one)) == dump(Loader(cache=False).table_for(two))
