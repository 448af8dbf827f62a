"""The exact calendar date a case time stands for, when the case fixes one.

A stated, non-approximate date is exact; so is a time that follows exactly from another item's
exact date ("3 days after admission on 2021-03-02" -> 2021-03-05). The result is never more
precise than what it is computed from: months give ``YYYY-MM``, days and weeks need a
day-precise anchor, years keep the anchor's precision (at most ``YYYY-MM``). The mappers write
these dates; the case checks compare them.
"""

from __future__ import annotations

import datetime as dt

from fhir_adapter.case.model import ANCHORS, Case, Time


def exact_date(case: Case, t: Time, seen: frozenset[str] = frozenset()) -> str | None:
    """The exact date ``t`` stands for, or None when the case does not fix one."""
    if t.date is not None:
        return None if t.approximate else t.date
    if t.relative_to is None or t.direction == "during":
        return None
    base = anchor_date(case, t.relative_to, t.anchor, seen)
    if base is None:
        return None
    if t.direction == "at":
        return base
    o = t.offset
    if o is None or o.value is None or o.approximate:
        return None
    return shift(base, (-1 if t.direction == "before" else 1) * o.value, o.unit)


def anchor_date(case: Case, key: str, point: str, seen: frozenset[str] = frozenset()) -> str | None:
    """The exact date of the start or end (``point``) of case item ``key``, when one is known."""
    if key in seen:
        return None
    field = ANCHORS[case.kind(key)].get(point)
    t = getattr(case.item(key), field) if field else None
    if not isinstance(t, Time) or (t.date is None and t.relative_to is None):
        return None
    return exact_date(case, t, seen | {key})


def shift(date: str, amount: float | int, unit: str) -> str | None:
    """``date`` moved by ``amount`` ``unit`` (d, wk, mo, a), at a precision the inputs support;
    None when the result would claim more precision than they have."""
    parts = [int(p) for p in date.split("-")]
    if amount != int(amount):
        return None
    n = int(amount)
    if unit in ("d", "wk"):
        if len(parts) < 3:
            return None
        day = dt.date(*parts) + dt.timedelta(days=n * (7 if unit == "wk" else 1))
        return day.isoformat()
    if unit == "mo":
        if len(parts) < 2:
            return None
        months = parts[0] * 12 + parts[1] - 1 + n
        return f"{months // 12:04d}-{months % 12 + 1:02d}"
    if unit == "a":
        year = parts[0] + n
        if len(parts) == 1:
            return f"{year:04d}"
        return f"{year:04d}-{parts[1]:02d}"
    return None


def before(later: str, earlier: str) -> bool:
    """Whether date ``later`` lies before ``earlier`` at the precision both share ('2021-03'
    is not before '2021'; '2021-02' is before '2021-03-05')."""
    n = min(len(later), len(earlier))
    return later[:n] < earlier[:n]
