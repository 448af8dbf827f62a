"""Narratives made safe to show inside the report: only FHIR's narrative elements and
attributes are kept, nothing that could run script or load anything from the network."""

from __future__ import annotations

import re
from collections import Counter
from html import escape
from html.parser import HTMLParser

# The element set of FHIR's narrative rule txt-1, shared with the validator.
from fhir_adapter.validation.xhtml import _XHTML_ELEMENTS

#: attributes kept (style and src are dropped: both can load from the network)
_ATTRS = frozenset(
    {"abbr", "align", "alt", "colspan", "rowspan", "dir", "headers", "lang", "scope", "title"}
)
_VOID = frozenset({"br", "hr", "img", "col"})


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.hidden = 0  # inside <script> or <style>: their text is not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
            return
        if tag not in _XHTML_ELEMENTS or (tag == "div" and not self.open and not self.out):
            if tag == "div":
                self.open.append("")  # the narrative root: dropped, its content kept
            return
        if tag == "img":  # no network: an image shows as its alt text
            alt = next((v for k, v in attrs if k == "alt" and v), "image")
            self.out.append(f"[{escape(alt)}]")
            return
        kept = [(k, v) for k, v in attrs if k in _ATTRS and v is not None]
        if tag == "a":
            href = next((v for k, v in attrs if k == "href" and v), None)
            if href and href.startswith(("http://", "https://", "#")):
                kept.append(("href", href))
        text = "".join(f' {k}="{escape(v or "", quote=True)}"' for k, v in kept)
        self.out.append(f"<{tag}{text}>")
        if tag not in _VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden = max(self.hidden - 1, 0)
            return
        if tag in _VOID or tag not in self.open:
            return
        while self.open:
            top = self.open.pop()
            if top:
                self.out.append(f"</{top}>")
            if top == tag or (tag == "div" and top == ""):
                break

    def handle_data(self, data: str) -> None:
        if self.hidden:
            return
        self.out.append(escape(data, quote=False))


#: the common generated narrative: the XHTML root holding text and attribute-less inline and
#: list tags (no nested div), which is safe as written once its tags balance
_SIMPLE = re.compile(
    r'<div xmlns="http://www\.w3\.org/1999/xhtml">((?:[^<&]|&(?:amp|lt|gt|quot|apos|#\d{1,7}|#x[0-9a-fA-F]{1,6});'
    r"|</?(?:p|b|i|em|strong|br|ul|ol|li|span|code|sub|sup|h[1-6])\s*/?>)*)</div>\s*"
)
_TAG = re.compile(r"<(/?)([a-z0-9]+)\s*(/?)>")


def _balanced(body: str) -> bool:
    opened: Counter[str] = Counter()
    for close, name, empty in _TAG.findall(body):
        if name == "br" or empty:
            continue
        opened[name] += -1 if close else 1
        if opened[name] < 0:
            return False
    return not any(opened.values())


def safe_narrative(div: str) -> str:
    """The narrative's content as HTML safe to inline: allowed elements, harmless attributes,
    text escaped, tags balanced; no script, style, event handler, image or form."""
    m = _SIMPLE.fullmatch(div)
    if m and _balanced(m.group(1)):
        return m.group(1)
    parser = _Sanitiser()
    parser.feed(div)
    parser.close()
    parser.out.extend(f"</{t}>" for t in reversed(parser.open) if t)
    return "".join(parser.out)
