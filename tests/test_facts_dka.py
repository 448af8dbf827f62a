"""Every fact of the euglycaemic DKA case presentation ("Mind the Gap", SHM meeting abstract)
lands in the bundle, correctly coded. Facts, from the source:

 1 man, 55 years old                             13 venous pH 7.36, pCO2 45 mmHg
 2 poorly controlled type 2 diabetes             14 urine acellular, ketones 1+
 3 coronary bypass a month before                15 CT of abdomen and thorax unremarkable
 4 empagliflozin/metformin started after it      16 presumptive diagnosis: DKA
 5 three days of dyspnoea, nausea, vomiting,     17 treated with IV fluids and SC insulin
   constipation                                  18 beta-hydroxybutyrate 4.01 mmol/L, later
 6 tachycardia on presentation                   19 discharged three days later
 7 mild left lower quadrant tenderness           20 on immediate-release metformin
 8 leukocytosis 15.2                             21 empagliflozin removed from his medicines
 9 glucose 89 mg/dL (normal)                     22 euglycaemic DKA: a side effect of the SGLT2
10 bicarbonate 24 ("mg/dL" as printed)              inhibitor
11 anion gap 18 mEq/L, raised                    23 metformin-induced vomiting and starvation
12 lactate 2.2 mmol/L                               the likely trigger (authors' view)
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.paths import FIXTURES_DIR

CASE = FIXTURES_DIR / "euglycemic-dka-empagliflozin.case.yaml"
EXT = "http://hl7.org/fhir/StructureDefinition/"


@pytest.fixture(scope="module")
def b(fact_bundle: Any) -> Any:
    return fact_bundle(convert(CASE))


def _admission(b: Any) -> dict[str, Any]:
    (e,) = b.of("Encounter")
    return e  # type: ignore[no-any-return]


def test_1_2_patient_and_poorly_controlled_diabetes(b: Any) -> None:
    (p,) = b.of("Patient")
    assert p["gender"] == "male"
    assert b.one("Observation", "labs", "age")["valueQuantity"]["value"] == 55
    assert "poorly controlled" in b.notes(
        b.one("Condition", "conditions", "type_2_diabetes_mellitus")
    )


def test_3_4_bypass_a_month_before_then_the_new_drugs(b: Any) -> None:
    cabg = b.one("Procedure", "procedures", "coronary_artery_bypass_graft")
    rel = b.relative(cabg["_performedDateTime"])
    assert rel["relationship"]["valueCode"] == "before-start"
    assert (rel["offset"]["valueDuration"]["value"], rel["offset"]["valueDuration"]["code"]) == (
        1,
        "mo",
    )
    empa = b.one("MedicationStatement", "medications", "empagliflozin")
    assert "started after coronary artery bypass graft" in b.notes(empa)
    assert "combination" in empa["dosage"][0]["text"]


@pytest.mark.parametrize("key", ["dyspnea", "nausea", "vomiting", "constipation"])
def test_5_three_days_of_symptoms_the_reasons_for_admission(b: Any, key: str) -> None:
    o = b.one("Observation", "findings", key)
    rel = b.relative(o["_effectiveDateTime"])
    assert rel["event"]["valueReference"] == {"reference": f"urn:uuid:{_admission(b)['id']}"}
    assert (rel["relationship"]["valueCode"], rel["offset"]["valueDuration"]["value"]) == (
        "before-start",
        3,
    )
    assert {"reference": f"urn:uuid:{o['id']}"} in _admission(b)["reasonReference"]


def test_6_7_tachycardia_and_left_lower_quadrant_tenderness(b: Any) -> None:
    b.one("Observation", "findings", "tachycardia")
    tender = b.one("Observation", "findings", "abdominal_tenderness")
    assert b.codes(tender["bodySite"]) == {"LLAQ"} and "mild" in b.notes(tender)


def test_8_leukocytosis_without_an_invented_unit(b: Any) -> None:
    o = b.one("Observation", "findings", "leukocytosis")
    assert "valueQuantity" not in o and "15.2" in b.notes(o)


@pytest.mark.parametrize(
    ("key", "value", "unit"),
    [
        ("glucose_serum", 89, "mg/dL"),
        ("anion_gap", 18, "meq/L"),
        ("lactate_serum", 2.2, "mmol/L"),
        ("ph_venous", 7.36, "[pH]"),
        ("pco2_venous", 45, "mm[Hg]"),
        ("beta_hydroxybutyrate", 4.01, "mmol/L"),
    ],
)
def test_9_to_13_18_results(b: Any, key: str, value: float, unit: str) -> None:
    o = b.one("Observation", "labs", key)
    assert (o["valueQuantity"]["value"], o["valueQuantity"]["code"]) == (value, unit)


def test_10_11_raised_gap_and_the_bicarbonate_as_printed(b: Any) -> None:
    gap = b.one("Observation", "labs", "anion_gap")
    assert gap["interpretation"][0]["coding"][0]["code"] == "H"
    assert "bicarbonate was reported as 24" in b.notes(gap)


def test_14_urine(b: Any) -> None:
    ketones = b.one("Observation", "labs", "urine_ketones_dipstick")
    assert b.codes(ketones["valueCodeableConcept"]) == {"10828004"} and "1+" in b.notes(ketones)
    assert b.codes(b.deref(ketones["specimen"])["type"]) == {"UR"}
    assert "no cells" in b.notes(b.one("Observation", "findings", "urine_sediment_acellular"))


def test_15_ct_of_chest_and_abdomen_unremarkable(b: Any) -> None:
    (study,) = b.of("ImagingStudy")
    assert [s["bodySite"]["code"] for s in study["series"]] == ["51185008", "818983003"]
    report = b.one("DiagnosticReport", "reports", "ct_report")
    assert "unremarkable" in report["conclusion"]
    parts = [b.deref(r) for r in report["result"]]
    assert sorted(next(iter(b.codes(p["bodySite"]))) for p in parts) == ["51185008", "818983003"]


def test_16_22_presumptive_dka_due_to_empagliflozin(b: Any) -> None:
    dka = b.one("Condition", "conditions", "diabetic_ketoacidosis")
    assert dka["verificationStatus"]["coding"][0]["code"] == "provisional"
    due = [
        b.deref(e["valueReference"])
        for e in dka["extension"]
        if e["url"] == EXT + "condition-dueTo"
    ]
    assert [d["medicationCodeableConcept"]["coding"][0]["code"] for d in due] == ["1545653"]
    assert "euglycaemic" in b.notes(dka)
    (diagnosis,) = _admission(b)["diagnosis"]
    assert diagnosis["condition"] == {"reference": f"urn:uuid:{dka['id']}"}
    assert diagnosis["use"]["coding"][0]["code"] == "AD"


def test_17_fluids_and_subcutaneous_insulin(b: Any) -> None:
    insulin = b.one("MedicationStatement", "medications", "insulin")
    assert b.codes(insulin["dosage"][0]["route"]) == {"34206005"}
    fluids = b.one("MedicationStatement", "medications", "intravenous_fluids")
    assert b.codes(fluids["dosage"][0]["route"]) == {"47625008"}


def test_19_home_three_days_later(b: Any) -> None:
    e = _admission(b)
    assert (e["length"]["value"], e["length"]["code"]) == (3, "d")
    rel = b.relative(e["period"]["_end"])
    assert rel["relationship"]["valueCode"] == "after-start"
    assert "valueReference" not in rel["event"]  # relative to itself: named in words


def test_20_21_metformin_continues_empagliflozin_stops(b: Any) -> None:
    metformin = b.one("MedicationStatement", "medications", "metformin")
    first, second = metformin["dosage"]
    assert (first["sequence"], second["sequence"]) == (1, 2)
    assert "combination" in first["text"] and "immediate-release" in second["text"].lower()
    empa = b.one("MedicationStatement", "medications", "empagliflozin")
    assert empa["status"] == "stopped"
    assert b.codes(empa["statusReason"][0]) == {"420422005"}


def test_23_the_authors_trigger(b: Any) -> None:
    dka = b.one("Condition", "conditions", "diabetic_ketoacidosis")
    assert "vomiting from the metformin" in b.notes(dka)
