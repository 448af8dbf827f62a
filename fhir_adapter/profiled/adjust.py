"""Adjustments every profile mode makes to a base resource: the claim, unknown facts marked
data-absent, and the two value shapes profiles refuse.

- ``meta.profile`` carries the versioned canonical (``url|version``) of the claimed profile.
- An element the claimed profile requires (its snapshot's min >= 1 where R4 has 0, or an element
  a profile invariant requires, see ``rules.yaml``) that the case does not give is written with
  the ``data-absent-reason`` extension (code ``unknown``) and only in shapes that state nothing
  else: a date/time primitive (``_birthDate``), a choice type (``_effectiveDateTime``), a
  Reference (``performer: [{extension}]``) or a HumanName (the extension on the name, which
  US Core us-core-6 asks for, plus on ``name.text``, which IPS ips-pat-1 asks to exist). A
  required coded element that is no modifier and not bound ``required`` (e.g. US Core
  ``Encounter.type``) gets the data-absent-reason *code* ``unknown``, as US Core's Missing Data
  rules say. Any other missing requirement is a bug in ``rules.yaml`` and raises.
- A finding (an Observation whose code is the finding itself) gets its description, which the
  base mapper keeps as a note, as ``valueString``: IPS ips-2 and US Core us-core-2 want a value.
- An ``effectiveDateTime`` of year or month precision becomes the equivalent ``effectivePeriod``
  (start and end the same partial date, i.e. somewhere in that month or year): US Core us-core-1
  and IPS ips-1 refuse a dateTime without a day.
"""

from __future__ import annotations

import copy
import re
from html import escape
from typing import TYPE_CHECKING, Any

from fhir_adapter.errors import ProfileError
from fhir_adapter.profiled.rules import DAR_URL, Claim, Matcher, package

if TYPE_CHECKING:  # pragma: no cover
    from fhir_adapter.profiled.modes import ProfileMode

#: What a data-absent element says, in narratives.
UNKNOWN_TEXT = "unknown (not stated in the case)"

_LABELS = {
    "birthDate": "Birth date",
    "effective[x]": "Date",
    "performed[x]": "Date performed",
    "performer": "Performer",
    "issued": "Issued",
    "name": "Name",
    "type": "Type",
}
_DATE_TYPES = {"date", "dateTime", "instant"}
_VALUE_RE = re.compile(r"^value[A-Z]")


def dar(code: str = "unknown") -> dict[str, Any]:
    """The ``data-absent-reason`` extension with ``code``."""
    return {"url": DAR_URL, "valueCode": code}


def marked_unknown(node: Any) -> bool:
    """Whether a JSON value carries the data-absent-reason extension (at any depth)."""
    if isinstance(node, dict):
        return any(e.get("url") == DAR_URL for e in node.get("extension", [])) or any(
            marked_unknown(v) for k, v in node.items() if k != "extension"
        )
    if isinstance(node, list):
        return any(marked_unknown(v) for v in node)
    return False


def with_profile(resource: dict[str, Any], canonical: str) -> dict[str, Any]:
    """``resource`` with ``meta.profile`` = [``canonical``], placed right after ``id``."""
    out: dict[str, Any] = {}
    for k, v in resource.items():
        if k == "meta":
            continue
        out[k] = v
        if k == "id":
            out["meta"] = {**resource.get("meta", {}), "profile": [canonical]}
    return out


def _imaging(r: dict[str, Any]) -> bool:
    return any(
        c.get("code") == "imaging" for cat in r.get("category", []) for c in cat.get("coding", [])
    )


_COMPONENT_VALUES = {"valueQuantity": "measurement", "valueCodeableConcept": "presence"}


def finding_value(r: dict[str, Any]) -> None:
    """A finding's description (its first note) as ``valueString`` when it has no value. An
    imaging finding's coded or measured value (a lesion's size, "absent") moves to a component,
    since radiology result profiles (IPS) take only a string value."""
    if r["resourceType"] != "Observation":
        return
    moved = [k for k in _COMPONENT_VALUES if k in r]
    if moved and _imaging(r) and not r.get("component"):
        code = r["code"].get("text") or "Finding"
        r["component"] = [
            {"code": {"text": f"{code}: {_COMPONENT_VALUES[k]}"}, k: r.pop(k)} for k in moved
        ]
        r.pop("valueString", None)
    if any(_VALUE_RE.match(k) for k in r):
        return
    if r.get("hasMember") or r.get("dataAbsentReason"):
        return
    notes = r.get("note") or []
    if not notes or not notes[0].get("text"):
        return
    r["valueString"] = notes[0]["text"]
    rest = notes[1:]
    if rest:
        r["note"] = rest
    else:
        del r["note"]


def partial_dates(r: dict[str, Any]) -> None:
    """A year or month ``effectiveDateTime`` as the equivalent ``effectivePeriod``."""
    when = r.get("effectiveDateTime")
    if isinstance(when, str) and len(when) < 10:
        del r["effectiveDateTime"]
        r["effectivePeriod"] = {"start": when, "end": when}


def _present(r: dict[str, Any], name: str) -> bool:
    if name.endswith("[x]"):
        stem = name[:-3]
        return any(
            k.lstrip("_").startswith(stem) and k.lstrip("_")[len(stem) : len(stem) + 1].isupper()
            for k in r
        )
    return name in r or f"_{name}" in r


def _may_code(shape: dict[str, Any]) -> bool:
    """A coded element may say 'unknown' with the data-absent-reason code when it is no
    modifier and its binding lets codes from outside the value set in (US Core, Missing Data)."""
    return not shape.get("modifier") and shape.get("binding") != "required"


def _refused_choice(r: dict[str, Any], name: str, types: list[str]) -> str | None:
    """Remove a choice element ``r`` holds in a type the profile refuses (``performedString``
    where US Core allows dateTime | Period); its text, for a note, when it had one."""
    stem = name[:-3]
    allowed = {t[0].upper() + t[1:] for t in types}
    for key in [k for k in r if k.startswith(stem) and k[len(stem) : len(stem) + 1].isupper()]:
        if key[len(stem) :] not in allowed:
            value = r.pop(key)
            r.pop(f"_{key}", None)
            return value if isinstance(value, str) else None
    return None


def mark_unknown(
    r: dict[str, Any], claim: Claim, unknown_code: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """Mark every element ``claim`` requires and ``r`` lacks as data-absent; returns the
    narrative rows to add (label, text). ``unknown_code`` is the CodeableConcept written in a
    required coded element (the data-absent-reason code ``unknown``). A required choice held in
    a type the profile refuses (a time the case gives only in words, ``performedString``) is
    marked unknown too, its words kept as a note."""
    rows: list[tuple[str, str]] = []
    for name, shape in sorted(claim.requires.items()):
        if name.endswith("[x]") and (text := _refused_choice(r, name, shape["types"])):
            label = _LABELS.get(name, name.replace("[x]", ""))
            r["note"] = [*r.get("note", []), {"text": f"{label}: {text}."}]
        if _present(r, name):
            continue
        types, many = shape["types"], shape["max"] != "1"
        ext = {"extension": [dar()]}
        if name.endswith("[x]") and "dateTime" in types:
            r[f"_{name[:-3]}DateTime"] = ext
        elif len(types) == 1 and types[0] in _DATE_TYPES:
            r[f"_{name}"] = ext
        elif types == ["Reference"]:
            r[name] = [ext] if many else ext
        elif types == ["HumanName"]:
            item = {"extension": [dar()], "_text": {"extension": [dar()]}}
            r[name] = [item] if many else item
        elif types == ["CodeableConcept"] and unknown_code is not None and _may_code(shape):
            r[name] = [unknown_code] if many else unknown_code
        else:
            raise ProfileError(
                f"{r['resourceType']} {r.get('id')}: profile {claim.id} requires {name!r}, "
                "which the resource lacks and which cannot be marked unknown",
                file="fhir_adapter/profiled/rules.yaml",
                fix="give the fact in the case, or do not claim this profile for such resources",
            )
        rows.append((_LABELS.get(name, name.replace("[x]", "")), UNKNOWN_TEXT))
    return rows


def add_rows(r: dict[str, Any], rows: list[tuple[str, str]]) -> None:
    """Append labelled lines to a generated narrative (skipping labels it already shows)."""
    text = r.get("text")
    if not rows or not text:
        return
    div: str = text["div"]
    items = "".join(
        f"<li><b>{escape(label)}</b>: {escape(value)}</li>"
        for label, value in rows
        if f"<b>{escape(label)}</b>" not in div
    )
    if not items:
        return
    if div.endswith("</ul></div>"):
        div = div[: -len("</ul></div>")] + items + "</ul></div>"
    else:
        div = div[: -len("</div>")] + f"<ul>{items}</ul></div>"
    r["text"] = {**text, "div": div}


def apply_claim(
    r: dict[str, Any], claim: Claim | None, unknown_code: dict[str, Any] | None = None
) -> dict[str, Any]:
    """``r`` (a fresh copy) claiming ``claim``, with unknown requirements marked."""
    if claim is None:
        return r
    rows = mark_unknown(r, claim, unknown_code)
    add_rows(r, rows)
    return with_profile(r, claim.canonical)


def _category(mode: ProfileMode, code: str) -> dict[str, Any]:
    """The CodeableConcept of ``code`` from a value set of the mode's package (with its display)."""
    for concepts in package(mode.name, mode.version)["valuesets"].values():
        for c in concepts:
            if c["code"] == code:
                coding = {"system": c["system"], "code": code, "display": c["display"]}
                return {"coding": [coding], "text": c["display"]}
    raise ValueError(f"rules.yaml: add_category {code!r} is in no value set of the index")


def reshape(
    resources: list[dict[str, Any]], mode: ProfileMode, unknown_code: dict[str, Any]
) -> list[dict[str, Any]]:
    """Copies of ``resources`` as ``mode`` writes them: value shapes, added categories, claims
    and unknown requirements marked (the mappers' dicts are left untouched)."""
    matcher = Matcher(resources)
    out = []
    for base in resources:
        r = copy.deepcopy(base)
        finding_value(r)
        partial_dates(r)
        claim = matcher.claim(mode.name, mode.version, base)
        if claim is not None and "add_category" in claim.rule:
            r["category"] = [*r.get("category", []), _category(mode, claim.rule["add_category"])]
        out.append(apply_claim(r, claim, unknown_code))
    return out
