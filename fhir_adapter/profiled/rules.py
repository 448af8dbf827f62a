"""The profile rules (``rules.yaml``) and the IG index (``data/igs.json``), and rule matching."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fhir_adapter.bundle import references

_HERE = Path(__file__).resolve().parent
RULES_PATH = _HERE / "rules.yaml"
INDEX_PATH = _HERE / "data" / "igs.json"

DAR_URL = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


@cache
def rules() -> dict[str, Any]:
    """``rules.yaml`` as data."""
    import yaml

    data: dict[str, Any] = yaml.safe_load(RULES_PATH.read_text(encoding="utf-8"))
    return data


@cache
def index() -> dict[str, Any]:
    """The IG index generated from the official packages (``data/igs.json``)."""
    data: dict[str, Any] = json.loads(INDEX_PATH.read_text(encoding="utf-8"))
    return data


@dataclass(frozen=True)
class Claim:
    """The profile a resource claims: its id in the package and the versioned canonical."""

    id: str
    url: str
    version: str
    requires: dict[str, Any]
    rule: dict[str, Any]

    @property
    def canonical(self) -> str:
        """``url|version``, as written in ``meta.profile``."""
        return f"{self.url}|{self.version}"


def package(mode_name: str, version: str) -> dict[str, Any]:
    """The index entry of the IG package a mode uses."""
    name = rules()[mode_name]["package"]
    entry: dict[str, Any] = index()[f"{name}#{version}"]
    return entry


class Matcher:
    """Rule matching over one set of resources (a report's results are known to its members)."""

    def __init__(self, resources: Iterable[dict[str, Any]]) -> None:
        self.reported_in: dict[str, set[str]] = {}
        for r in resources:
            if r["resourceType"] != "DiagnosticReport":
                continue
            cats = _codes(r.get("category"))
            for ref in references(r.get("result", [])):
                self.reported_in.setdefault(ref, set()).update(cats)

    def matches(self, rule: dict[str, Any], r: dict[str, Any]) -> bool:
        """Whether resource ``r`` satisfies every key of ``rule``."""
        if rule.get("type") not in (None, r["resourceType"]):
            return False
        if "category" in rule and not _codes(r.get("category")) & set(rule["category"]):
            return False
        if "clinical_status" in rule and not _codes(r.get("clinicalStatus")) & set(
            rule["clinical_status"]
        ):
            return False
        if "verification" in rule and not _codes(r.get("verificationStatus")) & set(
            rule["verification"]
        ):
            return False
        if rule.get("no_clinical_status") and "clinicalStatus" in r:
            return False
        full_url = f"urn:uuid:{r.get('id')}"
        if "reported_in" in rule and not self.reported_in.get(full_url, set()) & set(
            rule["reported_in"]
        ):
            return False
        return not (rule.get("unreported") and full_url in self.reported_in)

    def claim(self, mode_name: str, version: str, r: dict[str, Any]) -> Claim | None:
        """The profile ``r`` claims in this mode and version, or None (plain R4)."""
        profiles = package(mode_name, version)["profiles"]
        for rule in rules()[mode_name]["rules"]:
            if not self.matches(rule, r):
                continue
            for pid in rule["profile"]:
                if pid in profiles:
                    p = profiles[pid]
                    extra = rules()[mode_name]["invariant_required"].get(pid, [])
                    requires = dict(p["requires"])
                    for name in extra:
                        requires.setdefault(name, _element_shape(r["resourceType"], name))
                    return Claim(pid, p["url"], version, requires, rule)
            return None  # the first matching rule decides, even when this version lacks it
        return None


def _codes(node: Any) -> set[str]:
    """Every ``code`` of the codings in a CodeableConcept or a list of them."""
    items = node if isinstance(node, list) else [node] if node else []
    return {c.get("code") for cc in items for c in cc.get("coding", []) if c.get("code")}


#: Shapes of the elements ``invariant_required`` may name (the snapshot's own requirements
#: carry theirs in the index).
_SHAPES = {
    "effective[x]": {"max": "1", "types": ["Period", "dateTime"]},
    "performed[x]": {"max": "1", "types": ["Period", "dateTime"]},
    "issued": {"max": "1", "types": ["instant"]},
}


def _element_shape(resource_type: str, name: str) -> dict[str, Any]:
    shape = _SHAPES.get(name)
    if shape is None:
        raise ValueError(f"rules.yaml: invariant_required names {resource_type}.{name}, unknown")
    return shape
