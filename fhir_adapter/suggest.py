"""Did-you-mean suggestions: close matches for a mistyped name (concept keys, units, fields)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Common spellings of UCUM units' atoms (``mg/day`` -> ``mg/d``); applied before matching.
_UNIT_WORDS = {
    "day": "d",
    "days": "d",
    "hr": "h",
    "hour": "h",
    "hours": "h",
    "sec": "s",
    "week": "wk",
    "weeks": "wk",
    "month": "mo",
    "months": "mo",
    "year": "a",
    "years": "a",
    "yr": "a",
    "mcg": "ug",
    "µg": "ug",
    "cc": "mL",
    "ml": "mL",
    "l": "L",
    "dl": "dL",
}


def close_matches(word: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``choices`` that look most like ``word`` (case-insensitive), best first."""
    by_lower: dict[str, str] = {}
    for c in choices:
        by_lower.setdefault(c.lower(), c)
    if word.lower() in by_lower and by_lower[word.lower()] != word:
        return [by_lower[word.lower()]]  # only the case differs
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=n, cutoff=cutoff)
    return [by_lower[f] for f in found if by_lower[f] != word]


def unit_matches(unit: str, choices: Iterable[str]) -> list[str]:
    """Close UCUM codes for a unit as people write it (``mg/day`` -> ``mg/d``)."""
    choices = list(choices)
    parts = [_UNIT_WORDS.get(p, _UNIT_WORDS.get(p.lower(), p)) for p in unit.split("/")]
    rewritten = "/".join(parts)
    if rewritten != unit and rewritten in choices:
        return [rewritten]
    return close_matches(rewritten, choices)


def did_you_mean(matches: list[str]) -> str | None:
    """``did you mean 'a'?`` / ``did you mean 'a' or 'b'?``, or None when nothing is close."""
    if not matches:
        return None
    quoted = [repr(m) for m in matches]
    head = ", ".join(quoted[:-1])
    return f"did you mean {head + ' or ' if head else ''}{quoted[-1]}?"
