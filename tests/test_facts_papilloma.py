"""Every fact of the endobronchial squamous papilloma case report (Case Reports in Pulmonology
2013, article 617080) lands in the bundle, correctly coded. Facts, from the source:

 1 man, 55 years old                        13 denied inhaling a foreign body
 2 severe breathlessness for 2 hours         14 FEV1 53% before treatment
 3 persistent cough for 2 hours              15 CT: 0.5 cm intrabronchial mass (polyp)
 4 milder attacks over the 2 years before    16 ... in the left main bronchus
 5 treated with inhaled bronchodilators      17 removed endoscopically by laser
   at a local clinic, with improvement       18 ... without complications
 6 ischaemic heart disease                   19 histology: benign squamous papilloma
 7 COPD                                      20 HPV DNA not tested (technical reasons)
 8 smoked 30 cigarettes a day                21 symptoms regressed at once afterwards
 9 for 25 years                              22 FEV1 76% after the resection
10 temperature 37 degC (normal)              23 asymptomatic at one-year follow-up
11 up to 40 breaths per minute
12 wheeze over the left chest, normal breath sounds on the right
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.paths import FIXTURES_DIR

CASE = FIXTURES_DIR / "endobronchial-squamous-papilloma.case.yaml"
LEFT, RIGHT = "419161000", "419465000"


@pytest.fixture(scope="module")
def b(fact_bundle: Any) -> Any:
    return fact_bundle(convert(CASE))


def _side(b: Any, body_site: dict[str, Any]) -> str:
    structure = b.deref(body_site["extension"][0]["valueReference"])
    (code,) = b.codes(structure["locationQualifier"][0])
    return str(code)


def test_1_patient(b: Any) -> None:
    (p,) = b.of("Patient")
    assert p["gender"] == "male"
    age = b.one("Observation", "labs", "age")
    assert age["valueQuantity"]["value"] == 55


def test_2_3_presenting_breathlessness_and_cough_for_two_hours(b: Any) -> None:
    now = [
        o for o in b.coded("Observation", "findings", "dyspnea", n=2) if "two hours" in b.notes(o)
    ]
    assert len(now) == 1 and "severe" in b.notes(now[0])
    assert "two hours" in b.notes(b.one("Observation", "findings", "cough"))


def test_4_5_earlier_attacks_and_bronchodilators_at_a_clinic(b: Any) -> None:
    (earlier,) = [
        o for o in b.coded("Observation", "findings", "dyspnea", n=2) if "two years" in b.notes(o)
    ]
    assert "about 2 years before" in earlier["text"]["div"]
    clinic = b.of("Encounter")[0]
    assert clinic["class"]["code"] == "AMB"
    ms = b.one("MedicationStatement", "medications", "bronchodilator")
    assert ms["dosage"][0]["route"]["coding"][0]["code"] == "IPINHL"
    assert ms["context"] == {"reference": f"urn:uuid:{clinic['id']}"}
    assert ms["reasonReference"] == [{"reference": f"urn:uuid:{earlier['id']}"}]
    assert "improved" in ms["dosage"][0]["text"]


@pytest.mark.parametrize("key", ["ischemic_heart_disease", "chronic_obstructive_lung_disease"])
def test_6_7_history(b: Any, key: str) -> None:
    c = b.one("Condition", "conditions", key)
    assert c["code"]["coding"][0]["system"] == "http://snomed.info/sct"


def test_8_9_smoker_30_a_day_for_25_years(b: Any) -> None:
    status = b.one("Observation", "social_history", "tobacco_smoking_status")
    assert b.codes(status["valueCodeableConcept"]) == {"77176002"}
    per_day = b.one("Observation", "social_history", "cigarettes_per_day")
    assert (per_day["valueQuantity"]["value"], per_day["valueQuantity"]["code"]) == (
        30,
        "{cigarettes}/d",
    )
    years = b.one("Observation", "social_history", "years_smoked")
    assert (years["valueQuantity"]["value"], years["valueQuantity"]["code"]) == (25, "a")


def test_10_11_temperature_and_breathing_rate(b: Any) -> None:
    t = b.one("Observation", "findings", "body_temperature")
    assert (t["valueQuantity"]["value"], t["valueQuantity"]["code"]) == (37, "Cel")
    assert t["interpretation"][0]["coding"][0]["code"] == "N"
    rr = b.one("Observation", "findings", "respiratory_rate")
    assert rr["valueQuantity"] == {
        "comparator": "<=",
        "value": 40,
        "unit": "per minute",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }


def test_12_wheeze_left_normal_sounds_right(b: Any) -> None:
    wheeze = b.one("Observation", "findings", "wheezing")
    assert b.codes(wheeze["bodySite"]) == {"51185008"} and _side(b, wheeze["bodySite"]) == LEFT
    normal = b.one("Observation", "findings", "normal_breath_sounds")
    assert _side(b, normal["bodySite"]) == RIGHT


def test_13_no_foreign_body(b: Any) -> None:
    o = b.one("Observation", "findings", "foreign_body_aspiration")
    assert b.codes(o["valueCodeableConcept"]) == {"2667000"}


def test_14_22_fev1_before_and_after(b: Any) -> None:
    values = sorted(
        o["valueQuantity"]["value"]
        for o in b.coded("Observation", "findings", "fev1_percent_predicted", n=2)
    )
    assert values == [53, 76]
    for o in b.coded("Observation", "findings", "fev1_percent_predicted", n=2):
        assert o["category"][0]["coding"][0]["code"] == "procedure"
        assert o["valueQuantity"]["code"] == "%"


def test_15_16_ct_polyp_half_a_centimetre_in_left_main_bronchus(b: Any) -> None:
    (study,) = b.of("ImagingStudy")
    assert (
        study["modality"][0]["code"] == "CT"
        and study["series"][0]["bodySite"]["code"] == "51185008"
    )
    report = b.one("DiagnosticReport", "reports", "ct_chest_report")
    polyp = b.deref(report["result"][0])
    assert (polyp["valueQuantity"]["value"], polyp["valueQuantity"]["code"]) == (0.5, "cm")
    assert b.codes(polyp["bodySite"]) == {"102297006"} and _side(b, polyp["bodySite"]) == LEFT
    assert polyp["category"][0]["coding"][0]["code"] == "imaging"


def test_17_18_laser_resection_in_a_bronchoscopy_without_complications(b: Any) -> None:
    bronchoscopy = b.one("Procedure", "procedures", "bronchoscopy")
    resection = b.one("Procedure", "procedures", "endoscopic_laser_resection")
    assert resection["partOf"] == [{"reference": f"urn:uuid:{bronchoscopy['id']}"}]
    assert b.codes(resection["outcome"]) == {"385669000"}
    assert "without complications" in b.notes(resection)
    assert _side(b, resection["bodySite"][0]) == LEFT


def test_19_20_benign_squamous_papilloma_hpv_not_tested(b: Any) -> None:
    report = b.one("DiagnosticReport", "reports", "pathology_report")
    assert "benign squamous papilloma" in report["conclusion"].lower()
    assert "hpv dna was not tested" in report["conclusion"].lower()
    assert b.codes(report["conclusionCode"][0]) == {"D14.32"}
    specimen = b.deref(report["specimen"][0])
    assert _side(b, specimen["collection"]["bodySite"]) == LEFT
    condition = b.one("Condition", "conditions", "squamous_papilloma_of_bronchus")
    assert condition["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert {b.deref(r)["resourceType"] for r in condition["evidence"][0]["detail"]} >= {
        "DiagnosticReport",
        "Observation",
    }


def test_21_23_symptoms_gone_at_once_and_a_year_later(b: Any) -> None:
    resection = b.one("Procedure", "procedures", "endoscopic_laser_resection")
    after = b.coded("Observation", "findings", "symptoms_resolved", n=2)
    year = next(o for o in after if "one-year" in b.notes(o))
    rel = b.relative(year["_effectiveDateTime"])
    assert rel["event"]["valueReference"] == {"reference": f"urn:uuid:{resection['id']}"}
    assert (rel["relationship"]["valueCode"], rel["offset"]["valueDuration"]["value"]) == (
        "after-start",
        1,
    )
    assert any("at once" in b.notes(o) for o in after)
