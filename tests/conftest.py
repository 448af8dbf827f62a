"""Shared fixtures: the seed case, its bundle, a helper writing case files to a temp dir, JSON
paths for the mutation tests, and a runner of the CLI with stderr on a pseudo-terminal."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.case import Case, load_case
from fhir_adapter.convert import convert
from fhir_adapter.paths import FIXTURES_DIR, SEED_CASE

SECOND_CASE = FIXTURES_DIR / "t2dm-metformin.case.yaml"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-internet", action="store_true", help="run tests that need the public internet"
    )


@pytest.fixture(scope="session")
def seed_case() -> Case:
    return load_case(SEED_CASE)


@pytest.fixture(scope="session")
def seed_bundle(seed_case: Case) -> dict[str, Any]:
    return convert(seed_case)


@pytest.fixture(scope="session")
def pneumonia_addon() -> Path:
    """An add-on mappings directory whose ``conditions`` table adds ``pneumonia`` (SNOMED CT
    233604007), a concept the shipped tables lack."""
    return Path(__file__).with_name("data") / "pneumonia-addon"


@pytest.fixture(scope="session")
def pneumonia_table(pneumonia_addon: Path) -> str:
    """The text of that add-on's ``conditions`` table."""
    return (pneumonia_addon / "conditions.yaml").read_text(encoding="utf-8")


@pytest.fixture
def no_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty settings file named by ``$FHIR_ADAPTER_CONFIG`` (no server, no add-on mappings,
    no validator options); a missing file would be an error."""
    path = tmp_path / "empty-settings.yaml"
    path.write_text("", encoding="utf-8")
    monkeypatch.setenv("FHIR_ADAPTER_CONFIG", str(path))
    return path


@pytest.fixture
def write_case(tmp_path: Path) -> Callable[[str, str], Path]:
    def write(text: str, name: str = "case.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


class JsonPaths:
    """Paths inside a JSON value (dict keys and list indexes) for mutation tests."""

    @staticmethod
    def walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """Every path below ``node``, depth first (the empty root path excluded)."""
        if path:
            yield path
        if isinstance(node, dict):
            for k, v in node.items():
                yield from JsonPaths.walk(v, (*path, k))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                yield from JsonPaths.walk(v, (*path, i))

    @staticmethod
    def put(node: Any, path: tuple[Any, ...], value: Any) -> None:
        """Replace the value at ``path`` in place."""
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value


class FactBundle:
    """Look-ups over a converted bundle for the facts tests (fixtures/*.case.yaml)."""

    def __init__(self, bundle: dict[str, Any]) -> None:
        self.bundle = bundle
        self.by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
        self.resources = list(self.by_url.values())

    def of(self, rtype: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["resourceType"] == rtype]

    def coded(self, rtype: str, table: str, key: str, *, n: int = 1) -> list[dict[str, Any]]:
        """The ``n`` resources of ``rtype`` whose code is concept ``key`` of ``table``, each
        carrying exactly that concept's codings."""
        from fhir_adapter.terminology import default_terminology

        concept = default_terminology().concept(table, key)
        field = {
            "MedicationStatement": "medicationCodeableConcept",
            "Specimen": "type",
            "BodyStructure": "location",
        }.get(rtype, "code")
        hits = [r for r in self.of(rtype) if r.get(field, {}).get("text") == concept.text]
        assert len(hits) == n, f"expected {n} {rtype} for {key}, found {len(hits)}"
        for r in hits:
            assert r[field].get("coding", []) == [c.to_fhir() for c in concept.codings]
        return hits

    def one(self, rtype: str, table: str, key: str) -> dict[str, Any]:
        return self.coded(rtype, table, key)[0]

    def deref(self, ref: dict[str, str]) -> dict[str, Any]:
        return self.by_url[ref["reference"]]

    @staticmethod
    def notes(r: dict[str, Any]) -> str:
        return " ".join(n["text"] for n in r.get("note", [])).lower()

    @staticmethod
    def codes(cc: dict[str, Any]) -> set[str]:
        return {c["code"] for c in cc.get("coding", [])}

    @staticmethod
    def relative(element: dict[str, Any]) -> dict[str, Any]:
        """The parts of the relative-date extension on a primitive's ``_element``."""
        (ext,) = element["extension"]
        assert ext["url"] == "http://hl7.org/fhir/StructureDefinition/relative-date"
        return {x["url"]: x for x in ext["extension"]}


@pytest.fixture(scope="session")
def fact_bundle() -> type[FactBundle]:
    """:class:`FactBundle`: build one with ``fact_bundle(convert(path))``."""
    return FactBundle


@pytest.fixture(scope="session")
def json_paths() -> type[JsonPaths]:
    """:class:`JsonPaths` (walk / put) for tests that mutate JSON."""
    return JsonPaths


def _run_on_pty(args: list[str]) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal; returns (exit code, what the terminal got)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fhir_adapter.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=slave,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "120"},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(), b"".join(chunks).decode(errors="replace")


@pytest.fixture
def run_on_pty() -> Callable[[list[str]], tuple[int, str]]:
    """``run(args)``: the CLI with stderr on a pseudo-terminal -> (exit code, terminal text)."""
    return _run_on_pty
