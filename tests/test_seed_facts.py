"""Every fact of the seed case report that FHIR can hold lands in the bundle.

The facts are listed here independently of the case file, so a fact dropped from the fixture or
lost by a mapper fails a test.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter.terminology import default_terminology

SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DCM = "http://dicom.nema.org/resources/ontology/DCM"
UCUM = "http://unitsofmeasure.org"
EXT = "http://hl7.org/fhir/StructureDefinition/"


class Bundle:
    """Look-ups over a converted bundle."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        self.resources = list(self.by_url.values())

    def of(self, rtype: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["resourceType"] == rtype]

    def coded(self, rtype: str, table: str, key: str) -> dict[str, Any]:
        """The one resource of ``rtype`` whose code is concept ``key`` of ``table``."""
        concept = default_terminology().concept(table, key)
        field = "medicationCodeableConcept" if rtype == "MedicationStatement" else "code"
        hits = [r for r in self.of(rtype) if r[field]["text"] == concept.text]
        assert len(hits) == 1, f"expected one {rtype} for {key}, found {len(hits)}"
        assert r_codings(hits[0][field]) == [c.to_fhir() for c in concept.codings]
        return hits[0]

    def deref(self, ref: dict[str, str]) -> dict[str, Any]:
        return self.by_url[ref["reference"]]


def r_codings(cc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(cc.get("coding", []))


def systems(cc: dict[str, Any]) -> set[str]:
    return {c["system"] for c in cc.get("coding", [])}


def notes(r: dict[str, Any]) -> str:
    return " ".join(n["text"] for n in r.get("note", [])).lower()


@pytest.fixture(scope="module")
def b(seed_bundle: dict[str, Any]) -> Bundle:
    return Bundle(seed_bundle)


def test_patient_is_a_woman_with_no_invented_demographics(b: Bundle) -> None:
    (patient,) = b.of("Patient")
    assert patient["gender"] == "female"
    for absent in ("birthDate", "name", "address", "telecom", "deceasedBoolean"):
        assert absent not in patient


def test_age_37_at_presentation_is_an_observation_not_a_birth_date(b: Bundle) -> None:
    age = b.coded("Observation", "labs", "age")
    assert age["valueQuantity"] == {"value": 37, "unit": "year", "system": UCUM, "code": "a"} or (
        age["valueQuantity"]["value"] == 37 and age["valueQuantity"]["code"] == "a"
    )
    assert "presentation" in notes(age)


def test_sle_diagnosed_in_2000(b: Bundle) -> None:
    sle = b.coded("Condition", "conditions", "systemic_lupus_erythematosus")
    assert {SNOMED, ICD10CM} <= systems(sle["code"])
    asserted = [e for e in sle["extension"] if e["url"] == EXT + "condition-assertedDate"]
    assert asserted == [{"url": EXT + "condition-assertedDate", "valueDateTime": "2000"}]
    related = [e for e in sle["extension"] if e["url"] == EXT + "condition-related"]
    assert b.deref(related[0]["valueReference"])["code"]["text"] == (
        default_terminology().concept("conditions", "lupus_panniculitis").text
    )


def test_lupus_panniculitis_diagnosed_in_2000(b: Bundle) -> None:
    lp = b.coded("Condition", "conditions", "lupus_panniculitis")
    assert SNOMED in systems(lp["code"])
    assert {"url": EXT + "condition-assertedDate", "valueDateTime": "2000"} in lp["extension"]


def test_calcinosis_onset_about_ten_years_later_secondary_to_sle(b: Bundle) -> None:
    cc = b.coded("Condition", "conditions", "calcinosis_cutis_universalis")
    assert "onsetDateTime" not in cc, "an approximate onset must not look exact"
    onset = cc["onsetString"].lower()
    assert "about 2010" in onset and "ten years" in onset and "spontaneous" in onset
    assert cc["clinicalStatus"]["coding"][0]["code"] == "active"
    assert (
        cc["bodySite"][0]["text"] == default_terminology().concept("body_sites", "entire_skin").text
    )
    due = [e for e in cc["extension"] if e["url"] == EXT + "condition-dueTo"]
    assert b.deref(due[0]["valueReference"])["code"]["text"].lower().startswith("systemic lupus")
    assert "progressed" in notes(cc) and "extensive" in notes(cc)


def test_calcinosis_presentation_features(b: Bundle) -> None:
    plaques = b.coded("Observation", "findings", "skin_plaques")
    assert all(
        w in notes(plaques) for w in ("isolated", "hard", "erythematous", "painful", "entire skin")
    )
    ulcer = b.coded("Observation", "findings", "skin_ulcer")
    assert "ulcer" in notes(ulcer)
    discharge = b.coded("Observation", "findings", "wound_discharge")
    assert all(w in notes(discharge) for w in ("purulent", "chalky", "milk"))
    for finding in (plaques, ulcer, discharge):
        assert finding["category"][0]["coding"][0]["code"] == "exam"


def test_calcinosis_evidence_links_findings_and_reports(b: Bundle) -> None:
    cc = b.coded("Condition", "conditions", "calcinosis_cutis_universalis")
    evidence = [b.deref(ref) for ev in cc["evidence"] for ref in ev["detail"]]
    types = [r["resourceType"] for r in evidence]
    assert types.count("DiagnosticReport") == 3  # X-ray, CT, pathology
    assert types.count("Observation") >= 6


@pytest.mark.parametrize(
    "key", ["serum_calcium", "serum_phosphate", "parathyroid_hormone", "muscle_enzymes"]
)
def test_four_lab_groups_are_normal_without_invented_numbers(b: Bundle, key: str) -> None:
    lab = b.coded("Observation", "labs", key)
    assert "valueQuantity" not in lab and "referenceRange" not in lab
    assert (
        lab["valueCodeableConcept"]["text"]
        == default_terminology().concept("qualifiers", "normal").text
    )
    assert lab["interpretation"][0]["coding"][0]["code"] == "N"
    assert lab["category"][0]["coding"][0]["code"] == "laboratory"
    if key != "muscle_enzymes":
        assert LOINC in systems(lab["code"])


def test_plain_film_covers_each_region(b: Bundle) -> None:
    xray = next(s for s in b.of("ImagingStudy") if s["modality"][0]["code"] in ("DX", "CR"))
    assert xray["modality"][0]["system"] == DCM
    sites = [s["bodySite"]["display"] for s in xray["series"]]
    term = default_terminology()
    expected = [
        term.concept("body_sites", k).coding().display
        for k in ("pelvis", "thigh", "knee", "lower_leg")
    ]
    assert sites == expected
    for s in xray["series"]:
        assert s["uid"].startswith("2.25.") and len(s["uid"]) <= 64
        assert s["bodySite"]["system"] == SNOMED
    report = next(
        r
        for r in b.of("DiagnosticReport")
        if r.get("imagingStudy") == [{"reference": f"urn:uuid:{xray['id']}"}]
    )
    assert "soft-tissue calcifications" in report["conclusion"]
    finding = b.deref(report["result"][0])
    assert "small soft-tissue calcifications" in notes(finding)


def test_ct_finding_skin_and_subcutis_sparing_muscle(b: Bundle) -> None:
    ct = next(s for s in b.of("ImagingStudy") if s["modality"][0]["code"] == "CT")
    assert "series" not in ct, "the CT region is not stated: no series with an invented site"
    report = next(
        r
        for r in b.of("DiagnosticReport")
        if r.get("imagingStudy") == [{"reference": f"urn:uuid:{ct['id']}"}]
    )
    text = (report["conclusion"] + " " + notes(b.deref(report["result"][0]))).lower()
    for word in ("skin", "subcutaneous", "muscle", "vessels", "visceral", "fascia"):
        assert word in text


def test_biopsy_findings(b: Bundle) -> None:
    report = b.coded("DiagnosticReport", "reports", "pathology_report")
    results = [notes(b.deref(r)) for r in report["result"]]
    assert any("calcified nodular" in t for t in results)
    assert any("moderate lymphocytic infiltrate" in t and "dermis" in t for t in results)
    assert any("black" in t and "calcification" in t for t in results)
    assert "calcinosis cutis universalis" in report["conclusion"].lower()
    assert (
        report["conclusionCode"][0]["text"]
        == default_terminology().concept("conditions", "calcinosis_cutis_universalis").text
    )


def _dose(ms: dict[str, Any]) -> dict[str, Any]:
    dar = ms["dosage"][0]["doseAndRate"][0]
    return dar.get("doseQuantity") or dar["rateQuantity"]


def test_oral_prednisolone_20_mg_per_day(b: Bundle) -> None:
    ms = b.coded("MedicationStatement", "medications", "prednisolone")
    assert RXNORM in systems(ms["medicationCodeableConcept"])
    q = _dose(ms)
    assert (q["value"], q["code"], q["system"]) == (20, "mg/d", UCUM)
    assert ms["dosage"][0]["route"]["text"] == default_terminology().concept("routes", "oral").text


def test_bisphosphonate_10_mg_per_kg_per_day_for_6_months(b: Bundle) -> None:
    ms = b.coded("MedicationStatement", "medications", "bisphosphonate")
    assert RXNORM not in systems(ms["medicationCodeableConcept"]), (
        "a class has no RxNorm ingredient"
    )
    q = _dose(ms)
    assert (q["value"], q["code"]) == (10, "mg/kg/d")
    bounds = ms["dosage"][0]["timing"]["repeat"]["boundsDuration"]
    assert (bounds["value"], bounds["code"]) == (6, "mo")
    assert ms["status"] == "completed"


def test_diltiazem_30_mg_per_day_for_more_than_a_year(b: Bundle) -> None:
    ms = b.coded("MedicationStatement", "medications", "diltiazem")
    assert RXNORM in systems(ms["medicationCodeableConcept"])
    assert (_dose(ms)["value"], _dose(ms)["code"]) == (30, "mg/d")
    bounds = ms["dosage"][0]["timing"]["repeat"]["boundsDuration"]
    assert (bounds["comparator"], bounds["value"], bounds["code"]) == (">", 1, "a")


def test_intralesional_corticosteroids(b: Bundle) -> None:
    ms = b.coded("MedicationStatement", "medications", "corticosteroid")
    assert (
        ms["dosage"][0]["route"]["text"]
        == default_terminology().concept("routes", "intralesional").text
    )
    assert "doseAndRate" not in ms["dosage"][0], "no dose is stated"


def test_treatments_for_calcinosis_point_at_it(b: Bundle) -> None:
    cc = b.coded("Condition", "conditions", "calcinosis_cutis_universalis")
    for key in ("bisphosphonate", "diltiazem", "corticosteroid"):
        ms = b.coded("MedicationStatement", "medications", key)
        assert ms["reasonReference"] == [{"reference": f"urn:uuid:{cc['id']}"}]


def test_progression_despite_treatment(b: Bundle) -> None:
    progression = b.coded("Observation", "findings", "disease_progression")
    assert "progressing despite" in notes(progression)


def test_every_resource_has_a_generated_narrative(b: Bundle) -> None:
    for r in b.resources:
        assert r["text"]["status"] == "generated"
        assert r["text"]["div"].startswith('<div xmlns="http://www.w3.org/1999/xhtml">')
