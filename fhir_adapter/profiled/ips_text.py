"""Readable XHTML for the IPS document: one table per section, one summary for the Composition.

Every cell is read from the section's resources (never from elsewhere), so the narrative says
exactly what the coded entries say; facts marked data-absent read 'unknown'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from html import escape
from typing import Any

from fhir_adapter.profiled.rules import DAR_URL

XHTML = "http://www.w3.org/1999/xhtml"
Row = list[str]
Lookup = Callable[[str], "dict[str, Any] | None"]


def cc_text(cc: Any) -> str:
    """A CodeableConcept (or a list of them) as text: its text, else displays, else codes."""
    if isinstance(cc, list):
        return "; ".join(t for t in (cc_text(c) for c in cc) if t)
    if not isinstance(cc, dict):
        return ""
    if cc.get("text"):
        return str(cc["text"])
    return ", ".join(str(c.get("display") or c.get("code") or "") for c in cc.get("coding", []))


def _absent(node: Any) -> bool:
    return isinstance(node, dict) and any(
        e.get("url") == DAR_URL for e in node.get("extension", [])
    )


def when(r: dict[str, Any], stem: str) -> str:
    """The ``<stem>[x]`` of a resource (effective, onset, performed) as text."""
    for k, v in r.items():
        if not k.startswith(stem) or k == stem:
            continue
        kind = k[len(stem) :]
        if kind in ("DateTime", "String"):
            return str(v)
        if kind == "Period":
            if _absent(v):
                return "unknown"
            start, end = v.get("start"), v.get("end")
            return str(start) if start == end else f"{start or '?'} to {end or '?'}"
        if kind in ("Age", "Range"):
            return ("age " if kind == "Age" else "") + datatype_text(kind, v)
    if _absent(r.get(f"_{stem}DateTime")):
        return "unknown"
    return ""


def _quantity(q: dict[str, Any]) -> str:
    return f"{q.get('comparator', '')}{q.get('value', '?')} {q.get('unit') or q.get('code', '')}"


def datatype_text(key: str, v: Any) -> str:
    """A value[x] as text (Quantity, Range, Ratio, Period, CodeableConcept or a primitive)."""
    if key.endswith("Quantity"):
        return _quantity(v).strip()
    if key.endswith("Range"):
        low, high = v.get("low"), v.get("high")
        unit = (high or low or {}).get("unit", "")
        lo = f"{low.get('value')}" if low else "?"
        hi = f"{high.get('value')}" if high else "?"
        return f"{lo} to {hi} {unit}".strip()
    if key.endswith("Ratio"):
        return f"{_quantity(v.get('numerator', {})).strip()} / {_quantity(v.get('denominator', {})).strip()}"
    if key.endswith("Period"):
        return f"{v.get('start', '?')} to {v.get('end', '?')}"
    if key.endswith("CodeableConcept"):
        return cc_text(v)
    return str(v) if not isinstance(v, (dict, list)) else ""


def value_text(r: dict[str, Any]) -> str:
    """An Observation's value (with its interpretation) as text."""
    text = ""
    for k, v in r.items():
        if k.startswith("value") and k != "value":
            text = datatype_text(k, v)
    interp = cc_text(r.get("interpretation", []))
    if interp and interp.lower() != text.lower():
        text = f"{text} ({interp})" if text else interp
    return text.strip()


def _notes(r: dict[str, Any]) -> str:
    return " ".join(n.get("text", "") for n in r.get("note", []))


def _refs_text(refs: Iterable[dict[str, Any]], lookup: Lookup) -> str:
    names = []
    for ref in refs:
        target = lookup(str(ref.get("reference", "")))
        if target is not None:
            names.append(cc_text(target.get("code")) or target["resourceType"])
    return "; ".join(names)


def _condition(r: dict[str, Any], lookup: Lookup) -> Row:
    status = cc_text(r.get("clinicalStatus"))
    verification = cc_text(r.get("verificationStatus"))
    if verification and verification.lower() != "confirmed":
        status = ", ".join(x for x in (status, verification.lower()) if x)
    onset = when(r, "onset")
    for ext in r.get("extension", []):
        if ext.get("url", "").endswith("condition-assertedDate") and not onset:
            onset = f"diagnosed {ext['valueDateTime']}"
    details = [cc_text(r.get("bodySite", []))]
    details.append(_notes(r))
    return [cc_text(r.get("code")), status, onset or "unknown", " ".join(d for d in details if d)]


def _allergy(r: dict[str, Any], lookup: Lookup) -> Row:
    status = cc_text(r.get("clinicalStatus"))
    if r.get("criticality"):
        status += f", criticality {r['criticality']}"
    reactions = "; ".join(
        cc_text(m) for rx in r.get("reaction", []) for m in rx.get("manifestation", [])
    )
    return [
        cc_text(r.get("code")),
        status,
        when(r, "onset"),
        "; ".join(x for x in (reactions, _notes(r)) if x),
    ]


def _dosage(d: dict[str, Any]) -> str:
    """A Dosage as text: its own text, else its dose or rate and how long it lasted."""
    if d.get("text"):
        return str(d["text"])
    parts = [
        _quantity(v).strip()
        for dr in d.get("doseAndRate", [])
        for k, v in dr.items()
        if k in ("doseQuantity", "rateQuantity")
    ]
    bounds = d.get("timing", {}).get("repeat", {}).get("boundsDuration")
    if bounds:
        parts.append(f"for {_quantity(bounds).strip()}")
    return " ".join(parts)


def _medication(r: dict[str, Any], lookup: Lookup) -> Row:
    dosage = "; ".join(t for t in (_dosage(d) for d in r.get("dosage", [])) if t)
    reasons = "; ".join(
        x
        for x in (
            _refs_text(r.get("reasonReference", []), lookup),
            cc_text(r.get("reasonCode", [])),
        )
        if x
    )
    return [cc_text(r.get("medicationCodeableConcept")), r.get("status", ""), dosage, reasons]


def _procedure(r: dict[str, Any], lookup: Lookup) -> Row:
    details = " ".join(x for x in (cc_text(r.get("bodySite", [])), _notes(r)) if x)
    return [cc_text(r.get("code")), r.get("status", ""), when(r, "performed"), details]


def _report(r: dict[str, Any], lookup: Lookup) -> Row:
    findings = _refs_text(r.get("result", []), lookup)
    details = f"Findings: {findings}" if findings else ""
    return [cc_text(r.get("code")), r.get("conclusion", ""), when(r, "effective"), details]


def _observation(r: dict[str, Any], lookup: Lookup) -> Row:
    details = " ".join(x for x in (cc_text(r.get("bodySite")), _notes(r)) if x)
    return [cc_text(r.get("code")), value_text(r), when(r, "effective"), details]


ROWS: dict[str, Callable[[dict[str, Any], Lookup], Row]] = {
    "Condition": _condition,
    "AllergyIntolerance": _allergy,
    "MedicationStatement": _medication,
    "Procedure": _procedure,
    "DiagnosticReport": _report,
    "Observation": _observation,
}


def section_div(
    columns: list[str], entries: list[dict[str, Any]], lookup: Lookup, note: str = ""
) -> str:
    """The section's narrative: ``note`` as a paragraph, then a table with a row per entry."""
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = ""
    for r in entries:
        cells = ROWS[r["resourceType"]](r, lookup)
        body += "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in cells) + "</tr>"
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    para = f"<p>{escape(note)}</p>" if note else ""
    return f'<div xmlns="{XHTML}">{para}{table}</div>'


def absent_div(statement: dict[str, Any]) -> str:
    """The narrative of a required section the case says nothing about."""
    what = cc_text(statement.get("code") or statement.get("medicationCodeableConcept"))
    text = f"{what}: the case gives no information on this, so nothing is known either way."
    return f'<div xmlns="{XHTML}"><p>{escape(text)}</p></div>'


def document_div(title: str, paragraphs: list[str], items: list[tuple[str, str]]) -> str:
    """The Composition's narrative: title, paragraphs, then labelled lines."""
    body = f"<p><b>{escape(title)}</b></p>"
    body += "".join(f"<p>{escape(p)}</p>" for p in paragraphs if p)
    lines = "".join(f"<li><b>{escape(k)}</b>: {escape(v)}</li>" for k, v in items if v)
    if lines:
        body += f"<ul>{lines}</ul>"
    return f'<div xmlns="{XHTML}">{body}</div>'
