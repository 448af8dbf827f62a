"""The terminology tables: shape, no duplicate keys, canonical systems, valid code syntax.

Code syntax is checked with the same checkers the validator uses (``fhir_adapter.codesystems``);
their own behaviour on known-good and known-bad codes is pinned at the end of this file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fhir_adapter.codesystems import (
    ATC,
    DICOM,
    ICD10CM,
    LOINC,
    RXNORM,
    SNOMED,
    UCUM,
    icd10cm_ok,
    loinc_ok,
    snomed_ok,
    verhoeff_ok,
)
from fhir_adapter.paths import MAPPINGS_DIR

TABLES = sorted(MAPPINGS_DIR.glob("*.yaml"))

HL7_PREFIX = "http://terminology.hl7.org/CodeSystem/"
ALLOWED_SYSTEMS = {
    SNOMED,
    LOINC,
    ICD10CM,
    RXNORM,
    ATC,
    UCUM,
    DICOM,
    HL7_PREFIX + "condition-clinical",
    HL7_PREFIX + "condition-ver-status",
    HL7_PREFIX + "condition-category",
    HL7_PREFIX + "observation-category",
    HL7_PREFIX + "v3-ObservationInterpretation",
    HL7_PREFIX + "v2-0074",
    HL7_PREFIX + "data-absent-reason",
    HL7_PREFIX + "v3-ActCode",
    HL7_PREFIX + "diagnosis-role",
    HL7_PREFIX + "discharge-disposition",
    HL7_PREFIX + "allergyintolerance-clinical",
    HL7_PREFIX + "allergyintolerance-verification",
    HL7_PREFIX + "v2-0487",
    "http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips",
    HL7_PREFIX + "v3-RouteOfAdministration",
    HL7_PREFIX + "v3-ActSite",
}
#: Acquisition modalities from DICOM PS3.16 CID 29 that an adapter might meet. "XR" is not a
#: DICOM modality; "OT" is left out (not an acquisition modality in current CID 29).
DICOM_MODALITIES = {"CR", "CT", "DX", "MG", "MR", "NM", "PT", "RF", "US", "XA"}
EXPECTED_KEYS = {
    "conditions": {
        "systemic_lupus_erythematosus",
        "lupus_panniculitis",
        "calcinosis_cutis_universalis",
        "type_2_diabetes_mellitus",
    },
    "findings": {
        "skin_plaques",
        "skin_ulcer",
        "wound_discharge",
        "soft_tissue_calcification",
        "calcification_skin_subcutis_sparing_muscle",
        "calcified_nodules",
        "dermal_lymphocytic_infiltrate",
        "calcification_staining",
        "disease_progression",
    },
    "labs": {
        "serum_calcium",
        "serum_phosphate",
        "parathyroid_hormone",
        "muscle_enzymes",
        "hemoglobin_a1c",
        "age",
    },
    "qualifiers": {
        "normal",
        "absent",
        "interpretation_normal",
        "interpretation_high",
        "laterality_left",
        "laterality_right",
        "laterality_bilateral",
    },
    "procedures": {"biopsy"},
    "specimen_types": {"tissue"},
    "social_history": {"tobacco_smoking_status"},
    "reports": {
        "radiography_report",
        "ct_report",
        "pathology_report",
        "category_radiology",
        "category_pathology",
        "category_laboratory",
    },
    "medications": {"prednisolone", "diltiazem", "bisphosphonate", "corticosteroid", "metformin"},
    "routes": {"oral", "intralesional"},
    "body_sites": {
        "entire_skin",
        "pelvis",
        "thigh",
        "knee",
        "lower_leg",
        "skin_and_subcutaneous_tissue",
        "subcutaneous_tissue",
        "skeletal_muscle",
    },
    "modalities": {"plain_radiography", "computed_tomography"},
    "units": {
        "mg",
        "mg/d",
        "mg/kg/d",
        "a",
        "mo",
        "wk",
        "d",
        "h",
        "min",
        "%",
        "mg/dL",
        "mmol/L",
        "pg/mL",
        "U/L",
        "kg",
    },
    "hl7": {
        "clinical_active",
        "clinical_resolved",
        "verification_confirmed",
        "category_problem_list_item",
        "category_encounter_diagnosis",
        "obs_category_laboratory",
        "obs_category_exam",
        "obs_category_imaging",
        "obs_category_social_history",
        "obs_category_survey",
        "data_absent_unknown",
        "data_absent_not_performed",
    },
    "ips": {
        "patient_summary_document",
        "section_problems",
        "section_allergies",
        "section_medications",
        "section_results",
        "section_past_illness",
        "section_procedures",
        "section_social_history",
        "no_allergy_info",
        "no_medication_info",
        "no_problem_info",
    },
}

# --- YAML loading ---------------------------------------------------------------------------


class StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_text(text: str) -> Any:
    return yaml.load(text, Loader=StrictLoader)  # StrictLoader is a SafeLoader


def load(path: Path) -> Any:
    return load_text(path.read_text(encoding="utf-8"))


def all_codings() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (p.stem, key, c)
        for p in TABLES
        for key, concept in load(p)["concepts"].items()
        for c in concept.get("codings") or []
    ]


CODINGS = all_codings()


def _id(value: Any) -> str:
    return value if isinstance(value, str) else ""


# --- table tests ----------------------------------------------------------------------------


def test_every_expected_table_and_key_is_present() -> None:
    assert {p.stem for p in TABLES} == set(EXPECTED_KEYS)
    for p in TABLES:
        keys = set(load(p)["concepts"])
        missing = EXPECTED_KEYS[p.stem] - keys
        assert not missing, f"{p.stem}: missing {sorted(missing)}"


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_table_shape(path: Path) -> None:
    data = load(path)
    assert set(data) <= {"table", "description", "concepts"}
    assert data["table"] == path.stem
    assert isinstance(data["description"], str) and data["description"].strip()
    assert isinstance(data["concepts"], dict) and data["concepts"]
    for key, concept in data["concepts"].items():
        assert isinstance(key, str)
        if path.stem != "units":
            assert re.fullmatch(r"[a-z][a-z0-9]*(_[a-z0-9]+)*", key), key
        assert isinstance(concept, dict), key
        assert set(concept) <= {"text", "codings", "note"}, key
        assert isinstance(concept["text"], str) and concept["text"].strip(), key
        assert isinstance(concept["codings"], list), key
        for c in concept["codings"]:
            assert set(c) == {"system", "code", "display", "verified"}, (key, c)
            for field in ("system", "code", "display", "verified"):
                assert isinstance(c[field], str), (key, field)
                assert c[field].strip() == c[field] and c[field], (key, field)
        if not concept["codings"]:
            assert str(concept.get("note", "")).strip(), f"{key}: text-only concept needs a note"


@pytest.mark.parametrize(("table", "key", "coding"), CODINGS, ids=_id)
def test_coding_system_and_code_syntax(table: str, key: str, coding: dict[str, Any]) -> None:
    system, code = coding["system"], coding["code"]
    assert system in ALLOWED_SYSTEMS, f"{table}.{key}: {system} is not an allowed canonical URI"
    if system == SNOMED:
        assert snomed_ok(code), f"{table}.{key}: {code} fails the SCTID/Verhoeff check"
    elif system == LOINC:
        assert loinc_ok(code), f"{table}.{key}: {code} fails the LOINC check digit"
    elif system == ICD10CM:
        assert icd10cm_ok(code), f"{table}.{key}: {code} is not ICD-10-CM shaped"
    elif system == RXNORM:
        assert re.fullmatch(r"[1-9][0-9]*", code), f"{table}.{key}: RxCUI must be numeric"
    elif system == ATC:
        assert re.fullmatch(r"[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?", code), code
    elif system == DICOM:
        assert code in DICOM_MODALITIES, f"{table}.{key}: {code} is not a CID 29 modality"
    elif system == UCUM:
        from ucumvert import get_ucum_parser

        get_ucum_parser().parse(code)  # raises on invalid UCUM
        assert key == code and table == "units"


def test_units_table_codes_equal_keys_and_parse() -> None:
    from ucumvert import get_ucum_parser

    parser = get_ucum_parser()
    for key, concept in load(MAPPINGS_DIR / "units.yaml")["concepts"].items():
        (coding,) = concept["codings"]
        assert coding["system"] == UCUM and coding["code"] == key
        assert coding["display"] == concept["text"]
        parser.parse(key)


def test_no_code_has_two_displays_in_one_table() -> None:
    seen: dict[tuple[str, str, str], str] = {}
    for table, key, c in CODINGS:
        prev = seen.setdefault((table, c["system"], c["code"]), c["display"])
        assert prev == c["display"], f"{table}.{key}: {c['code']} has displays {prev!r}"


def test_hl7_and_dicom_codes_and_displays_are_the_official_r4_ones() -> None:
    """Against the code systems generated from the official R4 definitions (validation data)."""
    from fhir_adapter.validation.tables import displays

    known = displays()
    checked = 0
    for table, key, c in CODINGS:
        if c["system"].startswith(HL7_PREFIX) or c["system"] == DICOM:
            assert c["system"] in known, f"{table}.{key}: {c['system']} not in R4 definitions"
            names = known[c["system"]].get(c["code"])
            assert names is not None, f"{table}.{key}: {c['code']} is not a code of {c['system']}"
            official = names if isinstance(names, str) else names[0]
            assert c["display"] == official, (table, key, c["code"], official)
            checked += 1
    assert checked >= 20
    # the table has teeth: a made-up code and a wrong display are caught
    cat = known[HL7_PREFIX + "observation-category"]
    assert "laboratory" in cat and "lab" not in cat and cat["laboratory"] != "Lab"


#: SNOMED CT codes of the IPS free set whose table display differs from the free set's preferred
#: term on purpose: code -> why (another official term of the code). Empty: none do.
FREE_SET_DISPLAY_EXCEPTIONS: dict[str, str] = {}


def free_set_mismatches(codings: list[tuple[str, str, dict[str, Any]]]) -> list[str]:
    """Table SNOMED CT codings in the shipped IPS free-set index whose display is not the free
    set's (nor an allowed exception)."""
    from fhir_adapter.concepts.index import snomed_index

    preferred = {code: display for code, display, _ in snomed_index()["concepts"]}
    return [
        f"{table}.{key}: {c['code']} display {c['display']!r}, the free set says"
        f" {preferred[c['code']]!r}"
        for table, key, c in codings
        if c["system"] == SNOMED
        and c["code"] in preferred
        and c["display"] != preferred[c["code"]]
        and c["code"] not in FREE_SET_DISPLAY_EXCEPTIONS
    ]


def test_snomed_codes_of_the_ips_free_set_have_its_display() -> None:
    """Every SNOMED CT code that the shipped SNOMED CT IPS free-set index holds (generated from
    the IPS package, International edition 20220731) carries the free set's preferred term."""
    from fhir_adapter.concepts.index import snomed_index

    assert free_set_mismatches(CODINGS) == []
    free_set = {code for code, _, _ in snomed_index()["concepts"]}
    checked = {c["code"] for _, _, c in CODINGS if c["system"] == SNOMED and c["code"] in free_set}
    assert len(checked) >= 60
    # teeth: a display that is only a synonym, or a wrong one, is caught
    dm = {"system": SNOMED, "code": "44054006", "display": "Diabetes mellitus type 2"}
    assert free_set_mismatches([("conditions", "t2dm", dm)])
    for code, why in FREE_SET_DISPLAY_EXCEPTIONS.items():
        assert why.strip(), code


# --- the checkers themselves, on known-good and known-bad inputs ------------------------------


@pytest.mark.parametrize(
    "code", ["55464009", "239888002", "26643006", "372466002", "39937001", "44054006"]
)
def test_snomed_checker_accepts_real_sctids(code: str) -> None:
    assert snomed_ok(code)


@pytest.mark.parametrize(
    "code",
    [
        "55464008",  # last digit changed
        "55464090",  # two digits transposed
        "239888003",
        "26643060",
        "012345",  # leading zero
        "12345",  # too short
        "5546400X",
        "55464119",  # partition 11: not a concept id
    ],
)
def test_snomed_checker_rejects_bad_ids(code: str) -> None:
    assert not snomed_ok(code)


def test_verhoeff_detects_every_single_digit_error() -> None:
    code = "44054006"
    for i in range(len(code)):
        for d in "0123456789":
            if d != code[i]:
                assert not verhoeff_ok(code[:i] + d + code[i + 1 :])


@pytest.mark.parametrize(
    "code", ["17861-6", "2777-1", "2731-8", "4548-4", "30525-0", "43468-8", "25045-6", "11526-1"]
)
def test_loinc_checker_accepts_real_codes(code: str) -> None:
    assert loinc_ok(code)


@pytest.mark.parametrize(
    "code", ["17861-7", "2777-2", "4548-5", "4548", "45484", "ABC-1", "4548-44", "-4"]
)
def test_loinc_checker_rejects_bad_codes(code: str) -> None:
    assert not loinc_ok(code)


def test_icd10cm_shape() -> None:
    assert all(icd10cm_ok(c) for c in ("M32.9", "L93.2", "L94.2", "E11.9", "E11", "M32.14"))
    # chapter 22 (U00-U85) holds real codes since 2020: COVID-19, post COVID-19 condition
    assert all(icd10cm_ok(c) for c in ("U07.1", "U09.9"))
    assert not any(icd10cm_ok(c) for c in ("M329", "m32.9", "32.9", "M32.", "M32.12345"))


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'a'"):
        load_text("concepts:\n  a: {text: A}\n  a: {text: B}\n")


def test_nested_duplicate_keys_are_rejected() -> None:
    text = "concepts:\n  a:\n    text: A\n    codings: []\n    text: B\n"
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'text'"):
        load_text(text)


def test_loader_is_safe() -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        load_text("!!python/object/apply:os.system ['true']")
