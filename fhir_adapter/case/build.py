"""Schema-valid case data -> the :class:`Case` model, driven by the model's own type hints.

Every field is read from the case-file key of the same name (or its ``yaml`` metadata name);
absent keys keep the model's defaults. Only the few shorthands (a body site or an encounter
diagnosis written as a bare key) and the version-dependent defaults are spelled out here.
"""

from __future__ import annotations

import types
from dataclasses import fields, is_dataclass, replace
from functools import cache
from typing import Any, Union, get_args, get_origin, get_type_hints

from fhir_adapter.case.model import BodySite, Case, Condition, EncounterDiagnosis

#: Shorthand forms: a bare key written where a mapping is expected -> the field it fills.
_SHORTHANDS: dict[type, str] = {BodySite: "site", EncounterDiagnosis: "condition"}


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _value(tp: Any, raw: Any) -> Any:
    origin = get_origin(tp)
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if len(options) != 1:
            return raw  # float | int
        tp, origin = options[0], get_origin(options[0])
    if origin is tuple:
        item = get_args(tp)[0]
        return tuple(_value(item, x) for x in raw)
    if origin is dict:
        return dict(raw)
    if is_dataclass(tp) and isinstance(tp, type):
        return build(tp, raw)
    if tp is str:
        return str(raw)  # a year written as a number
    return raw


def build(cls: type, raw: Any) -> Any:
    """An instance of model class ``cls`` from its case-file data."""
    if isinstance(raw, str) and cls in _SHORTHANDS:
        return cls(**{_SHORTHANDS[cls]: raw})
    hints = _hints(cls)
    kwargs = {}
    for f in fields(cls):
        name = f.metadata.get("yaml", f.name)
        if name in raw:
            kwargs[f.name] = _value(hints[f.name], raw[name])
    return cls(**kwargs)


def _condition_defaults(c: Condition, raw: dict[str, Any], version: int) -> Condition:
    """Format /1: every condition defaults to active on the problem list. Format /2: so do
    confirmed, provisional and unconfirmed diagnoses; differential and refuted ones get neither
    a clinical status nor a category unless the case gives them (the source states neither).
    A condition that abated (``abatement`` given) is no longer active: with no stated clinical
    status it gets ``inactive``, the status its abatement implies (resolved and remission are
    kinds of it; R4 con-4 refuses an abated condition with any other status, or none)."""
    considered = version >= 2 and c.verification in ("differential", "refuted")
    implied = "inactive" if c.abatement is not None else None
    status = c.clinical_status or implied or (None if considered else "active")
    category = raw.get("category") or (None if considered else "problem-list-item")
    return replace(c, clinical_status=status, category=category)


def build_case(data: dict[str, Any], version: int, source: str) -> Case:
    """The :class:`Case` of schema-valid case-file ``data`` written in format ``version``."""
    case: Case = build(Case, data)
    conditions = tuple(
        _condition_defaults(c, raw, version)
        for raw, c in zip(data.get("conditions", ()), case.conditions, strict=True)
    )
    return replace(case, conditions=conditions, path=source, version=version)
