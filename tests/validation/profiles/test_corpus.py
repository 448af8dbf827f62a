"""The profile corpus (bench/profile_corpus.py): the official IG examples (valid set) and mutants
each breaking one profile rule that base R4 allows (broken set). Targets: no false positive on
the valid set, at least 95% of the broken set caught, every kind of rule represented."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from .conftest import IGS

BENCH = Path(__file__).resolve().parents[3] / "bench" / "profile_corpus.py"


def test_corpus_no_false_positive_and_95_percent_caught() -> None:
    if not IGS.is_dir():
        pytest.skip(f"{IGS} not available")
    spec = importlib.util.spec_from_file_location("profile_corpus", BENCH)
    assert spec is not None and spec.loader is not None
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    r = corpus.score(IGS)
    assert r["valid"] >= 450
    assert r["false_positives"] == 0, r["fps"][:5]
    assert r["mutants"] >= 1000
    assert r["caught_total"] >= 0.95 * r["mutants"], r["misses"][:20]
    kinds = {"required", "max", "fixed", "pattern", "type", "slice", "binding", "extension"}
    assert kinds <= set(r["kinds"]), r["kinds"]
    for kind in kinds:
        assert r["caught"].get(kind, 0) >= 0.9 * r["kinds"][kind], (kind, r["misses"][:20])
