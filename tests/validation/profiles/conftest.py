"""Fixtures for the profile tests: the official IG packages in ../shared/igs, a private user
cache and FHIR package cache (so tests never touch the real ones), and package readers."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

IGS = Path(__file__).resolve().parents[3].parent / "shared" / "igs"


def ig_tgz(name: str) -> Path:
    """The official package file in ../shared/igs (skips when the folder is absent)."""
    path = IGS / f"{name}.tgz"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    return path


def example(name: str, file: str) -> dict[str, Any]:
    """One example resource from an official package's package/example/ folder."""
    with tarfile.open(ig_tgz(name)) as tar:
        fh = tar.extractfile(f"package/example/{file}")
        assert fh is not None
        data: dict[str, Any] = json.load(fh)
        return data


def examples(name: str) -> list[tuple[str, bytes]]:
    """Every JSON example of a package, as (file name, bytes)."""
    out = []
    with tarfile.open(ig_tgz(name)) as tar:
        for m in tar.getmembers():
            name = m.name.rsplit("/", 1)[-1]
            if (
                m.isfile()
                and m.name.startswith("package/example/")
                and name.endswith(".json")
                and not name.startswith(".")
            ):
                fh = tar.extractfile(m)
                assert fh is not None
                out.append((m.name.rsplit("/", 1)[1], fh.read()))
    return sorted(out)


def make_tgz(path: Path, meta: dict[str, Any], resources: dict[str, dict[str, Any]]) -> Path:
    """Write a minimal FHIR package .tgz (package/package.json plus resources)."""
    with tarfile.open(path, "w:gz") as tar:
        for name, obj in {"package.json": meta, **resources}.items():
            data = json.dumps(obj).encode()
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture(autouse=True)
def private_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME (FHIR package cache) and XDG_CACHE_HOME for each test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    return home
