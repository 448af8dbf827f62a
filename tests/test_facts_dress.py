"""Every fact of the DRESS case report (Ben Salha et al., Clin Case Rep 2021) lands in the bundle,
correctly coded. The facts are listed here from the source, independently of the case file:

 1 woman, 69 years old                         21 prednisolone 20 mg mouthwash (dermatologist)
 2 never smoked                                22 admitted to internal medicine
 3 no alcohol, no illicit drugs                23 conscious and oriented on day 1
 4 no earlier drug hypersensitivity            24 temperature 38.7 degC on day 1
 5 type 2 diabetes for 17 years                25 blood pressure 120/70 mmHg on day 1
 6 hypertension for 10 years                   26 pulse 67/min on day 1
 7 dyslipidaemia                               27 weight 72 kg on day 1
 8 gout                                        28 confluent maculopapular rash: feet, legs, abdomen,
 9 coronary bypass 11 years earlier               chest, back
10 cholecystectomy 17 years earlier            29 rash spares face, scalp, palms, soles
11 home drugs: metformin, glibenclamide,       30 Nikolsky sign negative
   captopril, isosorbide dinitrate,            31 no lymphadenopathy
   propranolol, fluvastatin, aspirin,          32 erosive cheilitis from 1 week before
   colchicine                                  33 skin biopsy: toxic drug reaction
12 allopurinol started 6 weeks before admission 34 moderate eosinophilia
13 chills a week before admission             35 impaired kidney function
14 fever (not measured) with the chills        36 DRESS due to allopurinol
15 next day: lip swelling                      37 systemic corticosteroids
16 next day: bluish spots on both lower limbs  38 complete recovery
17 emergency visit                             39 healthy for 3 years
18 symptomatic treatment there, no effect      40 recurrence after allopurinol re-challenge
19 dermatologist consulted                     41 allopurinol stopped (implied by re-challenge)
20 referred to internal medicine               42 allergy to allopurinol, confirmed
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.paths import FIXTURES_DIR

CASE = FIXTURES_DIR / "dress-allopurinol-erosive-cheilitis.case.yaml"
EXT = "http://hl7.org/fhir/StructureDefinition/"
SNOMED = "http://snomed.info/sct"


@pytest.fixture(scope="module")
def b(fact_bundle: Any) -> Any:
    return fact_bundle(convert(CASE))


def _encounter(b: Any, code: str) -> dict[str, Any]:
    (e,) = [r for r in b.of("Encounter") if r["class"]["code"] == code]
    return e


def test_1_patient_69_year_old_woman(b: Any) -> None:
    (p,) = b.of("Patient")
    assert p["gender"] == "female" and "birthDate" not in p
    age = b.one("Observation", "labs", "age")
    assert (age["valueQuantity"]["value"], age["valueQuantity"]["code"]) == (69, "a")


def test_2_3_social_history(b: Any) -> None:
    smoking = b.one("Observation", "social_history", "tobacco_smoking_status")
    assert smoking["category"][0]["coding"][0]["code"] == "social-history"
    assert b.codes(smoking["valueCodeableConcept"]) == {"266919005"}
    alcohol = b.one("Observation", "social_history", "alcohol_use_history")
    assert b.codes(alcohol["valueCodeableConcept"]) == {"105542008"}
    assert "illicit drug" in b.notes(alcohol)


def test_4_no_earlier_drug_hypersensitivity(b: Any) -> None:
    nkda = b.one("Observation", "findings", "no_known_drug_allergy")
    assert "before this illness" in b.notes(nkda)


@pytest.mark.parametrize(
    ("key", "years"), [("type_2_diabetes_mellitus", 17), ("hypertensive_disorder", 10)]
)
def test_5_6_chronic_conditions_with_their_duration(b: Any, key: str, years: int) -> None:
    c = b.one("Condition", "conditions", key)
    rel = b.relative(c["_onsetDateTime"])
    admission = _encounter(b, "IMP")
    assert rel["event"]["valueReference"] == {"reference": f"urn:uuid:{admission['id']}"}
    assert rel["relationship"]["valueCode"] == "before-start"
    assert (rel["offset"]["valueDuration"]["value"], rel["offset"]["valueDuration"]["code"]) == (
        years,
        "a",
    )
    assert c["clinicalStatus"]["coding"][0]["code"] == "active"


@pytest.mark.parametrize("key", ["dyslipidemia", "gout"])
def test_7_8_other_conditions(b: Any, key: str) -> None:
    c = b.one("Condition", "conditions", key)
    assert SNOMED in {x["system"] for x in c["code"]["coding"]}


@pytest.mark.parametrize(
    ("key", "years"), [("coronary_artery_bypass_graft", 11), ("cholecystectomy", 17)]
)
def test_9_10_past_surgery_years_before(b: Any, key: str, years: int) -> None:
    p = b.one("Procedure", "procedures", key)
    assert p["status"] == "completed"
    rel = b.relative(p["_performedDateTime"])
    assert rel["relationship"]["valueCode"] == "before-start"
    assert rel["offset"]["valueDuration"]["value"] == years


@pytest.mark.parametrize(
    "key",
    [
        "metformin",
        "glibenclamide",
        "captopril",
        "isosorbide_dinitrate",
        "propranolol",
        "fluvastatin",
        "aspirin",
        "colchicine",
    ],
)
def test_11_home_medications(b: Any, key: str) -> None:
    ms = b.one("MedicationStatement", "medications", key)
    assert ms["status"] == "active"
    assert ms["medicationCodeableConcept"]["coding"]


def test_12_41_allopurinol_started_6_weeks_before_and_stopped_for_dress(b: Any) -> None:
    first, again = b.coded("MedicationStatement", "medications", "allopurinol", n=2)
    if "effectivePeriod" not in first:
        first, again = again, first
    rel = b.relative(first["effectivePeriod"]["_start"])
    assert rel["relationship"]["valueCode"] == "before-start"
    assert (rel["offset"]["valueDuration"]["value"], rel["offset"]["valueDuration"]["code"]) == (
        6,
        "wk",
    )
    assert first["status"] == "stopped"
    assert b.codes(first["statusReason"][0]) == {"702809001", "D72.12"}
    gout = b.one("Condition", "conditions", "gout")
    assert first["reasonReference"] == [{"reference": f"urn:uuid:{gout['id']}"}]


def test_13_14_chills_and_fever_a_week_before(b: Any) -> None:
    for key in ("chill", "fever"):
        o = b.one("Observation", "findings", key)
        rel = b.relative(o["_effectiveDateTime"])
        assert rel["relationship"]["valueCode"] == "before-start"
        assert (
            rel["offset"]["valueDuration"]["value"],
            rel["offset"]["valueDuration"]["code"],
        ) == (1, "wk")
    assert "not measured" in b.notes(b.one("Observation", "findings", "fever"))


def test_15_16_next_day_lip_swelling_and_bluish_spots_on_both_legs(b: Any) -> None:
    chills = b.one("Observation", "findings", "chill")
    for key, site in (("lip_swelling", "48477009"), ("bluish_skin_spots", "61685007")):
        o = b.one("Observation", "findings", key)
        rel = b.relative(o["_effectiveDateTime"])
        assert rel["event"]["valueReference"] == {"reference": f"urn:uuid:{chills['id']}"}
        assert rel["relationship"]["valueCode"] == "after-start"
        assert rel["offset"]["valueDuration"]["value"] == 1
        assert b.codes(o["bodySite"]) == {site}
    spots = b.one("Observation", "findings", "bluish_skin_spots")
    side = b.deref(spots["bodySite"]["extension"][0]["valueReference"])
    assert b.codes(side["locationQualifier"][0]) == {"51440002"}  # bilateral


def test_17_to_22_the_way_to_admission(b: Any) -> None:
    ed, clinic, admission = (_encounter(b, c) for c in ("EMER", "AMB", "IMP"))
    assert "did not help" in ed["text"]["div"] and "symptomatic" in ed["text"]["div"]
    assert "dermatologist" in clinic["text"]["div"] and "internal medicine" in clinic["text"]["div"]
    assert "internal medicine" in admission["text"]["div"]
    for e in (ed, clinic, admission):
        assert e["status"] == "finished" and "period" not in e  # no dates are given
    mouthwash = [
        r
        for r in b.coded("MedicationStatement", "medications", "prednisolone")
        if r.get("context") == {"reference": f"urn:uuid:{clinic['id']}"}
    ]
    (ms,) = mouthwash
    dosage = ms["dosage"][0]
    assert dosage["route"]["coding"][0]["code"] == "ORRINSE"
    assert (
        dosage["doseAndRate"][0]["doseQuantity"]["value"],
        dosage["doseAndRate"][0]["doseQuantity"]["code"],
    ) == (20, "mg")


@pytest.mark.parametrize(
    ("key", "value", "unit"),
    [("body_temperature", 38.7, "Cel"), ("pulse_rate", 67, "/min"), ("body_weight", 72, "kg")],
)
def test_24_26_27_measurements_on_day_one(b: Any, key: str, value: float, unit: str) -> None:
    o = b.one("Observation", "findings", key)
    assert (o["valueQuantity"]["value"], o["valueQuantity"]["code"]) == (value, unit)
    admission = _encounter(b, "IMP")
    assert o["encounter"] == {"reference": f"urn:uuid:{admission['id']}"}


def test_23_25_oriented_and_blood_pressure(b: Any) -> None:
    assert "well oriented" in b.notes(b.one("Observation", "findings", "conscious_and_oriented"))
    assert "120/70 mmhg" in b.notes(b.one("Observation", "findings", "blood_pressure"))


def test_28_rash_over_five_regions_each_coded(b: Any) -> None:
    present = [
        r
        for r in b.coded("Observation", "findings", "maculopapular_eruption", n=9)
        if "valueCodeableConcept" not in r
    ]
    sites = {next(iter(b.codes(r["bodySite"]))) for r in present}
    assert sites == {"56459004", "30021000", "818983003", "51185008", "77568009"}
    assert all("confluent" in b.notes(r) for r in present)


def test_29_rash_spares_face_scalp_palms_soles(b: Any) -> None:
    absent = [
        r
        for r in b.coded("Observation", "findings", "maculopapular_eruption", n=9)
        if "valueCodeableConcept" in r
    ]
    assert len(absent) == 4
    assert all(b.codes(r["valueCodeableConcept"]) == {"2667000"} for r in absent)
    texts = {r["bodySite"]["text"] for r in absent}
    assert texts == {"Face", "Scalp", "Palm of hand", "Sole of foot"}


@pytest.mark.parametrize("key", ["nikolsky_sign", "lymphadenopathy"])
def test_30_31_negative_signs(b: Any, key: str) -> None:
    o = b.one("Observation", "findings", key)
    assert b.codes(o["valueCodeableConcept"]) == {"2667000"}


def test_32_erosive_cheilitis_a_week_before(b: Any) -> None:
    c = b.one("Condition", "conditions", "cheilitis")
    assert "erosive" in b.notes(c)
    assert b.codes(c["bodySite"][0]) == {"48477009"}
    assert b.relative(c["_onsetDateTime"])["offset"]["valueDuration"]["code"] == "wk"


def test_33_skin_biopsy_consistent_with_toxic_drug_reaction(b: Any) -> None:
    biopsy = b.one("Procedure", "procedures", "biopsy")
    report = b.deref(biopsy["report"][0])
    assert "toxic drug reaction" in report["conclusion"]
    specimen = b.deref(report["specimen"][0])
    assert b.codes(specimen["type"]) == {"SKBP", "309066003"}
    assert b.codes(biopsy["bodySite"][0]) == {"39937001"}


@pytest.mark.parametrize(
    ("key", "word"),
    [("eosinophil_count_raised", "moderate"), ("abnormal_renal_function", "kidney")],
)
def test_34_35_laboratory_findings(b: Any, key: str, word: str) -> None:
    o = b.one("Observation", "findings", key)
    assert o["category"][0]["coding"][0]["code"] == "laboratory"
    assert word in b.notes(o)


def test_36_38_dress_due_to_allopurinol_resolved(b: Any) -> None:
    first, _recurrence = sorted(
        b.coded("Condition", "conditions", "drug_reaction_eosinophilia_systemic_symptoms", n=2),
        key=lambda c: c["clinicalStatus"]["coding"][0]["code"] != "resolved",
    )
    assert first["clinicalStatus"]["coding"][0]["code"] == "resolved"
    assert "after the end of" in first["abatementString"]
    due = [e for e in first["extension"] if e["url"] == EXT + "condition-dueTo"]
    assert (
        b.deref(due[0]["valueReference"])["medicationCodeableConcept"]["coding"][0]["code"] == "519"
    )
    evidence = {b.deref(r)["resourceType"] for r in first["evidence"][0]["detail"]}
    assert evidence == {"Observation", "DiagnosticReport"}
    admission = _encounter(b, "IMP")
    assert admission["diagnosis"][0]["condition"] == {"reference": f"urn:uuid:{first['id']}"}


def test_37_systemic_corticosteroids_for_dress(b: Any) -> None:
    ms = b.one("MedicationStatement", "medications", "corticosteroid")
    assert "systemic" in ms["dosage"][0]["text"].lower()
    assert b.deref(ms["reasonReference"][0])["code"]["coding"][0]["code"] == "702809001"


def test_39_40_recurrence_three_years_later_on_rechallenge(b: Any) -> None:
    (recurrence,) = [
        c
        for c in b.coded(
            "Condition", "conditions", "drug_reaction_eosinophilia_systemic_symptoms", n=2
        )
        if c["clinicalStatus"]["coding"][0]["code"] == "recurrence"
    ]
    rel = b.relative(recurrence["_onsetDateTime"])
    assert rel["relationship"]["valueCode"] == "after-end"
    assert (rel["offset"]["valueDuration"]["value"], rel["offset"]["valueDuration"]["code"]) == (
        3,
        "a",
    )
    due = [e for e in recurrence["extension"] if e["url"] == EXT + "condition-dueTo"]
    rechallenge = b.deref(due[0]["valueReference"])
    assert rechallenge["medicationCodeableConcept"]["coding"][0]["code"] == "519"
    assert "again" in rechallenge["dosage"][0]["text"]


def test_42_allergy_to_allopurinol_confirmed(b: Any) -> None:
    (a,) = b.of("AllergyIntolerance")
    assert a["code"]["coding"][0]["code"] == "519"
    assert a["verificationStatus"]["coding"][0]["code"] == "confirmed"
    assert a["category"] == ["medication"]
    first, second = a["reaction"]
    manifest = {c for m in first["manifestation"] for c in b.codes(m)}
    assert {"702809001", "7847004", "247471006", "386661006"} <= manifest
    assert "re-challenge" in second["description"]
