"""The searchable sources of concepts: the terminology tables (shipped and add-on), the offline
SNOMED CT IPS free set (``data/snomed-ips.json.gz``) and the HL7/DICOM code systems of the R4
definitions (the validator's ``displays.json.gz``)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from fhir_adapter.paths import PACKAGE_DIR
from fhir_adapter.terminology import Terminology, kind_of

DATA = Path(__file__).with_name("data") / "snomed-ips.json.gz"
#: The validator's generated HL7/DICOM code systems (read directly: importing the validation
#: package would cost a search a third of its time).
R4_DISPLAYS = PACKAGE_DIR / "validation" / "data" / "displays.json.gz"

#: ``keep(text, code)``: whether a source row is worth building an entry for.
Keep = Callable[[str, str], bool]

#: Where a concept comes from, in ranking order (tables first at equal match quality).
ORIGINS = ("table", "snomed-ips", "r4")


@dataclass(frozen=True, slots=True)
class Code:
    """One code with its display and where it was verified."""

    system: str
    code: str
    display: str
    source: str

    @property
    def token(self) -> str:
        """``system|code``, the form ``concepts add --code`` takes."""
        return f"{self.system}|{self.code}"


@dataclass(frozen=True, slots=True)
class Entry:
    """A searchable concept: a table concept (with its key) or one code of an offline source."""

    origin: str
    kinds: tuple[str, ...]
    text: str
    codes: tuple[Code, ...]
    key: str | None = None
    table: str | None = None
    file: str | None = None
    note: str | None = None


@cache
def snomed_index() -> dict[str, Any]:
    """The generated SNOMED CT IPS free-set index (edition, licence, value sets, concepts)."""
    data: dict[str, Any] = json.loads(gzip.decompress(DATA.read_bytes()))
    return data


@cache
def snomed_source(valueset_ids: tuple[int, ...]) -> str:
    """Where a free-set concept was verified: edition, free sets, package."""
    ix = snomed_index()
    edition = ix["edition"].rsplit("/", 1)[-1]
    titles = ", ".join(ix["valuesets"][i]["title"].split(" - ")[0] for i in valueset_ids)
    pkg = ix["package"]
    return f"SNOMED CT IPS free set {edition} ({titles}; {pkg['name']} {pkg['version']})"


@cache
def _snomed_kinds(valueset_ids: tuple[int, ...]) -> tuple[str, ...]:
    sets = snomed_index()["valuesets"]
    return tuple(dict.fromkeys(k for i in valueset_ids for k in sets[i]["kinds"]))


def snomed_entries(keep: Keep | None = None, kind: str | None = None) -> list[Entry]:
    """An entry per SNOMED CT IPS free-set concept (of ``kind``, and that ``keep`` accepts)."""
    ix = snomed_index()
    system = ix["system"]
    out = []
    for code, display, vs in ix["concepts"]:
        if keep is not None and not keep(display, code):
            continue
        ids = tuple(vs)
        kinds = _snomed_kinds(ids)
        if kind is None or kind in kinds:
            code_ = Code(system, code, display, snomed_source(ids))
            out.append(Entry("snomed-ips", kinds, display, (code_,)))
    return out


@cache
def r4_displays() -> dict[str, dict[str, Any]]:
    """system -> {code: display or [display, designations...]} (the validator's table)."""
    data: dict[str, dict[str, Any]] = json.loads(gzip.decompress(R4_DISPLAYS.read_bytes()))
    return data


def _r4_display(value: Any) -> str:
    return str(value[0] if isinstance(value, list) else value or "")


def r4_entries(keep: Keep | None = None) -> list[Entry]:
    """An entry per code of the HL7 and DICOM code systems the R4 definitions hold completely
    (that ``keep`` accepts; the example code system and codes without a display left out)."""
    out = []
    for system, codes in r4_displays().items():
        if system.endswith("/CodeSystem/example"):
            continue
        source = f"FHIR R4 4.0.1 definitions, CodeSystem {system}"
        for code, value in codes.items():
            display = _r4_display(value)
            if display and (keep is None or keep(display, code)):
                out.append(Entry("r4", ("code",), display, (Code(system, code, display, source),)))
    return out


def table_entries(term: Terminology) -> list[Entry]:
    """One entry per concept of the terminology tables (shipped and add-on)."""
    return [
        Entry(
            "table",
            (kind_of(c.table),),
            c.text,
            tuple(
                Code(x.system, x.code, x.display, x.verified or f"table {c.table}")
                for x in c.codings
            ),
            key=c.key,
            table=c.table,
            file=c.file,
            note=c.note,
        )
        for c in term.all_concepts()
    ]


def lookup(system: str, code: str, term: Terminology) -> Code | None:
    """A code of the offline sources (tables, SNOMED CT IPS free set, R4 code systems)."""
    for c in term.all_concepts():
        for x in c.codings:
            if x.system == system and x.code == code:
                return Code(x.system, x.code, x.display, x.verified or f"table {c.table}")
    ix = snomed_index()
    if system == ix["system"]:
        for row in ix["concepts"]:
            if row[0] == code:
                return Code(system, code, row[1], snomed_source(tuple(row[2])))
        return None
    display = _r4_display(r4_displays().get(system, {}).get(code))
    if display:
        return Code(system, code, display, f"FHIR R4 4.0.1 definitions, CodeSystem {system}")
    return None
