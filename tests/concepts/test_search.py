"""Concept search: ranking, kinds, folding of tabled codes, suggestions."""

from __future__ import annotations

import pytest

from fhir_adapter.codesystems import SNOMED
from fhir_adapter.concepts.search import EXACT, EXACT_CODE, respell, search, suggest_key
from fhir_adapter.errors import InputError
from fhir_adapter.paths import MAPPINGS_DIR
from fhir_adapter.terminology import Terminology

TERM = Terminology(MAPPINGS_DIR)


def tokens(hits: list) -> list[str]:
    return [h.entry.codes[0].token if h.entry.codes else h.key for h in hits]


def test_exact_text_ranks_first_then_texts_starting_with_it() -> None:
    hits = search("pneumonia", terminology=TERM)
    assert hits[0].entry.codes[0].token == f"{SNOMED}|233604007"
    assert hits[0].tier == EXACT
    assert hits[0].key == "pneumonia"
    # the rest start with the word, shortest first within a tier
    assert all(h.entry.text.lower().startswith("pneumonia") for h in hits[1:5])
    assert [len(h.entry.text) for h in hits[1:5]] == sorted(len(h.entry.text) for h in hits[1:5])


def test_tables_rank_before_offline_sources_and_hide_the_same_code() -> None:
    hits = search("systemic lupus erythematosus", terminology=TERM, limit=0)
    assert hits[0].entry.origin == "table"
    assert hits[0].key == "systemic_lupus_erythematosus"
    # 55464009 is also in the IPS free set: shown once, as the table concept
    same = [h for h in hits if any(c.code == "55464009" for c in h.entry.codes)]
    assert len(same) == 1


def test_word_prefixes_and_word_order() -> None:
    assert "233604007" in {h.entry.codes[0].code for h in search("pneumon", terminology=TERM)}
    hits = search("fracture femur", kind="condition", terminology=TERM, limit=0)
    assert hits and all(
        {"fracture", "femur"} <= set(h.entry.text.lower().split()) for h in hits[:3]
    )


def test_code_search_is_exact() -> None:
    hits = search("233604007", terminology=TERM)
    assert hits[0].tier == EXACT_CODE
    assert hits[0].entry.text == "Pneumonia"
    assert search("17861-6", terminology=TERM)[0].key == "serum_calcium"


def test_kind_narrows_and_accepts_table_names_and_plurals() -> None:
    for kind in ("procedure", "procedures"):
        hits = search("biopsy", kind=kind, terminology=TERM, limit=0)
        assert hits and all("procedure" in h.entry.kinds for h in hits)
    units = search("milligram", kind="units", terminology=TERM, limit=0)
    assert units and all(h.entry.table == "units" for h in units)
    codes = search("final", kind="code", terminology=TERM)
    assert codes and all(h.entry.origin in ("r4", "table") for h in codes)


def test_unknown_kind_suggests() -> None:
    with pytest.raises(InputError, match="did you mean 'condition'"):
        search("x", kind="conditon", terminology=TERM)


def test_empty_query_is_an_error() -> None:
    with pytest.raises(InputError, match="empty"):
        search("  -- ", terminology=TERM)


def test_ranking_is_deterministic() -> None:
    a = tokens(search("arthritis", terminology=TERM, limit=0))
    b = tokens(search("arthritis", terminology=TERM, limit=0))
    assert a == b and len(a) > 20


def test_respell_fixes_typos() -> None:
    assert respell("pnemonia", terminology=TERM) == "pneumonia"
    assert respell("pneumonia", terminology=TERM) is None


def test_suggested_keys_are_valid_keys() -> None:
    assert suggest_key("Pneumonia due to Streptococcus") == "pneumonia_due_to_streptococcus"
    assert suggest_key("2019 novel coronavirus") == "c_2019_novel_coronavirus"
    assert suggest_key("Sjögren's syndrome") == "sjogren_s_syndrome"
