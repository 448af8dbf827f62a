"""The profile modes' data agrees with the official IG packages in ../shared/igs.

The index (data/igs.json) regenerates byte-identically; every profile id of rules.yaml exists;
the codes the modes write (document and section codes, IPS absent/unknown codes, US Core
categories) are the packages' own fixed/pattern values and displays.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from fhir_adapter.paths import MAPPINGS_DIR
from fhir_adapter.profiled import MODES, generate
from fhir_adapter.profiled.rules import index, rules

from .pkgcheck import package, vs_members

IPS = "hl7.fhir.uv.ips-1.1.0"
COMPOSITION = "http://hl7.org/fhir/uv/ips/StructureDefinition/Composition-uv-ips"


def ips_table() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((MAPPINGS_DIR / "ips.yaml").read_text(encoding="utf-8"))
    return data["concepts"]  # type: ignore[no-any-return]


def coding(key: str) -> dict[str, Any]:
    (c,) = ips_table()[key]["codings"]
    return c  # type: ignore[no-any-return]


def composition_elements(igs: Path) -> dict[str, dict[str, Any]]:
    sd = package(IPS).sds[COMPOSITION]
    return {e["id"]: e for e in sd["snapshot"]["element"]}


def test_index_regenerates_byte_identical(igs: Path, tmp_path: Path) -> None:
    out = tmp_path / "igs.json"
    assert generate.main(["--igs", str(igs), "--out", str(out)]) == 0
    assert out.read_bytes() == generate.OUT.read_bytes()
    # and it records the exact package files it was made from
    import hashlib

    for entry in index().values():
        stem = f"{entry['name']}-{entry['version']}"
        assert hashlib.sha256((igs / f"{stem}.tgz").read_bytes()).hexdigest() == entry["sha256"]


def test_modes_and_rules_name_the_same_versions() -> None:
    for name, versions in MODES.items():
        assert set(versions) == set(rules()[name]["versions"])
        assert versions[0] == rules()[name]["default"]
        for v in versions:
            assert f"{rules()[name]['package']}#{v}" in index()


def test_every_rule_profile_exists_in_some_version() -> None:
    for name in MODES:
        pkg = rules()[name]["package"]
        ids = set().union(*(index()[f"{pkg}#{v}"]["profiles"] for v in rules()[name]["versions"]))
        for rule in rules()[name]["rules"]:
            for pid in rule["profile"]:
                assert pid in ids, (name, pid)
        for pid in rules()[name]["invariant_required"]:
            assert pid in ids, (name, pid)


def test_invariant_required_elements_are_what_the_invariants_test(igs: Path) -> None:
    for pid, names in rules()["us-core"]["invariant_required"].items():
        for v in rules()["us-core"]["versions"]:
            sd = package(f"hl7.fhir.us.core-{v}").sds.get(
                f"http://hl7.org/fhir/us/core/StructureDefinition/{pid}"
            )
            if sd is None:
                continue
            text = json.dumps(sd["snapshot"])
            for name in names:
                stem = name.replace("[x]", "")
                required = f'"id": "{sd["type"]}.{name}"' in text and any(
                    e["id"] == f"{sd['type']}.{name}" and e.get("min", 0) >= 1
                    for e in sd["snapshot"]["element"]
                )
                assert required or f"implies {stem}.exists()" in text, (v, pid, name)


def test_document_and_section_codes_are_the_package_patterns(igs: Path) -> None:
    els = composition_elements(igs)
    doc = els["Composition.type"]["patternCodeableConcept"]["coding"][0]
    c = coding("patient_summary_document")
    assert (c["system"], c["code"]) == (doc["system"], doc["code"])
    for section in rules()["ips"]["sections"]:
        pattern = els[f"Composition.section:{section['slice']}.code"]["patternCodeableConcept"]
        c = coding(section["code"])
        assert [{"system": c["system"], "code": c["code"]}] == pattern["coding"], section["key"]


def test_required_sections_have_an_absent_statement(igs: Path) -> None:
    els = composition_elements(igs)
    required = {
        eid.partition(":")[2]
        for eid, el in els.items()
        if eid.startswith("Composition.section:")
        and "." not in eid.partition(":")[2]
        and el.get("min", 0) >= 1
    }
    assert required == {"sectionProblems", "sectionAllergies", "sectionMedications"}
    declared = {s["slice"]: s for s in rules()["ips"]["sections"]}
    for slice_name in required:
        assert "when_empty" in declared[slice_name], slice_name


def test_absent_unknown_codes_are_the_package_codes(igs: Path) -> None:
    pkg = package(IPS)
    cs = pkg.codesystems["http://hl7.org/fhir/uv/ips/CodeSystem/absent-unknown-uv-ips"]
    displays = {c["code"]: c["display"] for c in cs["concept"]}
    valuesets = {
        "no_allergy_info": "absent-or-unknown-allergies-uv-ips",
        "no_medication_info": "absent-or-unknown-medications-uv-ips",
        "no_problem_info": "absent-or-unknown-problems-uv-ips",
    }
    for key, vs in valuesets.items():
        c = coding(key)
        assert c["system"] == cs["url"] and displays[c["code"]] == c["display"]
        members = vs_members(pkg, f"http://hl7.org/fhir/uv/ips/ValueSet/{vs}")
        assert members is not None and (c["system"], c["code"]) in members
    used = {s["when_empty"]["code"] for s in rules()["ips"]["sections"] if "when_empty" in s}
    assert used == set(valuesets)


def test_us_core_clinical_result_categories_are_the_package_value_set(igs: Path) -> None:
    (rule,) = [
        r
        for r in rules()["us-core"]["rules"]
        if "us-core-observation-clinical-result" in r["profile"]
    ]
    for v in ("6.1.0", "7.0.0"):
        members = vs_members(
            package(f"hl7.fhir.us.core-{v}"),
            "http://hl7.org/fhir/us/core/ValueSet/us-core-clinical-result-observation-category",
        )
        assert members is not None
        assert {code for _, code in members} - {"laboratory"} == set(rule["category"])


def test_added_us_core_categories_come_from_the_package(igs: Path) -> None:
    for v in rules()["us-core"]["versions"]:
        vs = index()[f"hl7.fhir.us.core#{v}"]["valuesets"]
        codes = {c["code"] for concepts in vs.values() for c in concepts}
        for rule in rules()["us-core"]["rules"]:
            if "add_category" in rule:
                assert rule["add_category"] in codes


@pytest.mark.parametrize(
    "stem", ["hl7.fhir.us.core-3.1.1", "hl7.fhir.us.core-6.1.0", "hl7.fhir.us.core-7.0.0", IPS]
)
def test_index_profiles_are_the_package_profiles(igs: Path, stem: str) -> None:
    pkg = package(stem)
    entry = index()[f"{pkg.name}#{pkg.version}"]
    for pid, p in entry["profiles"].items():
        sd = pkg.sds[p["url"]]
        assert sd["id"] == pid and sd["type"] == p["type"]
