"""Loading IG packages: shipped tables, .tgz, folders, the FHIR package cache, dependencies,
the generated-table cache, and the errors for what cannot be loaded."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import pytest

from fhir_adapter.errors import InputError
from fhir_adapter.validation import Validator
from fhir_adapter.validation.profiles.load import Loader, cache_dir

from .conftest import ig_tgz, make_tgz

US_CORE_PATIENT = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"


def test_shorthands_load_the_shipped_tables() -> None:
    pset = Loader().load(["us-core"])
    names = [f"{p['package']['name']}#{p['package']['version']}" for p in pset.packages]
    assert names == ["hl7.fhir.r4.core#4.0.1", "hl7.fhir.us.core#6.1.0"]
    assert pset.profile(US_CORE_PATIENT)["version"] == "6.1.0"
    ips = Loader().load(["ips", "hl7.fhir.us.core#3.1.1"])
    assert [p["package"]["version"] for p in ips.packages] == ["4.0.1", "1.1.0", "3.1.1"]


def test_missing_dependencies_of_shipped_packages_are_recorded() -> None:
    pset = Loader().load(["us-core"])
    assert "us.nlm.vsac#0.10.0" in pset.missing


def test_a_tgz_with_shipped_content_uses_the_shipped_table(tmp_path: Path) -> None:
    copy = shutil.copy(ig_tgz("hl7.fhir.us.core-6.1.0"), tmp_path / "uscore.tgz")
    pset = Loader().load([str(copy)])
    assert pset.profile(US_CORE_PATIENT + "|6.1.0") is not None
    assert not cache_dir().exists()  # nothing had to be generated


def _profile(url: str, base_type: str = "Patient") -> dict[str, object]:
    return {
        "resourceType": "StructureDefinition",
        "url": url,
        "version": "0.1.0",
        "name": "P",
        "status": "draft",
        "kind": "resource",
        "abstract": False,
        "type": base_type,
        "baseDefinition": f"http://hl7.org/fhir/StructureDefinition/{base_type}",
        "derivation": "constraint",
        "snapshot": {
            "element": [
                {
                    "id": base_type,
                    "path": base_type,
                    "min": 0,
                    "max": "*",
                    "base": {"path": base_type, "min": 0, "max": "*"},
                },
                {
                    "id": f"{base_type}.birthDate",
                    "path": f"{base_type}.birthDate",
                    "min": 1,
                    "max": "1",
                    "base": {"path": f"{base_type}.birthDate", "min": 0, "max": "1"},
                    "type": [{"code": "date"}],
                },
            ]
        },
    }


def test_tgz_is_generated_once_then_cached(tmp_path: Path) -> None:
    url = "http://example.org/fhir/StructureDefinition/needs-birthdate"
    tgz = make_tgz(
        tmp_path / "example.pkg-0.1.0.tgz",
        {"name": "example.pkg", "version": "0.1.0", "dependencies": {"hl7.fhir.r4.core": "4.0.1"}},
        {"StructureDefinition-p.json": _profile(url)},
    )
    v = Validator(igs=[str(tgz)], profiles=[url])
    report = v.validate({"resourceType": "Patient"})
    assert [i.rule for i in report.errors] == ["profile-cardinality"]
    cached = list(cache_dir().glob("example.pkg#0.1.0-*.json.gz"))
    assert len(cached) == 1 and str(cache_dir()).startswith(str(Path.home() / ".cache"))
    before = cached[0].stat().st_mtime_ns
    Validator(igs=[str(tgz)], profiles=[url])
    assert cached[0].stat().st_mtime_ns == before  # reused, not regenerated


def test_damaged_or_unwritable_cache_is_not_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = "http://example.org/fhir/StructureDefinition/needs-birthdate"
    tgz = make_tgz(
        tmp_path / "p.tgz", {"name": "example.pkg", "version": "0.2.0"}, {"SD.json": _profile(url)}
    )
    Validator(igs=[str(tgz)])
    (cached,) = cache_dir().glob("example.pkg#0.2.0-*.json.gz")
    cached.write_bytes(b"not gzip")
    assert Validator(igs=[str(tgz)], profiles=[url]).validate({"resourceType": "Patient"}).errors
    cached.unlink()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tgz))  # a file: the cache folder cannot be made
    assert Validator(igs=[str(tgz)], profiles=[url]).validate({"resourceType": "Patient"}).errors


def test_unpacked_folder_and_fhir_package_cache(tmp_path: Path) -> None:
    url = "http://example.org/fhir/StructureDefinition/needs-birthdate"
    tgz = make_tgz(
        tmp_path / "p.tgz", {"name": "example.pkg", "version": "0.1.0"}, {"SD.json": _profile(url)}
    )
    folder = tmp_path / "unpacked"
    with tarfile.open(tgz) as tar:
        tar.extractall(folder, filter="data")
    assert Loader().load([str(folder)]).profile(url) is not None
    assert Loader().load([str(folder / "package")]).profile(url) is not None
    cache = Path.home() / ".fhir" / "packages" / "example.pkg#0.1.0"
    shutil.copytree(folder, cache)
    assert Loader().load(["example.pkg#0.1.0"]).profile(url) is not None
    assert Loader().load(["example.pkg"]).profile(url) is not None  # latest cached version


def test_dependency_resolved_from_the_fhir_package_cache(tmp_path: Path) -> None:
    url = "http://example.org/fhir/StructureDefinition/needs-birthdate"
    dep = make_tgz(
        tmp_path / "d.tgz", {"name": "example.dep", "version": "1.0.0"}, {"SD.json": _profile(url)}
    )
    folder = Path.home() / ".fhir" / "packages" / "example.dep#1.0.0"
    with tarfile.open(dep) as tar:
        tar.extractall(folder, filter="data")
    top = make_tgz(
        tmp_path / "top.tgz",
        {"name": "example.top", "version": "2.0.0", "dependencies": {"example.dep": "1.0.0"}},
        {},
    )
    pset = Loader().load([str(top)])
    assert pset.profile(url) is not None


def test_missing_dependency_names_it_and_every_place_looked(tmp_path: Path) -> None:
    top = make_tgz(
        tmp_path / "top.tgz",
        {"name": "example.top", "version": "2.0.0", "dependencies": {"example.gone": "9.9.9"}},
        {},
    )
    with pytest.raises(InputError) as err:
        Loader().load([str(top)])
    text = str(err.value)
    assert "example.gone#9.9.9 (a dependency of example.top#2.0.0) not found" in text
    assert str(Path.home() / ".fhir" / "packages" / "example.gone#9.9.9" / "package") in text
    assert "shipped with fhir-adapter" in text and str(tmp_path / "example.gone-9.9.9.tgz") in text
    assert err.value.exit_code == 2


def test_missing_dependencies_allowed_on_request(tmp_path: Path) -> None:
    url = "http://example.org/fhir/StructureDefinition/needs-birthdate"
    meta = {"name": "example.top", "version": "2.0.0", "dependencies": {"example.gone": "9.9.9"}}
    top = make_tgz(tmp_path / "top.tgz", meta, {"SD.json": _profile(url)})
    v = Validator(igs=[str(top)], profiles=[url], allow_missing_dependencies=True)
    assert v.profile_set.missing == ["example.gone#9.9.9"]
    assert [i.rule for i in v.validate({"resourceType": "Patient"}).errors] == [
        "profile-cardinality"
    ]
    with pytest.raises(InputError, match="allow-missing-deps"):
        Validator(igs=[str(top)])  # the cached table with a missing dependency is not reused


def test_missing_package_by_name() -> None:
    with pytest.raises(InputError, match=r"hl7\.fhir\.uv\.ips#9\.0\.0 not found; looked in"):
        Validator(igs=["ips#9.0.0"])
    with pytest.raises(InputError, match="no such file"):
        Validator(igs=["./nowhere.tgz"])


def test_differential_only_profile_is_refused_with_the_fix(tmp_path: Path) -> None:
    sd = _profile("http://example.org/fhir/StructureDefinition/diff")
    sd.pop("snapshot")
    sd["differential"] = {
        "element": [{"id": "Patient.birthDate", "path": "Patient.birthDate", "min": 1}]
    }
    tgz = make_tgz(
        tmp_path / "diff.tgz",
        {"name": "example.diff", "version": "0.1.0"},
        {"StructureDefinition-diff.json": sd},
    )
    with pytest.raises(InputError) as err:
        Validator(igs=[str(tgz)])
    assert "has only a differential" in str(err.value)
    assert "sushi --snapshot" in str(err.value) and "StructureDefinition-diff.json" in str(
        err.value
    )


def test_requested_profile_not_loaded_is_an_error() -> None:
    with pytest.raises(InputError, match="not in the loaded packages") as err:
        Validator(igs=["us-core"], profiles=["http://example.org/StructureDefinition/nope"])
    assert err.value.exit_code == 2
