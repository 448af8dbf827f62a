"""Every ``fhir-adapter-case/1`` file converts to exactly the bundle it gave before format /2.

The expected bundles in ``tests/golden/`` pin the whole output (resources, codes, ids,
identifiers, narratives, entry order). A deliberate change regenerates them with
``python tests/test_golden.py`` and is recorded in CHANGELOG.md.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fhir_adapter import convert
from fhir_adapter.paths import FIXTURES_DIR

GOLDEN = Path(__file__).with_name("golden")
PINNED = [
    (case, kind)
    for case in ("sle-calcinosis-cutis-universalis", "t2dm-metformin")
    for kind in ("transaction", "collection")
]


def _text(case: str, kind: str) -> str:
    bundle = convert(FIXTURES_DIR / f"{case}.case.yaml", bundle_type=kind)
    return json.dumps(bundle, indent=2, ensure_ascii=False) + "\n"


def test_every_format_1_fixture_is_pinned() -> None:
    v1 = sorted(
        p.name.removesuffix(".case.yaml")
        for p in FIXTURES_DIR.glob("*.case.yaml")
        if "format: fhir-adapter-case/1" in p.read_text(encoding="utf-8")
    )
    assert v1 == sorted({case for case, _ in PINNED})


@pytest.mark.parametrize(("case", "kind"), PINNED, ids=[f"{c}-{k}" for c, k in PINNED])
def test_format_1_output_is_byte_identical(case: str, kind: str) -> None:
    expected = (GOLDEN / f"{case}.{kind}.json").read_text(encoding="utf-8")
    assert _text(case, kind) == expected


if __name__ == "__main__":  # regenerate after a deliberate, changelogged change
    for case, kind in PINNED:
        (GOLDEN / f"{case}.{kind}.json").write_text(_text(case, kind), encoding="utf-8")
    sys.exit(0)
