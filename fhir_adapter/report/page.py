"""The HTML page of one bundle: header and filters, patient summary, reference graph, count
tables, then a card per resource with its validation issues inline."""

from __future__ import annotations

import re
from collections import Counter
from html import escape
from typing import Any

from fhir_adapter.report.assets import CSS, JS
from fhir_adapter.report.cards import CardWriter, issue_html, worst
from fhir_adapter.report.graph import colour, svg
from fhir_adapter.report.model import Card, build_cards, centre, concept_text
from fhir_adapter.validation.report import Issue, Report

_IN_ENTRY = re.compile(r"^[A-Za-z]+\.entry\[(\d+)\](?:\.resource(?:\.(.*))?|\.?(.*))$")
_IN_RESOURCE = re.compile(r"^[A-Za-z]+(?:\.(.*))?$")

#: elements giving a summary line its date, in order of preference
_DATE_KEYS = (
    "onsetDateTime",
    "onsetPeriod",
    "effectiveDateTime",
    "effectivePeriod",
    "performedDateTime",
    "performedPeriod",
    "started",
    "issued",
    "authoredOn",
    "recordedDate",
    "date",
    "period",
    "effectivePeriod",
)
_MAX_SUMMARY_ITEMS = 8


def place_issues(
    cards: list[Card], issues: list[Issue], is_bundle: bool
) -> tuple[dict[int, list[tuple[str, Issue]]], list[Issue]]:
    """Each issue on its card with its path relative to the resource; the rest (bundle level)."""
    placed: dict[int, list[tuple[str, Issue]]] = {}
    rest = []
    for i in issues:
        m = _IN_ENTRY.match(i.path) if is_bundle else None
        if m and int(m.group(1)) < len(cards):
            rel = m.group(2) if m.group(2) is not None else f"(entry) {m.group(3) or ''}".strip()
            placed.setdefault(int(m.group(1)), []).append((rel or "", i))
            continue
        m2 = _IN_RESOURCE.match(i.path) if not is_bundle and cards else None
        if m2:
            placed.setdefault(0, []).append((m2.group(1) or "", i))
        else:
            rest.append(i)
    return placed, rest


def _first_date(res: dict[str, Any]) -> str | None:
    for k in _DATE_KEYS:
        v = res.get(k)
        if isinstance(v, str):
            return v
        if isinstance(v, dict) and isinstance(v.get("start"), str):
            return str(v["start"])
    return None


def _main_value(res: dict[str, Any]) -> str | None:
    for k, v in res.items():
        if k.startswith("value") and k[5:6].isupper():
            if isinstance(v, dict) and "value" in v:
                return f"{v.get('comparator', '')}{v['value']} {v.get('unit') or v.get('code') or ''}".strip()
            text = concept_text(v) if isinstance(v, dict) else v
            return str(text) if text is not None else None
    return None


def summary(cards: list[Card], issues_by_card: dict[int, list[tuple[str, Issue]]]) -> str:
    """The patient box, then a box per resource type listing its resources."""
    c = centre(cards)
    out = ['<section id="summary"><h2>Summary</h2><div class="summary">']
    if c is not None and cards[c].resource_type == "Patient":
        p = cards[c].resource
        facts = []
        for k, label in (("gender", "gender"), ("birthDate", "born")):
            v = p.get(k)
            facts.append(
                f"{label}: {escape(str(v))}"
                if v
                else f'{label}: <span class="muted">not given</span>'
            )
        if p.get("deceasedBoolean") or p.get("deceasedDateTime"):
            facts.append("deceased")
        out.append(
            f'<div class="box patient"><h3>Patient</h3><a href="#{cards[c].anchor}"><strong>'
            f"{escape(cards[c].title)}</strong></a><br>{' · '.join(facts)}"
            f'<div class="muted">{len(cards[c].referenced_by)} references to this patient</div></div>'
        )
    groups: dict[str, list[Card]] = {}
    for card in cards:
        if card.index != c or card.resource_type != "Patient":
            groups.setdefault(card.resource_type, []).append(card)
    for rt, members in groups.items():
        items = []
        for card in members[:_MAX_SUMMARY_ITEMS]:
            bits = []
            status = card.resource.get("clinicalStatus") or card.resource.get("status")
            status_text = concept_text(status) if isinstance(status, dict) else status
            if isinstance(status_text, str):
                bits.append(escape(status_text))
            value = _main_value(card.resource)
            if value:
                bits.append(f"<strong>{escape(value)}</strong>")
            date = _first_date(card.resource)
            if date:
                bits.append(f'<time class="date">{escape(date)}</time>')
            sev = worst([i for _, i in issues_by_card.get(card.index, [])])
            flag = f' <span class="chip sev-{sev}">{sev}</span>' if sev else ""
            extra = f' <span class="muted">{" · ".join(bits)}</span>' if bits else ""
            items.append(f'<li><a href="#{card.anchor}">{escape(card.title)}</a>{extra}{flag}</li>')
        more = len(members) - _MAX_SUMMARY_ITEMS
        if more > 0:
            items.append(f'<li class="muted">… and {more} more</li>')
        out.append(
            f'<div class="box"><h3><span class="rtype" style="background:{colour(rt)}">'
            f"{escape(rt)}</span> {len(members)}</h3><ul>{''.join(items)}</ul></div>"
        )
    out.append("</div></section>")
    return "".join(out)


def count_tables(
    cards: list[Card], issues_by_card: dict[int, list[tuple[str, Issue]]], rest: list[Issue]
) -> str:
    """Counts by resource type (with errors and warnings) and by rule."""
    types: dict[str, Counter[str]] = {}
    for card in cards:
        cnt = types.setdefault(card.resource_type, Counter())
        cnt["resources"] += 1
        for _, i in issues_by_card.get(card.index, []):
            cnt["error" if i.severity == "fatal" else i.severity] += 1
    rows = "".join(
        f'<tr><td><span class="rtype" style="background:{colour(rt)}">{escape(rt)}</span></td>'
        f'<td class="n">{c["resources"]}</td><td class="n">{c["error"]}</td>'
        f'<td class="n">{c["warning"]}</td><td class="n">{c["information"]}</td></tr>'
        for rt, c in sorted(types.items(), key=lambda kv: -kv[1]["resources"])
    )
    out = [
        '<section class="tables" id="counts"><h2>Counts</h2><table id="by-type"><thead><tr><th>type</th>'
        "<th>resources</th><th>errors</th><th>warnings</th><th>info</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    ]
    rules: dict[tuple[str, str], list[tuple[int | None, Issue]]] = {}
    for idx, pairs in issues_by_card.items():
        for _, i in pairs:
            rules.setdefault((i.rule, i.severity), []).append((idx, i))
    for i in rest:
        rules.setdefault((i.rule, i.severity), []).append((None, i))
    if rules:
        body = []
        for (rule, sev), hits in sorted(rules.items(), key=lambda kv: (-len(kv[1]), kv[0])):
            links = " ".join(
                f'<a href="#{cards[idx].anchor}">{escape(cards[idx].label)}</a>'
                for idx in dict.fromkeys(h[0] for h in hits if h[0] is not None)
                if idx is not None
            )
            body.append(
                f'<tr class="issue-row" data-severity="{sev}"><td><code>{escape(rule)}</code></td>'
                f'<td>{escape(sev)}</td><td class="n">{len(hits)}</td>'
                f"<td>{escape(hits[0][1].message)[:200]}<br>{links}</td></tr>"
            )
        out.append(
            '<table id="by-rule"><thead><tr><th>rule</th><th>severity</th><th>count</th>'
            f"<th>example and resources</th></tr></thead><tbody>{''.join(body)}</tbody></table>"
        )
    out.append("</section>")
    return "".join(out)


def page(title: str, subtitle: str, body: str, severities: Counter[str] | None) -> str:
    """The whole document: style, header, filters (when there are issues), body, script."""
    filters = ""
    if severities is not None:
        boxes = "".join(
            f'<label><input type="checkbox" data-sev="{s}" checked> {s} ({severities.get(s, 0)})</label>'
            for s in ("error", "warning", "information")
        )
        filters = (
            f'<nav class="filters"><strong>Show issues:</strong> {boxes} '
            '<label><input type="checkbox" id="only-issues"> only resources with issues</label></nav>'
        )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">"
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<header class="top"><h1>{escape(title)}</h1><div class="muted">{subtitle}</div></header>'
        f"{filters}<main>{body}</main><script>{JS}</script></body></html>"
    )


def verdict(report: Report | None) -> str:
    """The validation verdict as a coloured label."""
    if report is None:
        return '<span class="verdict none">not validated</span>'
    if report.ok:
        return f'<span class="verdict ok">valid</span> {len(report.warnings)} warnings'
    return f'<span class="verdict bad">invalid</span> {len(report.errors)} errors, {len(report.warnings)} warnings'


def bundle_page(
    data: Any, report: Report | None, *, title: str | None = None, against: str | None = None
) -> str:
    """The report page of a bundle (or of one resource) and its validation report."""
    cards = build_cards(data)
    is_bundle = isinstance(data, dict) and data.get("resourceType") == "Bundle"
    issues = report.issues if report is not None else []
    by_card, rest = place_issues(cards, issues, is_bundle)
    severities: Counter[str] = Counter(
        "error" if i.severity == "fatal" else i.severity for i in issues
    )
    writer = CardWriter(cards)
    worst_by_card = {k: s for k, v in by_card.items() if (s := worst([i for _, i in v]))}
    n_refs = sum(1 for c in cards for r in c.refs if r.target is not None and r.target != c.index)
    body = [summary(cards, by_card)]
    if rest:
        body.append(
            '<section id="bundle-issues"><h2>Bundle</h2><ul class="issues">'
            + "".join(issue_html(i, i.path) for i in rest)
            + "</ul></section>"
        )
    body.append(
        '<section class="overview"><div class="graphbox"><h2 style="margin:8px">References '
        f'<span class="muted">({len(cards)} resources, {n_refs} references)</span></h2>'
        f"{svg(cards, worst_by_card)}</div>{count_tables(cards, by_card, rest)}</section>"
    )
    body.append('<section id="resources"><h2>Resources</h2><div class="cards">')
    body.extend(writer.card(c, by_card.get(c.index, [])) for c in cards)
    body.append("</div></section>")
    kind = ""
    if is_bundle:
        kind = f"{escape(str(data.get('type', '')))} Bundle"
        if isinstance(data.get("id"), str):
            kind += f" {escape(data['id'])}"
        if isinstance(data.get("timestamp"), str):
            kind += f" · {escape(data['timestamp'])}"
        kind += " · "
    checked = f" (against {escape(against)})" if against and report is not None else ""
    subtitle = f"{kind}{len(cards)} resources · {verdict(report)}{checked}"
    heading = title or (cards[centre(cards) or 0].title if cards else "FHIR report")
    return page(
        f"FHIR report: {heading}",
        subtitle,
        "".join(body),
        severities if report is not None else None,
    )
