"""Every value the format /2 schema allows, tried on the all-parts test case: the case is either
refused at load time (a CaseError naming the field) or converts to a bundle the validator
accepts. Nothing loads and then turns into invalid FHIR.

The enum values come from the schema itself, so a value added to the format is tried here with
no test change; the clinical-status x verification x abatement grid covers R4 con-3/con-4.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fhir_adapter import convert
from fhir_adapter.case import parse_case
from fhir_adapter.errors import CaseError
from fhir_adapter.paths import PACKAGE_DIR
from fhir_adapter.validation import validate

ALL_PARTS = Path(__file__).with_name("data") / "all-parts.case.yaml"
BASE: dict[str, Any] = yaml.safe_load(ALL_PARTS.read_text(encoding="utf-8"))
SCHEMA = json.loads((PACKAGE_DIR / "schemas" / "case-2.schema.json").read_text(encoding="utf-8"))
#: Schema definition -> the all-parts item it describes (section, index).
ITEMS = {
    "encounter": ("encounters", 1),
    "condition": ("conditions", 0),
    "finding": ("findings", 0),
    "imaging": ("imaging", 0),
    "procedure": ("procedures", 0),
    "medication": ("medications", 0),
    "allergy": ("allergies", 0),
}

Edit = Callable[[dict[str, Any]], None]


def _set(section: str, i: int, name: str, value: Any) -> Edit:
    def edit(case: dict[str, Any]) -> None:
        case[section][i][name] = value

    return edit


def _enum_variants() -> Iterator[tuple[str, Edit]]:
    defs = SCHEMA["$defs"]
    for definition, (section, i) in ITEMS.items():
        for name, spec in defs[definition]["properties"].items():
            for value in spec.get("enum", ()):
                yield f"{section}[{i}].{name}={value}", _set(section, i, name, value)


def _condition(status: str | None, verification: str, abated: bool) -> Edit:
    def edit(case: dict[str, Any]) -> None:
        c = case["conditions"][0]
        c["verification"] = verification
        c.pop("clinical_status", None)
        if status:
            c["clinical_status"] = status
        if abated:
            c["abatement"] = {"date": "2021-06"}

    return edit


def _condition_variants() -> Iterator[tuple[str, Edit]]:
    props = SCHEMA["$defs"]["condition"]["properties"]
    for status in [None, *props["clinical_status"]["enum"]]:
        for verification in props["verification"]["enum"]:
            for abated in (False, True):
                name = f"condition status={status} verification={verification} abated={abated}"
                yield name, _condition(status, verification, abated)


VARIANTS = [*_enum_variants(), *_condition_variants()]


@pytest.mark.parametrize("edit", [v[1] for v in VARIANTS], ids=[v[0] for v in VARIANTS])
def test_a_variant_is_refused_at_load_or_converts_to_valid_fhir(edit: Edit) -> None:
    data = copy.deepcopy(BASE)
    edit(data)
    try:
        case = parse_case(yaml.safe_dump(data, sort_keys=False), source="variant.yaml")
    except CaseError as err:
        assert all(p.field and p.fix for p in err.problems), str(err)
        return
    report = validate(convert(case))
    assert report.ok, report.to_text()


def test_the_variants_cover_every_enum_of_the_items() -> None:
    assert len(VARIANTS) > 100
    names = {n.split("=")[0] for n, _ in VARIANTS}
    assert "conditions[0].clinical_status" in names and "allergies[0].criticality" in names
