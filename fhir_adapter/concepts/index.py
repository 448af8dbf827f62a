"""The searchable sources of concepts: the terminology tables (shipped and add-on), the offline
SNOMED CT IPS free set (``data/snomed-ips.json.gz``) and the HL7/DICOM code systems of the R4
definitions (the validator's ``displays.json.gz``)."""

from __future__ import annotations

import gzip
import json
import unicodedata
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from itertools import accumulate
from pathlib import Path
from typing import Any

from fhir_adapter.paths import PACKAGE_DIR
from fhir_adapter.terminology import Terminology, kind_of

DATA = Path(__file__).with_name("data") / "snomed-ips.json.gz"
#: The validator's generated HL7/DICOM code systems (read directly: importing the validation
#: package would cost a search a third of its time).
R4_DISPLAYS = PACKAGE_DIR / "validation" / "data" / "displays.json.gz"

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
def snomed_kinds() -> frozenset[str]:
    """Every kind the SNOMED CT IPS free sets serve."""
    return frozenset(k for vs in snomed_index()["valuesets"] for k in vs["kinds"])


@cache
def _snomed_kinds(valueset_ids: tuple[int, ...]) -> tuple[str, ...]:
    sets = snomed_index()["valuesets"]
    return tuple(dict.fromkeys(k for i in valueset_ids for k in sets[i]["kinds"]))


class Source:
    """An offline source as columns, searchable without a Python call per row: the texts,
    lower-cased and joined into one string that ``str.find`` scans."""

    def __init__(self, texts: list[str], codes: list[str], make: Callable[[int], Entry]) -> None:
        self.texts = texts
        self.make = make
        lowered = [fold(t) for t in texts]
        self._hay = "\n".join(lowered)
        self._starts = [0, *accumulate(len(t) + 1 for t in lowered)]
        self._codes: dict[str, list[int]] = {}
        for i, c in enumerate(codes):
            self._codes.setdefault(c, []).append(i)

    def find(self, system: str, code: str) -> Entry | None:
        """The entry of ``system|code``, or None."""
        for row in self._codes.get(code, ()):
            entry = self.make(row)
            if entry.codes[0].system == system:
                return entry
        return None

    def candidates(self, query: list[str], raw: str) -> list[int]:
        """Rows whose text holds every query word (as a substring), or whose code is ``raw``."""
        rows = set(self._codes.get(raw, ()))
        longest = max(query, key=len)
        hay, starts = self._hay, self._starts
        i = hay.find(longest)
        while i != -1:
            row = bisect_right(starts, i) - 1
            rows.add(row)
            i = hay.find(longest, i + 1)
        others = [q for q in query if q != longest]
        return sorted(
            r
            for r in rows
            if all(q in hay[starts[r] : starts[r + 1]] for q in others)
            or r in self._codes.get(raw, ())
        )


def fold(text: str) -> str:
    """Lower case without accents (``Sjögren`` -> ``sjogren``), as search words are compared."""
    text = text.lower()
    if text.isascii():
        return text
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


@cache
def snomed_source_rows() -> Source:
    """The SNOMED CT IPS free set as a searchable source."""
    ix = snomed_index()
    rows = ix["concepts"]
    system = ix["system"]

    def make(i: int) -> Entry:
        code, display, vs = rows[i]
        ids = tuple(vs)
        code_ = Code(system, code, display, snomed_source(ids))
        return Entry("snomed-ips", _snomed_kinds(ids), display, (code_,))

    return Source([r[1] for r in rows], [r[0] for r in rows], make)


@cache
def r4_displays() -> dict[str, dict[str, Any]]:
    """system -> {code: display or [display, designations...]} (the validator's table)."""
    data: dict[str, dict[str, Any]] = json.loads(gzip.decompress(R4_DISPLAYS.read_bytes()))
    return data


def _r4_display(value: Any) -> str:
    return str(value[0] if isinstance(value, list) else value or "")


@cache
def r4_source_rows() -> Source:
    """The HL7 and DICOM code systems the R4 definitions hold completely, as a searchable source
    (the example code system and codes without a display left out)."""
    rows = [
        (system, code, display)
        for system, codes in r4_displays().items()
        if not system.endswith("/CodeSystem/example")
        for code, value in codes.items()
        if (display := _r4_display(value))
    ]

    def make(i: int) -> Entry:
        system, code, display = rows[i]
        source = f"FHIR R4 4.0.1 definitions, CodeSystem {system}"
        return Entry("r4", ("code",), display, (Code(system, code, display, source),))

    return Source([r[2] for r in rows], [r[1] for r in rows], make)


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


def offline_entry(system: str, code: str) -> Entry | None:
    """A code of the offline sources (SNOMED CT IPS free set, R4 code systems) as the entry a
    search finds, with its kinds; None when neither holds it."""
    source = snomed_source_rows() if system == snomed_index()["system"] else r4_source_rows()
    return source.find(system, code)


def lookup(system: str, code: str, term: Terminology) -> Code | None:
    """A code of the offline sources (tables, SNOMED CT IPS free set, R4 code systems)."""
    for c in term.all_concepts():
        for x in c.codings:
            if x.system == system and x.code == code:
                return Code(x.system, x.code, x.display, x.verified or f"table {c.table}")
    entry = offline_entry(system, code)
    return entry.codes[0] if entry is not None else None
