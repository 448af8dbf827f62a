"""What a report shows of a bundle: one card per resource (title, status, elements, references)
and the references between them, found generically from the JSON (no per-type code)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from fhir_adapter.codesystems import ATC, DICOM, ICD10, ICD10CM, LOINC, RXNORM, SNOMED, UCUM

#: names of external code systems (HL7's own are named from their URI)
SYSTEM_NAMES = {
    SNOMED: "SNOMED CT",
    LOINC: "LOINC",
    ICD10CM: "ICD-10-CM",
    ICD10: "ICD-10",
    RXNORM: "RxNorm",
    ATC: "ATC",
    UCUM: "UCUM",
    DICOM: "DICOM",
    "http://hl7.org/fhir/sid/cvx": "CVX",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "urn:ietf:bcp:47": "BCP 47 language",
    "urn:ietf:bcp:13": "MIME type",
    "urn:iso:std:iso:3166": "ISO 3166 country",
}

#: elements a card does not list as rows (shown elsewhere on the card, or bookkeeping)
SKIPPED = frozenset({"resourceType", "id", "meta", "text", "contained"})

#: elements whose code gives a card its title, in order of preference
TITLE_KEYS = (
    "code",
    "medicationCodeableConcept",
    "vaccineCode",
    "type",
    "name",
    "title",
    "description",
)

_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2}([T ][0-9:.]+([+-]\d{2}:\d{2}|Z)?)?)?)?$")


def system_name(system: Any) -> str:
    """A readable name for a code-system URI (``SNOMED CT``, ``HL7 observation-category``);
    anything but a string (a broken input) is shown as it is."""
    if not isinstance(system, str):
        return "(no system)" if system is None else str(system)
    if not system:
        return "(no system)"
    if system in SYSTEM_NAMES:
        return SYSTEM_NAMES[system]
    for prefix, label in (
        ("http://terminology.hl7.org/CodeSystem/", "HL7 "),
        ("http://hl7.org/fhir/", "FHIR "),
    ):
        if system.startswith(prefix):
            return label + system[len(prefix) :]
    return system


def is_date(value: Any) -> bool:
    """True for FHIR date, dateTime and instant strings."""
    return isinstance(value, str) and bool(_DATE.match(value))


def concept_text(cc: Any) -> str | None:
    """The readable text of a CodeableConcept or Coding: text, else a display, else a code."""
    if not isinstance(cc, dict):
        return cc if isinstance(cc, str) else None
    if isinstance(cc.get("text"), str):
        return str(cc["text"])
    coding = cc.get("coding")
    codings: list[Any] = coding if isinstance(coding, list) else [cc]
    for c in codings:
        if isinstance(c, dict) and isinstance(c.get("display"), str):
            return str(c["display"])
    for c in codings:
        if isinstance(c, dict) and isinstance(c.get("code"), str):
            return str(c["code"])
    return None


def human_name(name: Any) -> str | None:
    """A HumanName (or the first of a list) as text; ``None`` when it holds no name."""
    if isinstance(name, list):
        name = name[0] if name else None
    if not isinstance(name, dict):
        return None
    if isinstance(name.get("text"), str):
        return str(name["text"])
    given = [g for g in name.get("given") or [] if isinstance(g, str)]
    family = name.get("family") if isinstance(name.get("family"), str) else None
    text = " ".join([*given, *([family] if family else [])])
    return text or None


@dataclass
class Ref:
    """One reference found in a resource: where (element path), what it says, which card."""

    path: str
    reference: str
    display: str | None
    target: int | None = None


@dataclass
class Card:
    """One resource of the bundle."""

    index: int
    resource_type: str
    resource: dict[str, Any]
    full_url: str | None
    title: str
    refs: list[Ref] = field(default_factory=list)
    referenced_by: list[tuple[int, str]] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        """The HTML id of the card."""
        return f"c{self.index}"

    @property
    def label(self) -> str:
        """``Observation/abc``, else the fullUrl, else ``Observation (entry 3)``."""
        rid = self.resource.get("id")
        if isinstance(rid, str) and rid:
            return f"{self.resource_type}/{rid}"
        return self.full_url or f"{self.resource_type} (entry {self.index})"


def title_of(resource: dict[str, Any]) -> str:
    """A short human title for a resource: its name or code text, else its type."""
    rt = str(resource.get("resourceType") or "Resource")
    if rt in ("Patient", "Practitioner", "RelatedPerson", "Person"):
        return human_name(resource.get("name")) or f"{rt} (no name given)"
    for key in TITLE_KEYS:
        value = resource.get(key)
        if isinstance(value, list):
            value = value[0] if value else None
        text = concept_text(value) if isinstance(value, dict) else value
        if isinstance(text, str) and text.strip():
            return text.strip()
    if rt == "Composition" and isinstance(resource.get("title"), str):
        return str(resource["title"])
    return rt


def _walk_refs(node: Any, path: str, out: list[Ref]) -> None:
    if isinstance(node, dict):
        ref = node.get("reference")
        if isinstance(ref, str):
            disp = node.get("display")
            out.append(Ref(path, ref, disp if isinstance(disp, str) else None))
        for k, v in node.items():
            if k not in ("contained", "text") and isinstance(v, (dict, list)):
                _walk_refs(v, f"{path}.{k}" if path else k, out)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _walk_refs(v, f"{path}[{i}]", out)


def _entries(data: Any) -> list[tuple[dict[str, Any], str | None]]:
    """(resource, fullUrl) pairs: a Bundle's entries, or the one resource given."""
    if isinstance(data, dict) and data.get("resourceType") == "Bundle":
        out = []
        for e in data.get("entry") or []:
            if isinstance(e, dict) and isinstance(e.get("resource"), dict):
                full = e.get("fullUrl")
                out.append((e["resource"], full if isinstance(full, str) else None))
            else:
                out.append(({"resourceType": "(empty entry)"}, None))
        return out
    if isinstance(data, dict):
        return [(data, None)]
    return []


def _keys(resource: dict[str, Any], full_url: str | None) -> list[str]:
    """Every string another resource in the bundle may use to refer to this one."""
    keys = []
    if full_url:
        keys.append(full_url)
    rt, rid = resource.get("resourceType"), resource.get("id")
    if isinstance(rt, str) and isinstance(rid, str):
        keys.append(f"{rt}/{rid}")
        if full_url and full_url.endswith(f"/{rt}/{rid}"):
            keys.append(full_url)
    return keys


def _resolve(ref: str, index: dict[str, int]) -> int | None:
    if ref in index:
        return index[ref]
    m = re.search(r"([A-Z][A-Za-z]+/[A-Za-z0-9.\-]{1,64})(/_history/[^/]+)?$", ref)
    return index.get(m.group(1)) if m else None


def build_cards(data: Any) -> list[Card]:
    """A card per bundle entry (or for the one resource), references resolved to cards."""
    cards = []
    index: dict[str, int] = {}
    for i, (res, full) in enumerate(_entries(data)):
        rt = str(res.get("resourceType") or "Resource")
        cards.append(Card(i, rt, res, full, title_of(res)))
        for k in _keys(res, full):
            index.setdefault(k, i)
    for card in cards:
        _walk_refs(card.resource, "", card.refs)
        for r in card.refs:
            r.target = None if r.reference.startswith("#") else _resolve(r.reference, index)
            if r.target is not None:
                cards[r.target].referenced_by.append((card.index, r.path))
    return cards


def centre(cards: list[Card]) -> int | None:
    """The card the graph and summary are about: the first Patient, else the most referenced."""
    for c in cards:
        if c.resource_type == "Patient":
            return c.index
    if not cards:
        return None
    return max(cards, key=lambda c: (len(c.referenced_by), -c.index)).index
