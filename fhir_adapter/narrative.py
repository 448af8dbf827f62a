"""Generated XHTML narratives (``text.status = generated``) a clinician can read."""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any


def narrative(title: str, rows: Iterable[tuple[str, str | None]]) -> dict[str, Any]:
    """A Narrative whose div shows ``title`` then one labelled line per non-empty row."""
    items = "".join(
        f"<li><b>{escape(label)}</b>: {escape(value)}</li>" for label, value in rows if value
    )
    body = f"<p><b>{escape(title)}</b></p>"
    if items:
        body += f"<ul>{items}</ul>"
    return {"status": "generated", "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'}


def join(values: Iterable[str | None], sep: str = "; ") -> str | None:
    """Non-empty values joined, or None when there are none."""
    out = [v for v in values if v]
    return sep.join(out) if out else None
