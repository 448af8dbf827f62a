"""A resource as an HTML card: header, narrative, every element as a readable row (codes with
system names and displays, quantities, dates, references as links), and the validation issues
beside the element they concern."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from fhir_adapter.report.graph import colour
from fhir_adapter.report.model import (
    SKIPPED,
    Card,
    concept_text,
    human_name,
    is_date,
    system_name,
)
from fhir_adapter.report.narrative import safe_narrative
from fhir_adapter.validation.report import Issue

_SEV_RANK = {"fatal": 0, "error": 1, "warning": 2, "information": 3}
_ROW_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)")

#: elements shown as status chips in the card header
STATUS_KEYS = ("status", "clinicalStatus", "verificationStatus", "intent", "gender")


def worst(issues: list[Issue]) -> str | None:
    """The most severe severity among issues (``fatal`` counts as ``error``)."""
    if not issues:
        return None
    sev = min(issues, key=lambda i: _SEV_RANK[i.severity]).severity
    return "error" if sev == "fatal" else sev


def issue_html(issue: Issue, rel: str) -> str:
    """One issue as a list item; filters key on its ``data-severity``."""
    sev = "error" if issue.severity == "fatal" else issue.severity
    pos = f' <span class="pos">{escape(issue.position)}</span>' if issue.position else ""
    fix = f'<div class="fix">fix: {escape(issue.fix)}</div>' if issue.fix else ""
    return (
        f'<li class="issue sev-{sev}" data-severity="{sev}" data-rule="{escape(issue.rule)}">'
        f'<span class="badge">{escape(issue.severity)}</span> <code class="rule">{escape(issue.rule)}</code> '
        f'<code class="path">{escape(rel or "(resource)")}</code>{pos}: {escape(issue.message)}{fix}</li>'
    )


class CardWriter:
    """Renders cards; knows every card so references become links."""

    def __init__(self, cards: list[Card]) -> None:
        self.cards = cards

    # -- values ---------------------------------------------------------------------------
    def value(self, v: Any, path: str, refs: dict[str, Any], depth: int = 0) -> str:
        """A FHIR value as HTML, by its shape (datatypes are recognised from their keys)."""
        if isinstance(v, list):
            items = [self.value(x, f"{path}[{i}]", refs, depth) for i, x in enumerate(v)]
            if len(items) == 1:
                return items[0]
            return '<ul class="items">' + "".join(f"<li>{x}</li>" for x in items) + "</ul>"
        if isinstance(v, bool):
            return "yes" if v else "no"
        if isinstance(v, (int, float)):
            return escape(str(v))
        if isinstance(v, str):
            if is_date(v):
                return f'<time class="date">{escape(v)}</time>'
            return escape(v if len(v) <= 600 else v[:600] + "…")
        if not isinstance(v, dict):
            return escape(str(v))
        if "reference" in v or ("display" in v and "type" in v and len(v) <= 3):
            return self.reference(v, path, refs)
        if "coding" in v or (set(v) == {"text"} and path.split(".")[-1] != "note"):
            return self.concept(v)
        if "system" in v and "code" in v and "value" not in v:
            return self.concept({"coding": [v]})
        if "value" in v and ("unit" in v or "code" in v or "comparator" in v):
            unit = v.get("unit") or v.get("code") or ""
            return f'<span class="qty">{escape(str(v.get("comparator", "")))}{escape(str(v["value"]))} {escape(str(unit))}</span>'
        if set(v) <= {"start", "end", "extension", "id"} and v:
            return f"{self.value(v.get('start', '…'), path, refs)} – {self.value(v.get('end', '…'), path, refs)}"
        if set(v) <= {"low", "high"} and v:
            return f"{self.value(v.get('low', '…'), path, refs)} – {self.value(v.get('high', '…'), path, refs)}"
        if "family" in v or "given" in v:
            return escape(human_name(v) or "")
        if set(v) >= {"value"} and "system" in v:  # Identifier
            return f'{escape(str(v["value"]))} <span class="sys">{escape(system_name(v["system"]))}</span>'
        if depth >= 3:
            return f"<code>{escape(str(v))[:300]}</code>"
        rows = "".join(
            f"<dt>{escape(k)}</dt><dd>{self.value(x, f'{path}.{k}', refs, depth + 1)}</dd>"
            for k, x in v.items()
            if k not in ("extension", "id", "modifierExtension") or depth == 0
        )
        return f'<dl class="sub">{rows}</dl>'

    def concept(self, cc: dict[str, Any]) -> str:
        """A CodeableConcept: each coding as system name, code and display; then its text."""
        parts = []
        codings = cc.get("coding")
        for c in codings if isinstance(codings, list) else []:
            if not isinstance(c, dict):
                continue
            disp = c.get("display")
            disp_html = (
                f'<span class="display">{escape(str(disp))}</span>'
                if disp
                else '<span class="display none">(no display)</span>'
            )
            parts.append(
                f'<li><span class="sys" title="{escape(str(c.get("system", "")))}">'
                f"{escape(system_name(c.get('system')))}</span> "
                f'<code class="code">{escape(str(c.get("code", "")))}</code> {disp_html}</li>'
            )
        text = cc.get("text")
        codes = f'<ul class="codes">{"".join(parts)}</ul>' if parts else ""
        txt = f'<div class="cc-text">“{escape(str(text))}”</div>' if text else ""
        return codes + txt

    def reference(self, v: dict[str, Any], path: str, refs: dict[str, Any]) -> str:
        """A Reference: a link to the card it resolves to, else the reference as written."""
        ref = refs.get(path)
        target = self.cards[ref.target] if ref is not None and ref.target is not None else None
        disp = v.get("display")
        shown = escape(str(v.get("reference", "")))
        if target is not None:
            link = (
                f'<a class="ref" href="#{target.anchor}" data-to="{target.anchor}">'
                f"{escape(target.resource_type)}: {escape(target.title)}</a>"
            )
            return link + f' <span class="refid">{shown}</span>'
        note = (
            "" if shown.startswith("#") else ' <span class="unresolved">(not in this bundle)</span>'
        )
        label = f" {escape(str(disp))}" if disp else ""
        return f'<span class="ref">{shown}</span>{label}{note}'

    # -- the card ---------------------------------------------------------------------------
    def card(self, card: Card, issues: list[tuple[str, Issue]]) -> str:
        """The card; ``issues`` are (path relative to the resource, issue) pairs."""
        res = card.resource
        refs = {r.path: r for r in card.refs}
        by_row: dict[str, list[tuple[str, Issue]]] = {}
        for rel, issue in issues:
            m = _ROW_KEY.match(rel)
            key = m.group(1) if m and m.group(1) in res and m.group(1) not in SKIPPED else ""
            if m and m.group(1) == "text" and "text" in res:
                key = "text"
            by_row.setdefault(key, []).append((rel, issue))
        sev = worst([i for _, i in issues])
        classes = "card" + (f" has-issues has-{sev}" if sev else "")
        counts = {s: sum(1 for _, i in issues if i.severity in s) for s in ("error", "warning")}
        out = [
            f'<article class="{classes}" id="{card.anchor}" data-type="{escape(card.resource_type)}" '
            f'data-label="{escape(card.label)}" data-issues="{len(issues)}">',
            f'<header style="border-color:{colour(card.resource_type)}">'
            f'<span class="rtype" style="background:{colour(card.resource_type)}">{escape(card.resource_type)}</span> '
            f"<h3>{escape(card.title)}</h3>",
        ]
        chips = []
        for k in STATUS_KEYS:
            v = res.get(k)
            text = concept_text(v) if isinstance(v, dict) else v
            if isinstance(text, str):
                chips.append(f'<span class="chip" title="{k}">{escape(text)}</span>')
        if issues:
            chips.append(
                f'<span class="chip issues-chip sev-{sev}">{counts["error"]} errors, '
                f"{counts['warning']} warnings</span>"
            )
        out.append(f'<div class="chips">{"".join(chips)}</div>')
        full = f' <span class="fullurl">{escape(card.full_url)}</span>' if card.full_url else ""
        out.append(f'<div class="ids"><code>{escape(card.label)}</code>{full}</div></header>')
        for rel, issue in by_row.pop("", []):
            out.append(f'<ul class="issues card-issues">{issue_html(issue, rel)}</ul>')
        text = res.get("text")
        if isinstance(text, dict) and isinstance(text.get("div"), str):
            row_issues = by_row.pop("text", [])
            out.append(
                f'<div class="narrative" data-path="text">{safe_narrative(text["div"])}</div>'
                + self._issues(row_issues)
            )
        out.append('<dl class="elements">')
        for k, v in res.items():
            if k in SKIPPED:
                continue
            row_issues = by_row.pop(k, [])
            mark = f' class="has-{worst([i for _, i in row_issues])}"' if row_issues else ""
            out.append(
                f'<div class="row" data-path="{escape(k)}"><dt{mark}>{escape(k)}</dt>'
                f"<dd>{self.value(v, k, refs)}{self._issues(row_issues)}</dd></div>"
            )
        out.append("</dl>")
        left = [x for rows in by_row.values() for x in rows]
        if left:
            out.append(self._issues(left))
        if card.referenced_by:
            links = "".join(
                f'<a class="ref back" href="#{self.cards[i].anchor}">{escape(self.cards[i].resource_type)}: '
                f'{escape(self.cards[i].title)}</a> <span class="refid">.{escape(p)}</span> '
                for i, p in card.referenced_by[:50]
            )
            more = len(card.referenced_by) - 50
            extra = f" … and {more} more" if more > 0 else ""
            out.append(f'<div class="backrefs">Referenced by: {links}{extra}</div>')
        out.append("</article>")
        return "".join(out)

    @staticmethod
    def _issues(pairs: list[tuple[str, Issue]]) -> str:
        if not pairs:
            return ""
        return '<ul class="issues">' + "".join(issue_html(i, rel) for rel, i in pairs) + "</ul>"
