"""Every fact of the fatal COVID-19 pneumonia teaching case (Eurorad case 16885) lands in the
bundle, correctly coded. Facts, from the source:

 1 man, 81                                        21 hydroxychloroquine
 2 came to the emergency department               22 enoxaparin as thromboprophylaxis
 3 dry cough for ten days                         23 non-invasive ventilation
 4 fever for ten days                             24 no improvement
 5 paracetamol for it                             25 day 6: lymphocytes 0.72
 6 temperature 38.2 C                             26 day 6: neutrophils 13.25 (unit garbled)
 7 SpO2 89% on FiO2 21%                           27 day 6: CRP 183 mg/L
 8 lymphocytopenia 0.76 x10^3/uL (1.5-3.0)        28 day 6: LDH 520 U/L
 9 neutrophilia 10.85 ("x10/ul"; 3.0-5.8)         29 died ten days after admission
10 CRP 236.5 mg/L (0-5), increased                30 of acute respiratory failure
11 D-dimer 22.27 mg/L (0-0.5), increased          31 with multi-organ failure
12 fibrinogen 596 mg/dL (180-400)                 32 two days after the follow-up CT
13 LDH 807 U/L (125-220)                          33 advanced disease at admission (authors)
14 nasopharyngeal swab                            34 earlier aggressive treatment might help
15 SARS-CoV-2 RT-PCR positive                        (authors)
16 swabbed because of the outbreak                35 unenhanced chest CT at admission
17 viral pneumonia diagnosed from the PCR, a      36 widespread bilateral interstitial
   day after the CT                                  thickening
18 only supportive care before that               37 worst in the posterior lower lobes
19 antivirals                                     38 moderate segmental pleural thickening
20 antibiotics                                    39 seventh-day unenhanced CT: widespread
                                                     interstitial thickening
                                                  40 ... with ground-glass change
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.paths import FIXTURES_DIR

CASE = FIXTURES_DIR / "covid-19-pneumonia-fatal.case.yaml"
BILATERAL = "51440002"


@pytest.fixture(scope="module")
def b(fact_bundle: Any) -> Any:
    return fact_bundle(convert(CASE))


def _ref(r: dict[str, Any]) -> dict[str, str]:
    return {"reference": f"urn:uuid:{r['id']}"}


def _encounter(b: Any, code: str) -> dict[str, Any]:
    (e,) = [e for e in b.of("Encounter") if e["class"]["code"] == code]
    return e  # type: ignore[no-any-return]


def _by_text(b: Any, rtype: str, text: str) -> list[dict[str, Any]]:
    return [r for r in b.of(rtype) if r["code"].get("text") == text]


def _quantity(o: dict[str, Any]) -> tuple[float, str]:
    return o["valueQuantity"]["value"], o["valueQuantity"]["code"]


def _range(o: dict[str, Any]) -> tuple[float, float]:
    (rr,) = o["referenceRange"]
    return rr["low"]["value"], rr["high"]["value"]


def _interpretation(o: dict[str, Any]) -> str | None:
    if "interpretation" not in o:
        return None
    return o["interpretation"][0]["coding"][0]["code"]  # type: ignore[no-any-return]


def test_1_2_old_man_in_the_emergency_department(b: Any) -> None:
    (p,) = b.of("Patient")
    assert p["gender"] == "male"
    assert b.one("Observation", "labs", "age")["valueQuantity"]["value"] == 81
    ed = _encounter(b, "EMER")
    reasons = [b.deref(r)["code"]["text"] for r in ed["reasonReference"]]
    assert reasons == ["Cough", "Fever"]


@pytest.mark.parametrize(("key", "words"), [("cough", "dry cough"), ("fever", "paracetamol")])
def test_3_4_ten_days_of_dry_cough_and_fever(b: Any, key: str, words: str) -> None:
    o = b.one("Observation", "findings", key)
    rel = b.relative(o["_effectiveDateTime"])
    assert rel["event"]["valueReference"] == _ref(_encounter(b, "EMER"))
    assert rel["relationship"]["valueCode"] == "before-start"
    assert rel["offset"]["valueDuration"]["value"] == 10
    assert words in b.notes(o)


def test_5_paracetamol_for_the_fever(b: Any) -> None:
    m = b.one("MedicationStatement", "medications", "acetaminophen")
    assert m["reasonReference"] == [_ref(b.one("Observation", "findings", "fever"))]
    assert "before he came" in m["dosage"][0]["text"]


def test_6_7_temperature_and_saturation_on_room_air(b: Any) -> None:
    temp = b.one("Observation", "findings", "body_temperature")
    assert _quantity(temp) == (38.2, "Cel")
    sat = b.one("Observation", "findings", "oxygen_saturation")
    assert _quantity(sat) == (89, "%") and "fio2 21%" in b.notes(sat)
    assert sat["encounter"] == _ref(_encounter(b, "EMER"))


def test_8_25_lymphocytopenia_with_its_range_then_still_low(b: Any) -> None:
    first, day6 = sorted(
        b.coded("Observation", "labs", "lymphocytes_blood", n=2), key=lambda o: "sixth" in str(o)
    )
    assert _quantity(first) == (0.76, "10*3/uL") and _range(first) == (1.5, 3.0)
    assert _interpretation(first) == "L"
    assert _quantity(day6) == (0.72, "10*3/uL") and "5 to 6 days after" in b.notes(day6)


def test_9_26_neutrophilia_without_the_garbled_unit(b: Any) -> None:
    (o,) = _by_text(b, "Observation", "Neutrophilia (raised neutrophil count)")
    assert "valueQuantity" not in o
    notes = b.notes(o)
    assert "10.85" in notes and "x10/ul" in notes and "3.0-5.8" in notes and "13.25" in notes


@pytest.mark.parametrize(
    ("table", "key", "value", "unit", "low", "high", "flag"),
    [
        ("labs", "c_reactive_protein", 236.5, "mg/L", 0, 5, "H"),
        ("labs", "fibrinogen", 596, "mg/dL", 180, 400, None),
        ("labs", "lactate_dehydrogenase", 807, "U/L", 125, 220, None),
    ],
)
def test_10_12_13_results_with_ranges_flagged_only_where_the_source_says(
    b: Any, table: str, key: str, value: float, unit: str, low: float, high: float, flag: Any
) -> None:
    n = 1 if key == "fibrinogen" else 2  # CRP and LDH were measured again on day 6
    (o,) = [o for o in b.coded("Observation", table, key, n=n) if "sixth" not in b.notes(o)]
    assert _quantity(o) == (value, unit) and _range(o) == (low, high)
    assert _interpretation(o) == flag


def test_11_d_dimer_high_without_a_guessed_code(b: Any) -> None:
    (o,) = _by_text(b, "Observation", "D-dimer (FEU or DDU not stated)")
    assert "coding" not in o["code"]
    assert _quantity(o) == (22.27, "mg/L") and _range(o) == (0, 0.5)
    assert _interpretation(o) == "H"


def test_14_15_16_swab_positive_for_sars_cov_2(b: Any) -> None:
    pcr = b.one("Observation", "labs", "sars_cov_2_rna")
    assert b.codes(pcr["valueCodeableConcept"]) == {"10828004"}
    swab = b.deref(pcr["specimen"])
    assert b.codes(swab["type"]) == {"258500001"}
    assert "outbreak" in b.notes(pcr)
    covid = b.one("Condition", "conditions", "covid_19")
    assert b.codes(covid["code"]) == {"840539006", "U07.1"}
    assert [d for e in covid["evidence"] for d in e["detail"]] == [_ref(pcr)]


def test_17_18_33_34_viral_pneumonia_a_day_after_the_ct(b: Any) -> None:
    pneumonia = b.one("Condition", "conditions", "viral_pneumonia")
    notes = b.notes(pneumonia)
    assert "diagnosed 1 day after computed tomography" in notes
    assert "only supportive treatment" in notes
    assert "already advanced" in notes and "earlier aggressive treatment" in notes
    (due,) = [e for e in pneumonia["extension"] if e["url"].endswith("condition-dueTo")]
    assert due["valueReference"] == _ref(b.one("Condition", "conditions", "covid_19"))


@pytest.mark.parametrize(
    ("key", "code"),
    [
        ("antiviral", "J05"),
        ("antibacterial", "J01"),
        ("hydroxychloroquine", "5521"),
        ("enoxaparin", "67108"),
    ],
)
def test_19_to_22_treatments(b: Any, key: str, code: str) -> None:
    m = b.one("MedicationStatement", "medications", key)
    assert b.codes(m["medicationCodeableConcept"]) == {code}
    assert m["context"] == _ref(_encounter(b, "IMP"))
    if key == "enoxaparin":
        assert "thromboprophylaxis" in m["dosage"][0]["text"]


def test_23_non_invasive_ventilation(b: Any) -> None:
    (p,) = b.of("Procedure")
    assert b.codes(p["code"]) == {"428311008"}
    assert p["encounter"] == _ref(_encounter(b, "IMP"))


def test_24_29_no_improvement_and_death_ten_days_after_admission(b: Any) -> None:
    admission = _encounter(b, "IMP")
    assert admission["partOf"] == _ref(_encounter(b, "EMER"))
    assert b.codes(admission["hospitalization"]["dischargeDisposition"]) == {"exp"}
    assert (admission["length"]["value"], admission["length"]["code"]) == (10, "d")
    rel = b.relative(admission["period"]["_end"])
    assert rel["relationship"]["valueCode"] == "after-start"
    assert rel["offset"]["valueDuration"]["value"] == 10
    assert "did not improve" in admission["text"]["div"]


@pytest.mark.parametrize(
    ("key", "label"), [("crp", "c_reactive_protein"), ("ldh", "lactate_dehydrogenase")]
)
def test_27_28_day_six_results(b: Any, key: str, label: str) -> None:
    value = {"crp": 183, "ldh": 520}[key]
    (o,) = [o for o in b.coded("Observation", "labs", label, n=2) if "sixth" in b.notes(o)]
    assert o["valueQuantity"]["value"] == value


def test_30_31_causes_of_death(b: Any) -> None:
    admission = _encounter(b, "IMP")
    diagnoses = [d["condition"] for d in admission["diagnosis"]]
    for key in ("acute_respiratory_failure", "multiple_organ_failure"):
        assert _ref(b.one("Condition", "conditions", key)) in diagnoses


def test_35_to_38_first_ct_without_contrast(b: Any) -> None:
    first = next(s for s in b.of("ImagingStudy") if "at admission" in s["description"])
    assert first["status"] == "available" and "without contrast" in first["description"]
    sides = [s.get("laterality", {}).get("code") for s in first["series"]]
    assert sides == [BILATERAL, None]
    thickening = _by_text(b, "Observation", "Thickening of the lung interstitium on imaging")
    at_admission = [o for o in thickening if "posterior segments" in b.notes(o)]
    assert sorted(next(iter(b.codes(o["bodySite"]))) for o in at_admission) == [
        "39607008",
        "90572001",
    ]
    pleural = b.one("Observation", "findings", "pleural_thickening")
    assert b.codes(pleural["bodySite"]) == {"3120008"} and "moderate segmental" in b.notes(pleural)


def test_32_39_40_seventh_day_ct_two_days_before_death(b: Any) -> None:
    follow_up = next(s for s in b.of("ImagingStudy") if "Follow-up" in s["description"])
    rel = b.relative(follow_up["_started"])
    assert rel["relationship"]["valueCode"] == "before-end"
    assert rel["event"]["valueReference"] == _ref(_encounter(b, "IMP"))
    assert rel["offset"]["valueDuration"]["value"] == 2
    (glass,) = _by_text(b, "Observation", "Ground-glass opacity")
    report = next(r for r in b.of("DiagnosticReport") if _ref(glass) in r.get("result", []))
    assert report["imagingStudy"] == [_ref(follow_up)]
