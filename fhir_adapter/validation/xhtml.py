"""Narrative XHTML (``Narrative.div``): the R4 rules txt-1 and txt-2, and a quick path for the
simple XHTML most narratives are."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree

from fhir_adapter.validation.report import Issue

_XHTML_NS = "{http://www.w3.org/1999/xhtml}"


_XHTML_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "b",
        "big",
        "blockquote",
        "br",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "samp",
        "small",
        "span",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "tt",
        "ul",
        "var",
    ]
)


_XHTML_ATTRS = frozenset(
    [
        "abbr",
        "accesskey",
        "align",
        "alt",
        "axis",
        "bgcolor",
        "border",
        "cellhalign",
        "cellpadding",
        "cellspacing",
        "cellvalign",
        "char",
        "charoff",
        "charset",
        "cite",
        "class",
        "colspan",
        "compact",
        "coords",
        "dir",
        "frame",
        "headers",
        "height",
        "href",
        "hreflang",
        "hspace",
        "id",
        "lang",
        "longdesc",
        "name",
        "nowrap",
        "rel",
        "rev",
        "rowspan",
        "rules",
        "scope",
        "shape",
        "span",
        "src",
        "start",
        "style",
        "summary",
        "tabindex",
        "title",
        "type",
        "valign",
        "value",
        "vspace",
        "width",
    ]
)


_XHTML_ROOT = '<div xmlns="http://www.w3.org/1999/xhtml">'


_XHTML_TOKEN = re.compile(
    r"<(/?)([a-z][a-z0-9]*)(/?)>|([^<&\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]+)"
    r"|&(?:amp|lt|gt|quot|apos);"
)


def simple_xhtml_ok(div: str) -> bool:
    """True for a narrative in a simple XHTML subset that the full check passes silently.

    The subset: the exact XHTML root, allowed elements without attributes, text of valid XML
    characters, the five named entities; well nested, with some text or an image. Hand-written
    because it decides the common case without building a parser per resource (about 5x faster);
    anything outside the subset gets the full ElementTree check.
    """
    if not div.startswith(_XHTML_ROOT) or "]]>" in div:
        return False
    stack, text, pos, end = ["div"], False, len(_XHTML_ROOT), len(div)
    match = _XHTML_TOKEN.match
    while pos < end:
        m = match(div, pos)
        if m is None or not stack:
            return False
        pos = m.end()
        closing, name, empty, chunk = m.groups()
        if name is not None:
            if name not in _XHTML_ELEMENTS or (closing and empty):
                return False
            if closing:
                if stack.pop() != name:
                    return False
            elif not empty:
                stack.append(name)
            text = text or name == "img"
        elif chunk is not None:
            text = text or not chunk.isspace()
        else:
            text = True  # an entity is content
    return not stack and text


def check_narrative(n: dict[str, Any], p: str, issues: list[Issue], fast: bool = True) -> None:
    """txt-1/txt-2 issues for a Narrative at ``p``; ``fast``: accept simple XHTML quickly."""
    div = n.get("div")
    if not isinstance(div, str):
        return
    if fast and simple_xhtml_ok(div):
        return
    dp = f"{p}.div"
    try:
        el = ElementTree.fromstring(div)
    except ElementTree.ParseError as err:
        issues.append(
            Issue(
                "error",
                "txt-1",
                dp,
                f"narrative is not well-formed XHTML: {err}",
                family="invariant",
            )
        )
        return
    if el.tag != f"{_XHTML_NS}div":
        issues.append(
            Issue(
                "error",
                "txt-1",
                dp,
                "narrative root must be a <div> in the XHTML namespace",
                'use <div xmlns="http://www.w3.org/1999/xhtml">',
                family="invariant",
            )
        )
        return
    for e in el.iter():
        tag = e.tag.replace(_XHTML_NS, "") if isinstance(e.tag, str) else ""
        if tag not in _XHTML_ELEMENTS:
            issues.append(
                Issue(
                    "error",
                    "txt-1",
                    dp,
                    f"element <{tag}> is not allowed in a narrative",
                    "use basic HTML only (no script, form, style elements)",
                    family="invariant",
                )
            )
            return
        for a in e.attrib:
            name = a.rsplit("}", 1)[-1]
            if name not in _XHTML_ATTRS or (
                name in ("href", "src") and e.attrib[a].strip().lower().startswith("javascript:")
            ):
                issues.append(
                    Issue(
                        "error",
                        "txt-1",
                        dp,
                        f"attribute {name!r} is not allowed in a narrative",
                        "remove event handlers and active content",
                        family="invariant",
                    )
                )
                return
    if not "".join(el.itertext()).strip() and el.find(f".//{_XHTML_NS}img") is None:
        issues.append(
            Issue(
                "error",
                "txt-2",
                dp,
                "The narrative SHALL have some non-whitespace content",
                "write the narrative text",
                family="invariant",
            )
        )
