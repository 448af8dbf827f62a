"""``concepts add``: write a concept into an add-on table, with where each code was verified.

A code found in the offline sources (the tables, the SNOMED CT IPS free set, the R4 code systems)
takes its display and source from there. A code typed by hand must pass the offline checks
(SNOMED CT Verhoeff and partition, LOINC check digit, ICD-10-CM shape, UCUM syntax, RxNorm
digits) and needs ``--display`` and ``--source`` (where the user checked it).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fhir_adapter import codesystems as cs
from fhir_adapter.concepts.index import lookup
from fhir_adapter.errors import InputError, MappingError
from fhir_adapter.suggest import close_matches, did_you_mean
from fhir_adapter.terminology import TABLE_KINDS, Terminology

#: Short names accepted before ``|`` in ``--code`` (``sct|233604007``).
SYSTEM_ALIASES = {
    "sct": cs.SNOMED,
    "snomed": cs.SNOMED,
    "loinc": cs.LOINC,
    "rxnorm": cs.RXNORM,
    "icd10cm": cs.ICD10CM,
    "icd-10-cm": cs.ICD10CM,
    "ucum": cs.UCUM,
    "atc": cs.ATC,
    "dcm": cs.DICOM,
    "dicom": cs.DICOM,
}
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_RXCUI = re.compile(r"^[1-9][0-9]{0,9}$")
_ATC = re.compile(r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$")


@dataclass(frozen=True, slots=True)
class NewCoding:
    """A coding about to be written, and whether it came from an offline source."""

    system: str
    code: str
    display: str
    verified: str
    from_index: bool


def parse_code(token: str) -> tuple[str, str]:
    """``SYSTEM|CODE`` (system a canonical URI or a short name such as ``sct``) -> (system, code)."""
    system, sep, code = token.partition("|")
    system, code = system.strip(), code.strip()
    if not sep or not system or not code:
        raise InputError(
            f"{token!r} is not SYSTEM|CODE",
            field="--code",
            fix="e.g. --code http://snomed.info/sct|233604007 (or sct|233604007)",
        )
    system = SYSTEM_ALIASES.get(system.lower(), system)
    canonical = cs.NON_CANONICAL.get(system)
    if canonical:
        raise InputError(
            f"{system!r} is not the canonical R4 URI of its code system",
            field="--code",
            fix=f"use {canonical}|{code}",
        )
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", system):
        raise InputError(
            f"{system!r} is not a code-system URI",
            field="--code",
            fix=f"use a canonical URI or one of: {', '.join(sorted(SYSTEM_ALIASES))}",
        )
    return system, code


def check_code(system: str, code: str) -> str | None:
    """Why a hand-typed code cannot be right (syntax, check digit), or None."""
    check = cs.CHECKS.get(system)
    if check is not None and not check(code):
        what = {
            cs.SNOMED: "a SNOMED CT concept id (6-18 digits, concept partition, Verhoeff check digit)",
            cs.LOINC: "a LOINC code with a valid check digit (e.g. 1988-5)",
            cs.ICD10CM: "an ICD-10-CM code (e.g. J18.9)",
        }[system]
        return f"{code!r} is not {what}"
    if system == cs.UCUM:
        from fhir_adapter.validation.codes import ucum_ok

        if not ucum_ok(code):
            return f"{code!r} is not valid UCUM syntax (e.g. mg/d, not mg/day)"
    if system == cs.RXNORM and not _RXCUI.match(code):
        return f"{code!r} is not an RxNorm RXCUI (digits only)"
    if system == cs.ATC and not _ATC.match(code):
        return f"{code!r} is not an ATC code (e.g. J01CA04)"
    return None


def new_codings(
    codes: list[str], displays: list[str], source: str | None, term: Terminology
) -> list[NewCoding]:
    """Resolve ``--code`` values: from the offline sources, or checked and given by hand."""
    out = []
    hand = 0
    for token in codes:
        system, code = parse_code(token)
        found = lookup(system, code, term)
        if found is not None:
            out.append(NewCoding(system, code, found.display, found.source, True))
            continue
        why = check_code(system, code)
        if why:
            raise InputError(why, field="--code", fix="correct the code (a typo breaks the check)")
        if hand >= len(displays):
            raise InputError(
                f"{system}|{code} is not in the offline sources, so its display is unknown",
                field="--display",
                fix="give --display with the code system's official display (one per hand-typed"
                " --code, in order)",
            )
        if not source:
            raise InputError(
                f"{system}|{code} is not in the offline sources",
                field="--source",
                fix="say where you checked the code and display, e.g. --source 'loinc.org/1988-5'",
            )
        out.append(NewCoding(system, code, displays[hand], source, False))
        hand += 1
    if hand < len(displays):
        raise InputError(
            "more --display values than hand-typed codes",
            field="--display",
            fix="codes found offline take their official display; drop the extra --display",
        )
    return out


def check_target(key: str, table: str, term: Terminology, override: bool) -> None:
    """InputError unless ``key`` may be added to ``table`` (existing key: only as an override)."""
    known = sorted({*term.table_names(), *TABLE_KINDS})
    if table not in known:
        hint = did_you_mean(close_matches(table, known))
        raise InputError(
            f"unknown table {table!r}",
            field="--table",
            fix=f"{hint + ' ' if hint else ''}use one of: {', '.join(known)}",
        )
    if table != "units" and not _KEY.match(key):
        raise InputError(
            f"{key!r} is not a valid key",
            field="KEY",
            fix="use lower_snake_case starting with a letter, e.g. community_acquired_pneumonia",
        )
    if table in term.table_names() and term.has(table, key):
        where = term.table(table)[key].file
        if not override:
            raise InputError(
                f"{key!r} is already in table {table!r} ({where})",
                field="KEY",
                fix="use that concept, pick another key, or pass --override to replace it",
            )


def concept_block(
    key: str, text: str, codings: list[NewCoding], note: str | None, override: bool
) -> str:
    """The YAML text of one concept, indented to sit under ``concepts:``."""
    import yaml

    body: dict[str, Any] = {"text": text}
    if override:
        body["override"] = True
    body["codings"] = [
        {"system": c.system, "code": c.code, "display": c.display, "verified": c.verified}
        for c in codings
    ]
    if note:
        body["note"] = note
    dumped = yaml.safe_dump({key: body}, sort_keys=False, allow_unicode=True, width=100)
    return "".join(f"  {line}\n" for line in dumped.splitlines())


def add_concept(
    key: str,
    table: str,
    codes: list[str],
    directory: Path,
    term: Terminology,
    *,
    text: str | None = None,
    displays: tuple[str, ...] = (),
    source: str | None = None,
    note: str | None = None,
    override: bool = False,
) -> tuple[Path, list[NewCoding]]:
    """Append concept ``key`` to ``directory/<table>.yaml`` (created when missing); returns the
    file and the codings written. Nothing is written when any check fails."""
    from fhir_adapter.files import write_atomic
    from fhir_adapter.terminology import _load_table

    check_target(key, table, term, override)
    if not codes and not note:
        raise InputError(
            "a concept without codes needs a note saying why",
            field="--code",
            fix="give --code SYSTEM|CODE, or --note 'why no code fits' for a text-only concept",
        )
    codings = new_codings(codes, list(displays), source, term)
    if text is None:
        if not codings:
            raise InputError(
                "give --text for a concept without codes",
                field="--text",
                fix="e.g. --text 'Rash, not further specified' (the words the concept stands for)",
            )
        text = codings[0].display
    path = directory / f"{table}.yaml"
    existing = term.table(table).get(key) if table in term.table_names() else None
    if existing is not None and existing.file and Path(existing.file).resolve() == path.resolve():
        raise InputError(
            f"{key!r} is already in {path}",
            field="KEY",
            fix="edit it there, or pick another key",
        )
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if not old.strip():
        old = f"table: {table}\ndescription: Add-on concepts (written by fhir-adapter concepts add).\nconcepts:\n"
    new = (
        old
        + ("" if old.endswith("\n") else "\n")
        + concept_block(key, text, codings, note, override)
    )
    tmp = directory / f".{table}.yaml.check"
    directory.mkdir(parents=True, exist_ok=True)
    tmp.write_text(new, encoding="utf-8")
    try:
        before = (
            {k for k, _, _ in _load_table(path, table, addon=True)} if path.is_file() else set()
        )
        after = {k for k, _, _ in _load_table(tmp, table, addon=True)}
    except MappingError as err:
        raise MappingError(
            f"cannot append to it: {err.message}",
            file=str(path),
            fix="keep 'concepts:' as the last top-level key of the file",
        ) from None
    finally:
        tmp.unlink(missing_ok=True)
    if after != before | {key}:
        raise MappingError(
            "cannot append to it without changing other concepts",
            file=str(path),
            fix="keep 'concepts:' as the last top-level key of the file",
        )
    write_atomic(path, new)
    return path, codings
