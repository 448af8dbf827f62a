"""The generated R4 rule tables (``data/r4.json.gz``), loaded once, lazily, on first use."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).with_name("data") / "r4.json.gz"
_JSON_TYPE_NAME = {"SimpleQuantity": "Quantity", "MoneyQuantity": "Quantity"}


@cache
def tables() -> dict[str, Any]:
    """All tables: primitives, types (elements per type), constraints, value sets, resources."""
    data: dict[str, Any] = json.loads(gzip.decompress(DATA.read_bytes()))
    return data


@cache
def fhirpath_asts() -> dict[str, Any]:
    """Pre-parsed FHIRPath expressions (``data/fhirpath-ast.json.gz``), loaded on first use."""
    path = DATA.with_name("fhirpath-ast.json.gz")
    if not path.is_file():
        return {}
    data: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return data


@cache
def displays() -> dict[str, dict[str, Any]]:
    """Complete HL7/DICOM code systems of the R4 definitions (``data/displays.json.gz``):
    system -> {code: display, or a list of display and designations, or ""}."""
    path = DATA.with_name("displays.json.gz")
    if not path.is_file():
        return {}
    data: dict[str, dict[str, Any]] = json.loads(gzip.decompress(path.read_bytes()))
    return data


@cache
def ucum_common() -> frozenset[str]:
    """UCUM codes of the R4 common-units value set, verified valid when the tables were built."""
    return frozenset(tables().get("ucum_common", ()))


@cache
def choice_names(type_key: str) -> dict[str, tuple[str, str]]:
    """For a type's choice elements: JSON name (``valueQuantity``) -> (element, type)."""
    out = {}
    for name, row in tables()["types"][type_key]["el"].items():
        if row.get("choice"):
            for t in row["types"]:
                json_type = _JSON_TYPE_NAME.get(t, t)  # profiled types keep their base's JSON name
                out[name + json_type[0].upper() + json_type[1:]] = (name, t)
    return out


@cache
def suffix_types() -> dict[str, str]:
    """Choice-name suffix -> FHIR type name, as FHIR spells it: ``String`` -> ``string``,
    ``DateTime`` -> ``dateTime``, ``CodeableConcept`` -> ``CodeableConcept``."""
    t = tables()
    names = [*t["primitives"], *(k for k, v in t["types"].items() if v["kind"] == "complex-type")]
    return {n[0].upper() + n[1:]: n for n in names}


def fhir_type(suffix: str) -> str:
    """The FHIR type a choice-name suffix (``valueString`` -> ``String``) names: ``string``;
    an unknown suffix is returned as it is."""
    return suffix_types().get(suffix, suffix)


@cache
def valueset(url: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]] | None:
    """(system|code set, systems, bare codes) of an expanded value set, or None if not expandable."""
    vs: dict[str, list[str]] | None = tables()["valuesets"].get(url)
    if vs is None:
        return None
    codes = frozenset(f"{system}|{code}" for system, codes in vs.items() for code in codes)
    bare = frozenset(code for codes in vs.values() for code in codes)
    return codes, frozenset(vs), bare
