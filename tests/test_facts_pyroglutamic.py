"""Every fact of the pyroglutamic acidosis case report (Myall, Sidney, Marsh; Lancet 2011) lands
in the bundle, correctly coded. Facts, from the source (its available text):

 1 woman, 50 years old                           15 ICU after 12 days of that treatment
 2 presented May 2010 with hip pain              16 obtunded, tachypnoeic, tachycardic, hypotensive
 3 temperature 37.5 degC                         17 ABG pH 7.277          18 pCO2 1.31 kPa
 4 epilepsy                                      19 pO2 11.65 kPa         20 base excess -19.8 mmol/L
 5 phenobarbital, carbamazepine, phenytoin       21 bicarbonate 4.5 mmol/L 22 sodium 128 mmol/L
 6 white cells 12.2 x10^9/L                      23 potassium 2.6 mmol/L  24 chloride 96 mmol/L
 7 haemoglobin 152 g/L                           25 anion gap 30.1 mmol/L, profoundly high
 8 CRP 87.9 mg/L                                 26 glucose 10.1 mmol/L   27 lactate 2.15 mmol/L
 9 blood culture: flucloxacillin-sensitive       28 renal function normal: urea 4.9 mmol/L,
   S. aureus                                        creatinine 99 umol/L
10 hip fluid aspirated; culture: the same        29 urine dipstick ketones positive
11 IV flucloxacillin 8 g a day                   30 starvation ketosis excluded: 3-hydroxybutyrate
12 paracetamol 4 g a day                            0.50 mmol/L, free fatty acids 0.86 mmol/L
13 sepsis                                        31 changed to meropenem (new wound and urine
14 high anion gap metabolic acidosis                cultures)
                                                 32 pyroglutamic acidaemia suspected (sepsis,
                                                    flucloxacillin, paracetamol)
                                                 33 confirmed: urine 5-oxoproline 16500 umol/mmol
                                                    creatinine
                                                 34 no improvement despite repeated sodium
                                                    bicarbonate
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.paths import FIXTURES_DIR

CASE = FIXTURES_DIR / "pyroglutamic-acidosis-flucloxacillin.case.yaml"
EXT = "http://hl7.org/fhir/StructureDefinition/"


@pytest.fixture(scope="module")
def b(fact_bundle: Any) -> Any:
    return fact_bundle(convert(CASE))


def _value(o: dict[str, Any]) -> tuple[Any, Any]:
    return o["valueQuantity"]["value"], o["valueQuantity"]["code"]


def test_1_to_3_presentation_in_may_2010(b: Any) -> None:
    (p,) = b.of("Patient")
    assert p["gender"] == "female"
    assert b.one("Observation", "labs", "age")["valueQuantity"]["value"] == 50
    pain = b.one("Observation", "findings", "hip_pain")
    assert pain["effectiveDateTime"] == "2010-05"
    assert b.codes(pain["bodySite"]) == {"29836001"}
    t = b.one("Observation", "findings", "body_temperature")
    assert _value(t) == (37.5, "Cel") and t["effectiveDateTime"] == "2010-05"


def test_4_5_epilepsy_and_three_anticonvulsants(b: Any) -> None:
    epilepsy = b.one("Condition", "conditions", "epilepsy")
    for key in ("phenobarbital", "carbamazepine", "phenytoin"):
        ms = b.one("MedicationStatement", "medications", key)
        assert ms["status"] == "active"
        assert ms["reasonReference"] == [{"reference": f"urn:uuid:{epilepsy['id']}"}]


@pytest.mark.parametrize(
    ("key", "value", "unit"),
    [
        ("leukocytes_blood", 12.2, "10*9/L"),
        ("hemoglobin_mass", 152, "g/L"),
        ("c_reactive_protein", 87.9, "mg/L"),
    ],
)
def test_6_7_8_first_blood_tests(b: Any, key: str, value: float, unit: str) -> None:
    o = b.one("Observation", "labs", key)
    assert _value(o) == (value, unit) and o["effectiveDateTime"] == "2010-05"


def test_9_10_cultures_grow_mssa_from_blood_and_hip_fluid(b: Any) -> None:
    blood = b.one("Observation", "labs", "bacteria_blood_culture")
    joint = b.one("Observation", "labs", "joint_fluid_culture")
    for o in (blood, joint):
        assert b.codes(o["valueCodeableConcept"]) == {"417943000"}
    assert b.codes(b.deref(blood["specimen"])["type"]) == {"BLD"}
    fluid = b.deref(joint["specimen"])
    assert b.codes(fluid["type"]) == {"SNV"}
    assert "collected by aspiration of a joint" in b.notes(fluid)
    aspiration = b.one("Procedure", "procedures", "joint_aspiration")
    assert b.codes(aspiration["bodySite"][0]) == {"29836001"}


def test_11_12_doses(b: Any) -> None:
    fluclox = b.one("MedicationStatement", "medications", "flucloxacillin")
    rate = fluclox["dosage"][0]["doseAndRate"][0]["rateQuantity"]
    assert (rate["value"], rate["code"]) == (8, "g/d")
    assert b.codes(fluclox["dosage"][0]["route"]) == {"47625008"}
    para = b.one("MedicationStatement", "medications", "acetaminophen")
    assert para["dosage"][0]["doseAndRate"][0]["rateQuantity"]["value"] == 4


def test_13_14_sepsis_and_high_anion_gap_acidosis(b: Any) -> None:
    sepsis = b.one("Condition", "conditions", "sepsis")
    assert len(sepsis["evidence"][0]["detail"]) == 2
    acidosis = b.one("Condition", "conditions", "metabolic_acidosis")
    assert b.codes(acidosis["severity"]) == {"24484000"}
    assert "high anion gap" in b.notes(acidosis)


def test_15_16_intensive_care_after_12_days(b: Any) -> None:
    (icu,) = b.of("Encounter")
    fluclox = b.one("MedicationStatement", "medications", "flucloxacillin")
    rel = b.relative(icu["period"]["_start"])
    assert rel["event"]["valueReference"] == {"reference": f"urn:uuid:{fluclox['id']}"}
    assert rel["relationship"]["valueCode"] == "after-start"
    assert (rel["offset"]["valueDuration"]["value"], rel["offset"]["valueDuration"]["code"]) == (
        12,
        "d",
    )
    for table, key in (
        ("findings", "obtundation"),
        ("findings", "tachypnea"),
        ("findings", "tachycardia"),
        ("findings", "hypotension"),
    ):
        o = b.one("Observation", table, key)
        assert "effectiveDateTime" not in o  # the ICU date is not known
        assert "when: at the start of inpatient encounter" in b.notes(o)


@pytest.mark.parametrize(
    ("key", "value", "unit"),
    [
        ("ph_arterial", 7.277, "[pH]"),
        ("pco2_arterial", 1.31, "kPa"),
        ("po2_arterial", 11.65, "kPa"),
        ("base_excess_arterial", -19.8, "mmol/L"),
        ("bicarbonate_arterial", 4.5, "mmol/L"),
        ("sodium_blood", 128, "mmol/L"),
        ("potassium_blood", 2.6, "mmol/L"),
        ("chloride_blood", 96, "mmol/L"),
        ("anion_gap", 30.1, "mmol/L"),
        ("glucose_serum_molar", 10.1, "mmol/L"),
        ("lactate_serum", 2.15, "mmol/L"),
        ("urea_serum_molar", 4.9, "mmol/L"),
        ("creatinine_serum_molar", 99, "umol/L"),
    ],
)
def test_17_to_28_intensive_care_results_including_a_negative_one(
    b: Any, key: str, value: float, unit: str
) -> None:
    o = b.one("Observation", "labs", key)
    assert _value(o) == (value, unit)
    assert o["category"][0]["coding"][0]["code"] == "laboratory"


def test_25_anion_gap_high(b: Any) -> None:
    gap = b.one("Observation", "labs", "anion_gap")
    assert gap["interpretation"][0]["coding"][0]["code"] == "H"


def test_28_renal_function_normal(b: Any) -> None:
    assert "normal" in b.notes(b.one("Observation", "findings", "normal_renal_function"))


def test_29_30_starvation_ketosis_excluded(b: Any) -> None:
    ketosis = b.one("Condition", "conditions", "starvation_ketosis")
    assert ketosis["verificationStatus"]["coding"][0]["code"] == "refuted"
    assert "clinicalStatus" not in ketosis and "category" not in ketosis
    evidence = [b.deref(r) for r in ketosis["evidence"][0]["detail"]]
    values = sorted(o["valueQuantity"]["value"] for o in evidence if "valueQuantity" in o)
    assert values == [0.5, 0.86]
    dipstick = b.one("Observation", "labs", "urine_ketones_dipstick")
    assert b.codes(dipstick["valueCodeableConcept"]) == {"10828004"}


def test_31_changed_to_meropenem(b: Any) -> None:
    fluclox = b.one("MedicationStatement", "medications", "flucloxacillin")
    assert fluclox["status"] == "stopped" and "meropenem" in fluclox["dosage"][0]["text"]
    mero = b.one("MedicationStatement", "medications", "meropenem")
    assert "J01DH02" in b.codes(mero["medicationCodeableConcept"])


def test_32_33_pyroglutamic_acidaemia_due_to_the_drugs_confirmed(b: Any) -> None:
    c = b.one("Condition", "conditions", "pyroglutamic_acidosis")
    assert c["verificationStatus"]["coding"][0]["code"] == "confirmed"
    causes = {
        b.deref(e["valueReference"])["resourceType"]
        for e in c["extension"]
        if e["url"] == EXT + "condition-dueTo"
    }
    assert causes == {"MedicationStatement", "Condition"}
    oxo = b.one("Observation", "labs", "urine_5_oxoproline")
    assert _value(oxo) == (16500, "umol/mmol{creat}")
    assert b.codes(b.deref(oxo["specimen"])["type"]) == {"UR"}


def test_34_bicarbonate_without_improvement(b: Any) -> None:
    ms = b.one("MedicationStatement", "medications", "sodium_bicarbonate")
    assert "without improvement" in ms["dosage"][0]["text"]
