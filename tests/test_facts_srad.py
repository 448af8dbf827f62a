"""Every fact of the spontaneous renal artery dissection case presentation (SHM meeting
abstract) lands in the bundle, correctly coded. Facts, from the source:

 1 man, 27 (previously healthy, white: summary)   23 IV fluids
 2 sudden right flank pain, about 5 days            24 symptoms unchanged over the next days
 3 nausea, about 5 days                             25 new-onset hypertension
 4 vomiting, about 5 days                           26 renal Doppler: right renal artery occluded
 5 mild fever, about 5 days                         27 ... so renal infarction most likely
 6 no abnormal urinary symptoms                     28 vasculitis panel essentially negative
 7 no kidney stones before                          29 leg Doppler: no deep vein thrombosis
 8 afebrile at presentation                         30 agitated-saline echo: no PFO
 9 normotensive at presentation                     31 paradoxical embolism ruled out
10 white cell count 11,900 (no unit)                32 hypercoagulability panel negative
11 BUN 9 (no unit)                                  33 arteriogram: focal dissection of the main
12 creatinine 0.9 (no unit)                            right renal artery from its middle part
13-16 urinalysis: no red cells, no pyuria,          34 ... occluding the anterior and inferior
   nitrite and leukocyte esterase negative             segmental branches
17 CT: peripheral defect of the middle and lower    35-37 no fibromuscular dysplasia, polyarteritis
   right kidney                                        nodosa or atherosclerosis on it
18-20 read as pyelonephritis, lobar nephronia or    38 diagnosis: spontaneous renal artery dissection
   renal infarction (differentials)                 39 renal function stayed normal
21 admitted                                         40-42 lisinopril, aspirin, clopidogrel started
22 antibiotics                                      43 uneventful course until discharge
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.paths import FIXTURES_DIR

CASE = FIXTURES_DIR / "spontaneous-renal-artery-dissection.case.yaml"
RIGHT = "419465000"
ABSENT = "2667000"


@pytest.fixture(scope="module")
def b(fact_bundle: Any) -> Any:
    return fact_bundle(convert(CASE))


def _admission(b: Any) -> dict[str, Any]:
    (e,) = b.of("Encounter")
    return e  # type: ignore[no-any-return]


def _ref(r: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{r['id']}"}


def _side(b: Any, site: dict[str, Any]) -> str:
    (ext,) = site["extension"]
    structure = b.deref(ext["valueReference"])
    (qualifier,) = structure["locationQualifier"]
    return next(iter(b.codes(qualifier)))


def _verification(c: dict[str, Any]) -> str:
    return c["verificationStatus"]["coding"][0]["code"]  # type: ignore[no-any-return]


def _absent(o: dict[str, Any]) -> bool:
    return o.get("valueCodeableConcept", {}).get("coding", [{}])[0].get("code") == ABSENT


def test_1_young_man(b: Any) -> None:
    (p,) = b.of("Patient")
    assert p["gender"] == "male"
    assert b.one("Observation", "labs", "age")["valueQuantity"]["value"] == 27
    # "previously healthy" and "white" have no field: they are in the case summary only, which
    # a plain bundle does not carry (counted as not landing)


def test_2_right_flank_pain_about_five_days_the_reason_for_admission(b: Any) -> None:
    pain = b.one("Observation", "findings", "flank_pain")
    assert b.codes(pain["bodySite"]) == {"58602004"} and _side(b, pain["bodySite"]) == RIGHT
    assert "about 5 days before the start of inpatient encounter" in b.notes(pain)
    assert "sudden" in b.notes(pain)
    assert _admission(b)["reasonReference"] == [_ref(pain)]


@pytest.mark.parametrize("key", ["nausea", "vomiting"])
def test_3_4_nausea_and_vomiting(b: Any, key: str) -> None:
    o = b.one("Observation", "findings", key)
    assert "about 5 days before" in b.notes(o) and not _absent(o)


def test_5_8_mild_fever_before_none_at_presentation(b: Any) -> None:
    before, at = sorted(b.coded("Observation", "findings", "fever", n=2), key=_absent)
    assert "mild" in b.notes(before) and "about 5 days before" in b.notes(before)
    assert _absent(at) and "at the start of inpatient encounter" in b.notes(at)
    assert at["encounter"] == _ref(_admission(b))


@pytest.mark.parametrize(
    ("key", "words"),
    [
        ("urinary_symptoms", "no abnormal urinary"),
        ("kidney_stone", "no kidney stones"),
        ("abnormal_blood_pressure", "normal at presentation"),
    ],
)
def test_6_7_9_stated_absences(b: Any, key: str, words: str) -> None:
    o = b.one("Observation", "findings", key)
    assert _absent(o) and words in b.notes(o)


def test_10_11_12_first_blood_tests_without_invented_units(b: Any) -> None:
    # R4 Encounter has no note element: the encounter's notes are in its narrative
    div = _admission(b)["text"]["div"]
    assert "white cell count 11,900, BUN 9, creatinine 0.9 (no units" in div
    assert not [
        o for o in b.of("Observation") if o.get("valueQuantity", {}).get("value") in (11900, 9, 0.9)
    ]


def test_13_to_16_urinalysis(b: Any) -> None:
    urine = [s for s in b.of("Specimen") if b.codes(s["type"]) == {"UR"}]
    assert len(urine) == 1
    for key in ("blood_in_urine", "pyuria"):
        o = b.one("Observation", "findings", key)
        assert _absent(o) and o["specimen"] == _ref(urine[0])
    for key in ("nitrite_urine_dipstick", "leukocyte_esterase_urine_dipstick"):
        o = b.one("Observation", "labs", key)
        assert b.codes(o["valueCodeableConcept"]) == {"260385009"}
        assert b.codes(o["interpretation"][0]) == {"NEG"}
        assert o["specimen"] == _ref(urine[0])


def test_17_to_20_ct_defect_and_its_three_readings(b: Any) -> None:
    defect = next(
        o for o in b.of("Observation") if o["code"].get("text") == "Defect in the kidney on imaging"
    )
    assert b.codes(defect["bodySite"]) == {"64033007"} and _side(b, defect["bodySite"]) == RIGHT
    assert "middle and lower" in b.notes(defect)
    report = b.one("DiagnosticReport", "reports", "ct_report")
    assert report["result"] == [_ref(defect)]
    assert [c.get("text") for c in report["conclusionCode"]] == [
        "Pyelonephritis",
        "Lobar nephronia (acute focal bacterial nephritis)",
        "Renal infarction",
    ]
    for key in ("pyelonephritis", "lobar_nephronia"):
        c = b.one("Condition", "conditions", key)
        assert _verification(c) == "differential"
        assert "clinicalStatus" not in c and "category" not in c
        assert [e["detail"] for e in c["evidence"]] == [[_ref(defect)]]


def test_21_to_23_admitted_on_antibiotics_and_fluids(b: Any) -> None:
    e = _admission(b)
    assert e["class"]["code"] == "IMP" and e["status"] == "finished"
    antibiotics = b.one("MedicationStatement", "medications", "antibacterial")
    assert b.codes(antibiotics["medicationCodeableConcept"]) == {"J01"}
    fluids = b.one("MedicationStatement", "medications", "intravenous_fluids")
    for m in (antibiotics, fluids):
        assert m["context"] == _ref(e) and m["status"] == "unknown"
        assert "at the start of inpatient encounter" in b.notes(m)


def test_24_43_unchanged_symptoms_and_uneventful_course(b: Any) -> None:
    div = _admission(b)["text"]["div"]
    assert "did not change" in div and "uneventful until discharge" in div


def test_25_new_onset_hypertension_during_the_stay(b: Any) -> None:
    c = b.one("Condition", "conditions", "hypertensive_disorder")
    assert c["onsetString"].startswith("during inpatient encounter")
    assert "new-onset" in b.notes(c) and c["encounter"] == _ref(_admission(b))


def test_26_27_doppler_occlusion_makes_infarction_most_likely(b: Any) -> None:
    doppler = [
        s
        for s in b.of("ImagingStudy")
        if b.codes(s.get("procedureCode", [{}])[0]) == {"765172009"}
        and s["series"][0]["bodySite"]["code"] == "2841007"
    ]
    (study,) = doppler
    (series,) = study["series"]
    assert series["modality"]["code"] == "US" and series["laterality"]["code"] == RIGHT
    occlusions = b.coded("Observation", "findings", "renal_artery_occlusion", n=2)
    infarction = b.one("Condition", "conditions", "renal_infarction")
    assert _verification(infarction) == "provisional"
    assert b.codes(infarction["code"]) == {"N28.0"}
    evidence = [d for e in infarction["evidence"] for d in e["detail"]]
    assert any(_ref(o) in evidence for o in occlusions)
    assert _side(b, infarction["bodySite"][0]) == RIGHT


def test_28_32_negative_screens(b: Any) -> None:
    panels = {
        o["code"]["text"]: o
        for o in b.of("Observation")
        if "panel" in o["code"].get("text", "") and "coding" not in o["code"]
    }
    assert len(panels) == 2
    for o in panels.values():
        assert b.codes(o["valueCodeableConcept"]) == {"260385009"}
    assert "essentially negative" in b.notes(panels["Vasculitis screening panel (tests not named)"])


def test_29_30_31_no_clot_no_pfo_so_no_paradoxical_embolism(b: Any) -> None:
    dvt = b.one("Observation", "findings", "deep_venous_thrombosis")
    pfo = b.one("Observation", "findings", "patent_foramen_ovale")
    assert _absent(dvt) and _absent(pfo)
    assert b.codes(dvt["bodySite"]) == {"61685007"} and b.codes(pfo["bodySite"]) == {"80891009"}
    echo = b.one("DiagnosticReport", "reports", "echocardiography_report")
    assert echo["result"] == [_ref(pfo)]
    study = b.deref(echo["imagingStudy"][0])
    assert b.codes(study["procedureCode"][0]) == {"40701008"}
    assert "agitated saline" in study["description"].lower()
    embolism = next(c for c in b.of("Condition") if c["code"]["text"] == "Paradoxical embolism")
    assert _verification(embolism) == "refuted" and "clinicalStatus" not in embolism
    assert [d for e in embolism["evidence"] for d in e["detail"]] == [_ref(pfo), _ref(dvt)]


def test_33_34_38_arteriogram_shows_the_dissection(b: Any) -> None:
    (procedure,) = b.of("Procedure")
    assert b.codes(procedure["code"]) == {"77343006"}
    assert _side(b, procedure["bodySite"][0]) == RIGHT
    report = b.deref(procedure["report"][0])
    assert b.codes(report["code"]) == {"25079-5"}
    (study,) = [b.deref(r) for r in report["imagingStudy"]]
    assert study["series"][0]["modality"]["code"] == "XA"
    seen = b.one("Observation", "findings", "renal_artery_dissection")
    assert "middle part" in b.notes(seen)
    segmental = next(
        o
        for o in b.coded("Observation", "findings", "renal_artery_occlusion", n=2)
        if "segmental" in b.notes(o)
    )
    assert "anterior and the inferior" in b.notes(segmental)
    assert report["result"] == [_ref(seen), _ref(segmental)]
    srad = b.one("Condition", "conditions", "renal_artery_dissection")
    assert _verification(srad) == "confirmed" and "spontaneous" in b.notes(srad)
    assert _side(b, srad["bodySite"][0]) == RIGHT
    assert _admission(b)["diagnosis"] == [{"condition": _ref(srad)}]
    evidence = [d for e in srad["evidence"] for d in e["detail"]]
    assert _ref(seen) in evidence and _ref(segmental) in evidence


@pytest.mark.parametrize(
    "key", ["fibromuscular_dysplasia", "polyarteritis_nodosa", "atherosclerosis"]
)
def test_35_36_37_ruled_out_on_the_arteriogram(b: Any, key: str) -> None:
    c = b.one("Condition", "conditions", key)
    assert _verification(c) == "refuted" and "clinicalStatus" not in c
    report = b.one("DiagnosticReport", "reports", "renal_angiography_report")
    assert [d for e in c["evidence"] for d in e["detail"]] == [_ref(report)]


def test_39_renal_function_stayed_normal(b: Any) -> None:
    o = next(o for o in b.of("Observation") if o["code"].get("text") == "Normal renal function")
    assert "stayed normal" in b.notes(o)


@pytest.mark.parametrize(
    ("key", "rxcui"), [("lisinopril", "29046"), ("aspirin", "1191"), ("clopidogrel", "32968")]
)
def test_40_41_42_discharge_medicines(b: Any, key: str, rxcui: str) -> None:
    m = b.one("MedicationStatement", "medications", key)
    assert m["status"] == "active" and b.codes(m["medicationCodeableConcept"]) == {rxcui}
    assert "started during inpatient encounter" in b.notes(m)
