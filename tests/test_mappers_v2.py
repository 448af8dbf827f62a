"""Format /2 mapping behaviours, one by one, on the all-parts test case of test_case_v2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.case import parse_case
from fhir_adapter.case.dates import shift
from fhir_adapter.convert import convert
from fhir_adapter.validation import validate

FULL = (Path(__file__).with_name("data") / "all-parts.case.yaml").read_text(encoding="utf-8")

SNOMED = "http://snomed.info/sct"
REL = "http://hl7.org/fhir/StructureDefinition/relative-date"
EXT = "http://hl7.org/fhir/StructureDefinition/"


class B:
    def __init__(self, text: str) -> None:
        self.bundle = convert(parse_case(text))
        self.by_url = {e["fullUrl"]: e["resource"] for e in self.bundle["entry"]}

    def all(self, rtype: str) -> list[dict[str, Any]]:
        return [r for r in self.by_url.values() if r["resourceType"] == rtype]

    def one(self, rtype: str, text: str) -> dict[str, Any]:
        hits = [r for r in self.all(rtype) if text in r["text"]["div"]]
        assert len(hits) == 1, (rtype, text, len(hits))
        return hits[0]

    def deref(self, ref: dict[str, str]) -> dict[str, Any]:
        return self.by_url[ref["reference"]]


@pytest.fixture(scope="module")
def b() -> B:
    return B(FULL)


def _rel(element: dict[str, Any]) -> dict[str, Any]:
    (ext,) = element["extension"]
    assert ext["url"] == REL
    return {x["url"]: x for x in ext["extension"]}


def test_full_case_is_valid_with_no_warning(b: B) -> None:
    assert [(i.severity, i.rule, i.path, i.message) for i in validate(b.bundle).issues] == []


def test_exact_relative_time_keeps_its_relation_as_data(b: B) -> None:
    ulcer = b.one("Observation", "Skin ulcer")
    rel = _rel(ulcer["_effectiveDateTime"])
    assert b.deref(rel["event"]["valueReference"])["resourceType"] == "MedicationStatement"
    assert rel["relationship"]["valueCode"] == "after-start"
    assert rel["offset"]["valueDuration"] == {
        "value": 3,
        "unit": "day",
        "system": "http://unitsofmeasure.org",
        "code": "d",
    }
    # the anchor (the course start) is 2021-02: days cannot be added to a month, so no date
    assert "effectiveDateTime" not in ulcer


def test_a_date_that_follows_exactly_is_computed_at_the_precision_it_has() -> None:
    text = FULL.replace("start: {date: 2021-02}", "start: {date: 2021-02-20}")
    ulcer = B(text).one("Observation", "Skin ulcer")
    assert ulcer["effectiveDateTime"] == "2021-02-23"  # 3 days after the course start
    assert _rel(ulcer["_effectiveDateTime"])["relationship"]["valueCode"] == "after-start"


@pytest.mark.parametrize(
    ("date", "amount", "unit", "expected"),
    [
        ("2021-02-20", 3, "d", "2021-02-23"),
        ("2021-02-20", -2, "wk", "2021-02-06"),
        ("2021-02", 3, "d", None),  # no day to count from
        ("2021-11-30", 3, "mo", "2022-02"),  # months: month precision only
        ("2021", 6, "mo", None),
        ("2000", 10, "a", "2010"),
        ("2000-03-14", -11, "a", "1989-03"),
        ("2021-02-20", 1.5, "d", None),
        ("2021-02-20", 4, "h", None),
    ],
)
def test_shift(date: str, amount: float, unit: str, expected: str | None) -> None:
    assert shift(date, amount, unit) == expected


def test_an_approximate_relative_onset_is_text_not_a_falsely_precise_date(b: B) -> None:
    sle = b.one("Condition", "Systemic lupus")
    assert "onsetDateTime" not in sle and "_onsetDateTime" not in sle
    assert sle["onsetString"] == "about 6 months before the start of emergency encounter"


def test_at_an_exact_anchor_is_that_date(b: B) -> None:
    stay = b.one("Encounter", "Inpatient")
    assert stay["period"]["start"] == "2021-03-02"  # at the emergency visit's start
    assert "_start" not in stay["period"]


def test_refuted_and_differential_diagnoses_get_no_invented_status(b: B) -> None:
    for text, code in (("Lupus panniculitis", "refuted"), ("Calcinosis", "differential")):
        c = b.one("Condition", text)
        assert c["verificationStatus"]["coding"][0]["code"] == code
        assert "clinicalStatus" not in c and "category" not in c


def test_laterality_is_coded_on_a_body_structure(b: B) -> None:
    sle = b.one("Condition", "Systemic lupus")
    left_knee, thigh = sle["bodySite"]
    assert left_knee["text"] == "Knee (left)" and left_knee["coding"][0]["code"] == "72696002"
    structure = b.deref(left_knee["extension"][0]["valueReference"])
    assert structure["resourceType"] == "BodyStructure"
    assert structure["locationQualifier"][0]["coding"] == [
        {"system": SNOMED, "code": "419161000", "display": "Unilateral left"}
    ]
    assert "extension" not in thigh
    # one BodyStructure per site and side, shared
    assert len(b.all("BodyStructure")) == 1
    xr = b.all("ImagingStudy")[0]
    assert xr["series"][0]["laterality"]["code"] == "419161000"
    assert xr["status"] == "available" and xr["started"] == "2021-03-02"


def test_absent_finding_has_the_value_absent(b: B) -> None:
    no_plaques = b.one("Observation", "No plaques")
    assert no_plaques["valueCodeableConcept"]["coding"][0]["code"] == "2667000"


def test_negative_result_with_range_and_interpretation(b: B) -> None:
    lab = b.one("Observation", "Serum calcium")
    assert lab["valueQuantity"]["value"] == -4.5
    (rr,) = lab["referenceRange"]
    assert (rr["low"]["value"], rr["high"]["value"], rr["low"]["code"]) == (-2, 2, "mmol/L")
    assert lab["interpretation"][0]["coding"][0]["code"] == "L"
    assert b.deref(lab["specimen"])["resourceType"] == "Specimen"


def test_medication_course_with_phases_and_stop_reason(b: B) -> None:
    ms = b.one("MedicationStatement", "Prednisolone")
    assert ms["status"] == "stopped"
    assert ms["statusReason"][0]["coding"][0]["code"] == "46742003"
    first, second = ms["dosage"]
    assert (first["sequence"], second["sequence"]) == (1, 2)
    assert first["doseAndRate"][0]["rateQuantity"]["value"] == 60
    assert first["timing"]["repeat"]["boundsDuration"]["code"] == "wk"
    start = second["timing"]["repeat"]["boundsPeriod"]["_start"]
    event = _rel(start)["event"]
    # relative to its own course: named in words, never a reference to itself
    assert "valueReference" not in event and "Prednisolone" in event["valueCodeableConcept"]["text"]
    assert ms["effectivePeriod"] == {"start": "2021-02"}


def test_allergy_to_the_course_with_reaction(b: B) -> None:
    (a,) = b.all("AllergyIntolerance")
    assert a["code"]["coding"][0]["code"] == "8638"
    assert a["type"] == "intolerance" and a["criticality"] == "low"
    (reaction,) = a["reaction"]
    assert reaction["severity"] == "moderate"
    assert reaction["manifestation"][0]["coding"][0]["code"] == "46742003"
    assert _rel(a["_onsetDateTime"])["relationship"]["valueCode"] == "after-start"


def test_condition_due_to_a_medication(b: B) -> None:
    sle = b.one("Condition", "Systemic lupus")
    due = [e for e in sle["extension"] if e["url"] == EXT + "condition-dueTo"]
    assert b.deref(due[0]["valueReference"])["resourceType"] == "MedicationStatement"


def test_procedure_specimen_report_links(b: B) -> None:
    (p,) = b.all("Procedure")
    assert p["code"]["coding"][0]["code"] == "86273004"
    assert b.deref(p["report"][0])["resourceType"] == "DiagnosticReport"
    assert _rel(p["_performedDateTime"])["offset"]["valueDuration"]["value"] == 2
    assert p["performedDateTime"] == "2021-03-04"  # 2 days after admission on 2021-03-02
    skin = b.one("Specimen", "Collected by")
    assert skin["collection"]["bodySite"]["text"] == "Knee (left)"
    assert skin["collection"]["collectedDateTime"] == "2021-03-04"
    report = b.deref(p["report"][0])
    assert report["specimen"] == [{"reference": f"urn:uuid:{skin['id']}"}]


def test_encounter_links_both_ways(b: B) -> None:
    ed, stay = b.one("Encounter", "Emergency"), b.one("Encounter", "Inpatient")
    assert stay["partOf"] == {"reference": f"urn:uuid:{ed['id']}"}
    assert stay["length"]["value"] == 9
    assert stay["hospitalization"]["dischargeDisposition"]["coding"][0]["code"] == "home"
    roles = [d.get("use", {}).get("coding", [{}])[0].get("code") for d in stay["diagnosis"]]
    assert roles == [None, "AD"]
    sle = b.one("Condition", "Systemic lupus")
    assert sle["encounter"] == {"reference": f"urn:uuid:{stay['id']}"}  # both ways
    ulcer = b.one("Observation", "Skin ulcer")
    assert ulcer["encounter"] == {"reference": f"urn:uuid:{ed['id']}"}
    (p,) = b.all("Procedure")
    assert p["encounter"] == {"reference": f"urn:uuid:{stay['id']}"}


def test_a_finding_at_several_sites_keeps_each(b: B) -> None:
    text = FULL.replace(
        "    body_sites: [{site: knee, laterality: left}]\n    value:",
        "    body_sites: [{site: knee, laterality: left}, thigh, {site: knee, laterality: right}]\n    value:",
    )
    bb = B(text)
    parts = [r for r in bb.all("Observation") if "46742003" in str(r["code"])]
    assert sorted(p["bodySite"]["text"] for p in parts) == ["Knee (left)", "Knee (right)", "Thigh"]
    assert len({p["id"] for p in parts}) == 3
    # every part is linked where the finding is (the emergency visit's reason)
    ed = bb.one("Encounter", "Emergency")
    assert len(ed["reasonReference"]) == 3
    assert len(bb.all("BodyStructure")) == 2
    assert validate(bb.bundle).ok


def test_social_history_category(b: B) -> None:
    smoking = b.one("Observation", "Tobacco smoking status")
    assert smoking["category"][0]["coding"][0]["code"] == "social-history"
    assert smoking["valueCodeableConcept"]["coding"][0]["code"] == "2667000"


def test_age_range_is_a_value_range(b: B) -> None:
    age = b.one("Observation", "60 to 69 years")
    assert age["valueRange"]["low"]["value"] == 60 and age["valueRange"]["high"]["value"] == 69


def test_conversion_is_deterministic() -> None:
    import json

    assert json.dumps(B(FULL).bundle) == json.dumps(B(FULL).bundle)
