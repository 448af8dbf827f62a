"""The ``textLink`` extension on a Narrative (HL7's extensions pack): each link's ``htmlid`` must
be an ``id`` in the narrative's XHTML, and its ``data`` (``#id``) must name an element or
resource ``id`` in the resource or the document holding it, as the official validator checks."""

from __future__ import annotations

import re
from typing import Any

from fhir_adapter.validation.report import Issue

TEXT_LINK = "http://hl7.org/fhir/StructureDefinition/textLink"
_HTML_ID = re.compile(r"""\sid\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _ids(node: Any, out: set[str]) -> set[str]:
    """Every ``id`` value in a JSON tree (iterative: documents nest deeply)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            v = n.get("id")
            if isinstance(v, str):
                out.add(v)
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return out


def check_text_links(narrative: dict[str, Any], root: Any, p: str, issues: list[Issue]) -> None:
    """Check the textLink extensions of one Narrative (``root``: the whole input)."""
    exts = narrative.get("extension")
    links = [
        e
        for e in (exts if isinstance(exts, list) else [])
        if isinstance(e, dict) and e.get("url") == TEXT_LINK
    ]
    if not links:
        return
    raw = narrative.get("div")
    div = raw if isinstance(raw, str) else ""
    html_ids = {a or b for a, b in _HTML_ID.findall(div)}
    ids: set[str] | None = None
    for link in links:
        subs = link.get("extension")
        parts = (
            {x.get("url"): x for x in subs if isinstance(x, dict)} if isinstance(subs, list) else {}
        )
        htmlid = (parts.get("htmlid") or {}).get("valueString")
        if isinstance(htmlid, str) and htmlid not in html_ids:
            issues.append(
                Issue(
                    "error",
                    "text-link",
                    p,
                    f"the html id {htmlid!r} of a textLink is not an id in the narrative's xhtml",
                    f'add id="{htmlid}" to the narrative element the link points at',
                    family="structure",
                )
            )
        data = (parts.get("data") or {}).get("valueUri")
        if isinstance(data, str) and data.startswith("#"):
            ids = ids if ids is not None else _ids(root, set())
            if data[1:] not in ids:
                issues.append(
                    Issue(
                        "error",
                        "text-link",
                        p,
                        f"the textLink data reference {data!r} names no element or resource id",
                        "point data at the id of the element (or resource) the text describes",
                        family="structure",
                    )
                )
