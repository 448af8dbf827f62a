"""The terminology tables: shape, no duplicate keys, canonical systems, valid code syntax."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from fhir_adapter import codesystems as cs
from fhir_adapter.paths import MAPPINGS_DIR

TABLES = sorted(MAPPINGS_DIR.glob("*.yaml"))
ALLOWED_SYSTEMS = {
    cs.SNOMED,
    cs.LOINC,
    cs.ICD10CM,
    cs.RXNORM,
    cs.UCUM,
    cs.DICOM,
    cs.ATC,
    "http://terminology.hl7.org/CodeSystem/condition-clinical",
    "http://terminology.hl7.org/CodeSystem/condition-ver-status",
    "http://terminology.hl7.org/CodeSystem/condition-category",
    "http://terminology.hl7.org/CodeSystem/observation-category",
    "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
    "http://terminology.hl7.org/CodeSystem/v2-0074",
    "http://terminology.hl7.org/CodeSystem/data-absent-reason",
}
#: DICOM CID 29 acquisition modalities used or plausible here (there is no "XR").
DICOM_MODALITIES = {"CR", "CT", "DX", "MR", "US", "NM", "PT", "MG", "XA", "RF", "OT"}


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys (PyYAML silently keeps the last)."""


def _no_duplicates(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    keys = set()
    for k, _ in node.value:
        key = loader.construct_object(k, deep=deep)
        if key in keys:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", k.start_mark
            )
        keys.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicates)


def load(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_StrictLoader)


def codings() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (p.stem, key, c)
        for p in TABLES
        for key, concept in load(p)["concepts"].items()
        for c in concept.get("codings") or []
    ]


def test_tables_exist() -> None:
    names = {p.stem for p in TABLES}
    assert {"conditions", "findings", "labs", "medications", "units", "hl7", "body_sites"} <= names


@pytest.mark.parametrize("path", TABLES, ids=lambda p: p.stem)
def test_table_shape(path: Path) -> None:
    data = load(path)
    assert data["table"] == path.stem
    assert data["description"]
    assert isinstance(data["concepts"], dict) and data["concepts"]
    for key, concept in data["concepts"].items():
        if path.stem != "units":
            assert re.fullmatch(r"[a-z][a-z0-9_]*", key), key
        assert concept["text"].strip()
        for c in concept["codings"]:
            assert set(c) >= {"system", "code", "display", "verified"}, (key, c)
            assert isinstance(c["code"], str) and c["code"].strip() == c["code"]
            assert c["display"].strip() and c["verified"].strip()
        if not concept["codings"]:
            assert concept.get("note"), f"{key}: a text-only concept says why in a note"


@pytest.mark.parametrize(
    ("table", "key", "coding"), codings(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_coding_uses_canonical_system_and_valid_syntax(
    table: str, key: str, coding: dict[str, Any]
) -> None:
    system, code = coding["system"], coding["code"]
    assert system in ALLOWED_SYSTEMS, f"{table}.{key}: {system} is not a canonical R4 system URI"
    check = cs.CHECKS.get(system)
    if check:
        assert check(code), f"{table}.{key}: {code} fails the {system} syntax/check-digit test"
    if system == cs.DICOM:
        assert code in DICOM_MODALITIES
    if system == cs.UCUM:
        from ucumvert import get_ucum_parser

        get_ucum_parser().parse(code)  # raises on invalid UCUM
        assert key == code


def test_no_code_has_two_displays_in_one_table() -> None:
    seen: dict[tuple[str, str, str], str] = {}
    for table, _key, c in codings():
        prev = seen.setdefault((table, c["system"], c["code"]), c["display"])
        assert prev == c["display"], (table, c["code"])


def test_hl7_codes_exist_in_the_official_r4_definitions() -> None:
    defs = Path("/work/defs/package/dist/fhir/r4")
    if not defs.is_dir():
        pytest.skip("official definitions not unpacked here (see README: regenerating tables)")
    import json

    known: dict[str, dict[str, str]] = {}

    def walk(url: str, concepts: list[dict[str, Any]]) -> None:
        for c in concepts:
            known.setdefault(url, {})[c["code"]] = c.get("display", "")
            walk(url, c.get("concept", []))

    for name in ("valuesets.json", "v3-codesystems.json", "v2-tables.json"):
        for e in json.loads((defs / name).read_text())["entry"]:
            r = e["resource"]
            if r["resourceType"] == "CodeSystem":
                walk(r["url"], r.get("concept", []))
    for table, key, c in codings():
        if c["system"].startswith("http://terminology.hl7.org/"):
            assert known[c["system"]].get(c["code"]) == c["display"], (table, key)


@pytest.mark.parametrize("code", ["55464009", "239888002", "26643006", "372466002", "39937001"])
def test_verhoeff_accepts_real_sctids(code: str) -> None:
    assert cs.snomed_ok(code)


@pytest.mark.parametrize("code", ["55464008", "239888003", "26643060", "0123456", "12345"])
def test_verhoeff_rejects_typos(code: str) -> None:
    assert not cs.snomed_ok(code)


def test_loinc_check_digit() -> None:
    assert all(
        cs.loinc_ok(c)
        for c in ("17861-6", "2777-1", "2731-8", "4548-4", "30525-0", "18748-4", "11526-1")
    )
    assert not any(cs.loinc_ok(c) for c in ("17861-7", "2777-2", "4548", "ABC-1"))


def test_icd10cm_shape() -> None:
    assert all(cs.icd10cm_ok(c) for c in ("M32.9", "L93.2", "L94.2", "E11.9", "E11"))
    assert not any(cs.icd10cm_ok(c) for c in ("M329", "m32.9", "U07.1x", "32.9"))


def test_duplicate_keys_are_caught(tmp_path: Path) -> None:
    p = tmp_path / "x.yaml"
    p.write_text("concepts:\n  a: {text: A}\n  a: {text: B}\n")
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'a'"):
        load(p)
