"""Ranked text search over the concept sources (``index``).

A query matches a concept when every query word matches its text, a display or its key; hits
rank by match quality (exact text, text starting with the query, whole words, word prefixes,
substrings), then origin (terminology tables, then SNOMED CT IPS, then R4 code systems), then
fewer extra words, then shorter text. An exact code or key ranks first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fhir_adapter.concepts.index import (
    ORIGINS,
    Entry,
    Source,
    fold,
    r4_source_rows,
    snomed_kinds,
    snomed_source_rows,
    table_entries,
)
from fhir_adapter.errors import InputError
from fhir_adapter.suggest import close_matches, did_you_mean
from fhir_adapter.terminology import TABLE_KINDS, Terminology, default_terminology

_WORD = re.compile(r"[a-z0-9]+")
#: Kinds the offline sources give besides the tables' kinds.
EXTRA_KINDS = ("allergy", "reaction", "organism", "device", "vaccine")
#: The table a concept of each kind goes into (``concepts add --table``), where it is not the
#: table holding that kind: allergy substances are case ``allergies[].concept``, a medications key.
KIND_TABLES = {"allergy": "medications", "reaction": "findings", "organism": "findings"}
#: Match tiers, best first.
EXACT_CODE, EXACT, STARTS, WORDS, PREFIXES, SUBSTRINGS = 6, 5, 4, 3, 2, 1


@dataclass(frozen=True, slots=True)
class Hit:
    """A search result: the entry, its match tier and the query words that matched it."""

    entry: Entry
    tier: int

    @property
    def key(self) -> str:
        """The table key, or a key suggested from the text for a concept not yet in a table."""
        return self.entry.key or suggest_key(self.entry.text)


def words(text: str) -> list[str]:
    """Lower-case ASCII words of ``text`` (accents dropped, punctuation splits words)."""
    return _WORD.findall(fold(text))


def suggest_key(text: str) -> str:
    """A lower_snake_case key for a concept text (``Pneumonia`` -> ``pneumonia``)."""
    key = "_".join(words(text))[:60].strip("_") or "concept"
    return key if key[0].isalpha() else f"c_{key}"


def table_for(kinds: tuple[str, ...], wanted: str | None = None) -> str | None:
    """The table to add a concept of these kinds to (``wanted`` first, if it is one of them)."""
    tables = {v: k for k, v in TABLE_KINDS.items()} | KIND_TABLES
    order = [wanted] if wanted in kinds else []
    for kind in [*order, *kinds]:
        if kind in tables:
            return tables[kind]
    return None


def all_kinds(term: Terminology) -> list[str]:
    """Every kind ``--kind`` accepts."""
    from fhir_adapter.terminology import kind_of

    kinds = {*TABLE_KINDS.values(), *EXTRA_KINDS, *(kind_of(t) for t in term.table_names())}
    return sorted(kinds)


def resolve_kind(kind: str, term: Terminology) -> str:
    """A known kind for ``kind`` (table names and plurals accepted); InputError otherwise."""
    kinds = all_kinds(term)
    k = kind.strip().lower().replace("_", "-")
    for cand in (k, TABLE_KINDS.get(kind, ""), k[:-1] if k.endswith("s") else "", k[:-2]):
        if cand in kinds:
            return cand
    hint = did_you_mean(close_matches(k, kinds))
    raise InputError(
        f"unknown kind {kind!r}",
        field="--kind",
        fix=f"{hint + ' ' if hint else ''}use one of: {', '.join(kinds)}",
    )


def _tier(query: list[str], phrase: str, text_words: list[str]) -> int:
    if text_words == query:
        return EXACT
    if text_words[: len(query)] == query:
        return STARTS
    bag = set(text_words)
    if all(q in bag for q in query):
        return WORDS
    if all(any(w.startswith(q) for w in text_words) for q in query):
        return PREFIXES
    joined = " ".join(text_words)
    if all(len(q) >= 3 and q in joined for q in query):  # short fragments match too much
        return SUBSTRINGS
    return 0


def _match(entry: Entry, query: list[str], raw: str) -> int:
    if (entry.key is not None and entry.key == raw) or any(c.code == raw for c in entry.codes):
        return EXACT_CODE
    best = 0
    texts = {entry.text, *(c.display for c in entry.codes)}
    if entry.key:
        texts.add(entry.key)
    phrase = " ".join(query)
    for t in texts:
        lowered = fold(t)
        if not all(q in lowered for q in query):  # cheap pre-filter before splitting into words
            continue
        best = max(best, _tier(query, phrase, words(t)))
    return best


def _rank(hit: Hit, query: list[str]) -> tuple[int, int, int, int, str, str]:
    e = hit.entry
    return (
        -hit.tier,
        ORIGINS.index(e.origin),
        max(0, len(words(e.text)) - len(query)),
        len(e.text),
        e.text.lower(),
        e.codes[0].token if e.codes else (e.key or ""),
    )


def sources(kind: str | None) -> list[Source]:
    """The offline sources searched for ``kind`` (all when None)."""
    out = []
    if kind is None or kind in snomed_kinds():
        out.append(snomed_source_rows())
    if kind in (None, "code"):
        out.append(r4_source_rows())
    return out


def search(
    text: str, *, kind: str | None = None, limit: int = 10, terminology: Terminology | None = None
) -> list[Hit]:
    """Concepts matching ``text``, best first; ``kind`` narrows to one kind (``condition``, ``lab``,
    ``unit``, ...). Concepts already in a table hide the same code from the offline sources."""
    term = terminology or default_terminology()
    kind = resolve_kind(kind, term) if kind else None
    raw = text.strip()
    query = words(raw)
    if not query:
        raise InputError("empty search text", field="TEXT", fix="give a word, e.g. pneumonia")
    tabled: set[tuple[str, str]] = set()
    hits: list[Hit] = []

    def consider(e: Entry) -> None:
        if kind is not None and kind not in e.kinds:
            return
        tier = _match(e, query, raw)
        if tier:
            hits.append(Hit(e, tier))

    for e in table_entries(term):
        tabled.update((c.system, c.code) for c in e.codes)
        consider(e)
    for src in sources(kind):
        for row in src.candidates(query, raw):
            e = src.make(row)
            if (e.codes[0].system, e.codes[0].code) not in tabled:
                consider(e)
    hits.sort(key=lambda h: _rank(h, query))
    return hits[:limit] if limit else hits


def respell(
    text: str, *, kind: str | None = None, terminology: Terminology | None = None
) -> str | None:
    """The query with each unknown word replaced by the closest known word, or None."""
    term = terminology or default_terminology()
    kind = resolve_kind(kind, term) if kind else None
    vocab: set[str] = set()
    for e in table_entries(term):
        if kind is None or kind in e.kinds:
            vocab.update(words(e.text))
    for src in sources(kind):
        vocab.update(_WORD.findall(src._hay))
    out, changed = [], False
    for w in words(text):
        if w in vocab:
            out.append(w)
            continue
        close = close_matches(w, vocab, n=1, cutoff=0.75)
        out.append(close[0] if close else w)
        changed = changed or bool(close)
    return " ".join(out) if changed else None
