"""The offline SNOMED CT index is reproducible from the official IPS 1.1.0 package."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from fhir_adapter.concepts import generate
from fhir_adapter.concepts.index import snomed_index

PACKAGE = (
    Path(__file__).resolve().parents[2].parent / "shared" / "igs" / "hl7.fhir.uv.ips-1.1.0.tgz"
)


@pytest.fixture(scope="module")
def package() -> Path:
    if not PACKAGE.is_file():
        pytest.skip(f"{PACKAGE} not found (CI lays ../shared beside the clone)")
    return PACKAGE


def test_index_regenerates_identical(package: Path, tmp_path: Path) -> None:
    out = tmp_path / "snomed-ips.json.gz"
    assert generate.main(["--package", str(package), "--out", str(out)]) == 0
    # The JSON must be identical; gzip framing may differ between zlib builds.
    assert gzip.decompress(out.read_bytes()) == gzip.decompress(generate.OUT.read_bytes())


def test_index_holds_the_free_sets_with_edition_and_licence() -> None:
    ix = snomed_index()
    assert ix["edition"] == "http://snomed.info/sct/900000000000207008/version/20220731"
    assert "Creative Commons Attribution 4.0" in ix["copyright"]
    assert ix["package"] == {
        "name": "hl7.fhir.uv.ips",
        "version": "1.1.0",
        "date": "20221122032408",
        "license": "CC0-1.0",
    }
    sizes = {vs["id"]: 0 for vs in ix["valuesets"]}
    for _code, _display, members in ix["concepts"]:
        for i in members:
            sizes[ix["valuesets"][i]["id"]] += 1
    assert sizes["problems-snomed-ct-ips-free-set"] == 5622
    assert sizes["procedures-snomed-ct-ips-free-set"] == 690
    assert sizes["allergy-intolerance-snomed-ct-ips-free-set"] == 292
    assert sizes["results-specimen-type-snomed-ct-ips-free-set"] == 127
    assert sizes["results-microorganism-snomed-ct-ips-free-set"] == 1343
    assert sizes["allergy-reaction-snomed-ct-ips-free-set"] == 31
    codes = [int(c) for c, _, _ in ix["concepts"]]
    assert codes == sorted(codes) and len(codes) == len(set(codes))


def test_every_indexed_code_passes_the_snomed_checks() -> None:
    from fhir_adapter.codesystems import snomed_ok

    bad = [c for c, _, _ in snomed_index()["concepts"] if not snomed_ok(c)]
    assert bad == []


def test_generator_reads_an_unpacked_package_too(package: Path, tmp_path: Path) -> None:
    import tarfile

    with tarfile.open(package) as tar:
        tar.extractall(tmp_path, filter="data")
    built = generate.build(tmp_path / "package")
    assert json.loads(generate.dump(built)) == snomed_index()
