"""Find, show and add terminology concepts (offline: tables, SNOMED CT IPS free set, R4 codes).

fhir-adapter concepts search TEXT [--kind KIND]    ranked matches with codes and sources
fhir-adapter concepts show KEY [--table TABLE]     a concept of the tables, or SYSTEM|CODE
fhir-adapter concepts add KEY --table TABLE --code SYSTEM|CODE ...   into your add-on table
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the ``concepts`` sub-commands."""
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    s = sub.add_parser("search", help="search concepts by words or code")
    s.add_argument("text", nargs="+", help="words (pneumonia, 'chest x-ray') or a code")
    s.add_argument(
        "--kind",
        help="condition, finding, lab, procedure, allergy, body-site, "
        "medication, unit, specimen, organism, code, ...",
    )
    s.add_argument("--limit", type=int, default=10, help="at most this many hits (default 10)")
    s.add_argument("--format", choices=("text", "json"), default="text")
    sh = sub.add_parser("show", help="show a concept key (or SYSTEM|CODE)")
    sh.add_argument("key", help="a concept key, or SYSTEM|CODE")
    sh.add_argument("--table", help="only this table")
    sh.add_argument("--format", choices=("text", "json"), default="text")
    a = sub.add_parser(
        "add",
        help="add a concept to your add-on table",
        description="Write KEY into <add-on dir>/<TABLE>.yaml. The add-on directory is the first "
        "--mappings DIR, else the first of $FHIR_ADAPTER_MAPPINGS, else the first of 'mappings:' "
        "in fhir-adapter.yaml. Codes found offline take their official display and source; "
        "hand-typed ones are checked and need --display and --source.",
    )
    a.add_argument(
        "key", help="the key case files will use (lower_snake_case; units: the UCUM code)"
    )
    a.add_argument("--table", required=True, help="conditions, findings, labs, medications, ...")
    a.add_argument(
        "--code",
        action="append",
        default=[],
        metavar="SYSTEM|CODE",
        help="a coding, in order of preference (repeatable); SYSTEM may be sct, "
        "loinc, rxnorm, icd10cm, ucum, atc, dcm",
    )
    a.add_argument("--text", help="CodeableConcept.text (default: the first code's display)")
    a.add_argument(
        "--display",
        action="append",
        default=[],
        help="official display of a hand-typed code (one per hand-typed --code)",
    )
    a.add_argument("--source", help="where you verified the hand-typed codes")
    a.add_argument("--note", help="why a concept has no code, or a coding choice explained")
    a.add_argument(
        "--override",
        action="store_true",
        help="replace a concept of the same key in the shipped or another table",
    )
    for p in (s, sh, a):
        p.add_argument(
            "--mappings",
            action="append",
            default=[],
            metavar="DIR",
            help="add-on mappings directory (repeatable)",
        )


def run(args: argparse.Namespace) -> int:
    """Run the chosen action."""
    return {"search": _search, "show": _show, "add": _add}[args.action](args)


def _terminology() -> Any:
    """The shipped and configured tables; a configured add-on directory that does not exist
    yet is noted, not an error (``concepts add`` creates it)."""
    from fhir_adapter.paths import MAPPINGS_DIR
    from fhir_adapter.terminology import Terminology, configured_addons

    term = Terminology(MAPPINGS_DIR, configured_addons(), missing_ok=True)
    for a in term.skipped:
        print(
            f"note: add-on directory {a.path} ({a.origin}) does not exist yet; "
            "`fhir-adapter concepts add` creates it",
            file=sys.stderr,
        )
    return term


def _search(args: argparse.Namespace) -> int:
    from fhir_adapter.concepts.search import respell, search

    text = " ".join(args.text)
    term = _terminology()
    hits = search(text, kind=args.kind, limit=args.limit, terminology=term)
    note = None
    if not hits:
        better = respell(text, kind=args.kind, terminology=term) or _unit_guess(text, term)
        if better:
            hits = search(better, kind=args.kind, limit=args.limit, terminology=term)
            note = f"no match for {text!r}; showing {better!r}"
    if args.format == "json":
        _print_json([_hit_json(h.entry, h.key) for h in hits])
        return 0 if hits else 1
    if note:
        print(note, file=sys.stderr)
    if not hits:
        kind = f" of kind {args.kind!r}" if args.kind else ""
        print(f"no concept{kind} matches {text!r}", file=sys.stderr)
        print(
            "fix: try fewer or other words, another --kind, or add a code you have verified "
            "with `fhir-adapter concepts add KEY --table TABLE --code SYSTEM|CODE "
            "--display ... --source ...`",
            file=sys.stderr,
        )
        return 1
    for i, h in enumerate(hits, 1):
        _print_entry(h.entry, h.key, i, args.kind)
    return 0


def _unit_guess(text: str, term: Any) -> str | None:
    """The UCUM code of the units table closest to ``text`` (``mg/day`` -> ``mg/d``), or None."""
    from fhir_adapter.suggest import unit_matches

    close = unit_matches(text, term.table("units"))
    return close[0] if close else None


def _where(entry: Any) -> str:
    if entry.origin == "table":
        from fhir_adapter.paths import MAPPINGS_DIR

        shipped = Path(entry.file).parent == MAPPINGS_DIR
        return f"table {entry.table}" + ("" if shipped else f", add-on {entry.file}")
    return "not in your tables yet"


def _print_entry(entry: Any, key: str, n: int | None = None, kind: str | None = None) -> None:
    head = f"{n}. " if n is not None else ""
    print(f"{head}{key}  [{', '.join(entry.kinds)}; {_where(entry)}]  {entry.text}")
    for c in entry.codes:
        print(f"     {c.system}|{c.code}  {c.display}")
        print(f"       verified: {c.source}")
    if not entry.codes:
        print("     (text only: no verified code)")
    if entry.note:
        print(f"     note: {' '.join(entry.note.split())}")
    if entry.origin != "table":
        from fhir_adapter.concepts.search import table_for

        table = table_for(entry.kinds, kind) or "TABLE"
        codes = " ".join(f"--code '{c.system}|{c.code}'" for c in entry.codes)
        print(f"     add: fhir-adapter concepts add {key} --table {table} {codes}")


def _hit_json(entry: Any, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "in_table": entry.table,
        "file": entry.file,
        "kinds": list(entry.kinds),
        "text": entry.text,
        "origin": entry.origin,
        "codes": [
            {"system": c.system, "code": c.code, "display": c.display, "verified": c.source}
            for c in entry.codes
        ],
        **({"note": entry.note} if entry.note else {}),
    }


def _print_json(data: Any) -> None:
    import json

    print(json.dumps(data, indent=2, ensure_ascii=False))


def _show(args: argparse.Namespace) -> int:
    from fhir_adapter.concepts.addon import parse_code
    from fhir_adapter.concepts.index import offline_entry, table_entries
    from fhir_adapter.concepts.search import suggest_key
    from fhir_adapter.errors import InputError
    from fhir_adapter.suggest import close_matches, did_you_mean

    term = _terminology()
    if "|" in args.key:
        system, code = parse_code(args.key)
        entries = [
            e
            for e in table_entries(term)
            if any(c.system == system and c.code == code for c in e.codes)
        ]
        offline = None if entries else offline_entry(system, code)
        if offline is not None:
            entries = [offline]
        if not entries:
            raise InputError(
                f"{system}|{code} is in none of the offline sources",
                field="KEY",
                fix="offline: the tables, the SNOMED CT IPS free set and the HL7/DICOM code "
                "systems of R4; other codes need checking elsewhere",
            )
    else:
        all_entries = [e for e in table_entries(term) if not args.table or e.table == args.table]
        entries = [e for e in all_entries if e.key == args.key]
        if not entries:
            hint = did_you_mean(close_matches(args.key, {e.key or "" for e in all_entries}))
            where = f"table {args.table!r}" if args.table else "any table"
            dirs = ", ".join(str(d) for d in term.directories)
            raise InputError(
                f"{args.key!r} is not a concept key of {where} (read: {dirs})",
                field="KEY",
                fix=f"{hint + ' Otherwise ' if hint else ''}search: "
                f"fhir-adapter concepts search {args.key.replace('_', ' ')!r}",
            )
    if args.format == "json":
        _print_json([_hit_json(e, e.key or suggest_key(e.text)) for e in entries])
        return 0
    for e in entries:
        _print_entry(e, e.key or suggest_key(e.text))
        if e.file:
            print(f"     file: {e.file}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from fhir_adapter.concepts.addon import add_concept
    from fhir_adapter.errors import InputError
    from fhir_adapter.terminology import configured_addons

    target = Path(args.mappings[0]) if args.mappings else None
    if target is None:
        configured = [a.path for a in configured_addons()]
        if not configured:
            raise InputError(
                "no add-on mappings directory to write to",
                field="--mappings",
                fix="pass --mappings DIR (created if missing), or put 'mappings: [DIR]' in "
                "fhir-adapter.yaml so that convert reads it too",
            )
        target = configured[0]
    if target.exists() and not target.is_dir():
        raise InputError(
            "is a file, not an add-on mappings directory",
            file=str(target),
            field="--mappings",
            fix="give the directory that holds (or will hold) <table>.yaml files",
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(
            f"cannot create the add-on mappings directory ({type(err).__name__})",
            file=str(target),
            field="--mappings",
            fix="check the path and its permissions",
        ) from None
    path, codings = add_concept(
        args.key,
        args.table,
        args.code,
        target,
        _terminology(),
        text=args.text,
        displays=tuple(args.display),
        source=args.source,
        note=args.note,
        override=args.override,
    )
    print(f"added {args.key!r} to {path}")
    for c in codings:
        how = "from the offline sources" if c.from_index else "typed by hand, syntax checked"
        print(f"  {c.system}|{c.code}  {c.display}  ({how}; verified: {c.verified})")
    if any(not c.from_index for c in codings):
        print(
            "  note: hand-typed codes were checked for syntax and check digits only; make sure "
            "code and display are right",
            file=sys.stderr,
        )
    return 0
