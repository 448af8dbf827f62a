"""Editors complete and check case files through the exported schema: a real YAML language
server (``yaml-language-server`` from npm, as VS Code, Neovim and Helix use) reads the
``# yaml-language-server: $schema=...`` line. Skipped only when npm cannot install it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from fhir_adapter.cli import main

from .lsp import LspClient

CACHE = Path(__file__).resolve().parents[1] / ".cache" / "yaml-language-server"
VERSION = "2"


@pytest.fixture(scope="module")
def server() -> Path:
    given = os.environ.get("YAML_LANGUAGE_SERVER")
    if given:
        return Path(given)
    binary = CACHE / "node_modules" / ".bin" / "yaml-language-server"
    if not binary.exists():
        if not shutil.which("npm"):
            pytest.skip("npm not found")
        CACHE.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                [
                    "npm",
                    "install",
                    "--silent",
                    "--no-audit",
                    "--no-fund",
                    "--prefix",
                    str(CACHE),
                    f"yaml-language-server@{VERSION}",
                ],
                check=True,
                capture_output=True,
                timeout=300,
            )
        except (OSError, subprocess.SubprocessError) as err:
            pytest.skip(f"cannot install yaml-language-server with npm: {err}")
    return binary


@pytest.fixture
def lsp(server: Path, tmp_path: Path) -> Iterator[LspClient]:
    client = LspClient([str(server), "--stdio"], tmp_path)
    yield client
    client.close()


def test_editor_checks_and_completes_a_case_file(lsp: LspClient, tmp_path: Path) -> None:
    """The skeleton `init` writes, as an editor sees it: a wrong value and an unknown key are
    flagged, section names are offered."""
    case = tmp_path / "new.case.yaml"
    assert main(["init", str(case), "--format", "2"]) == 0
    text = case.read_text().replace("  sex: unknown", "  sex: femal") + "colour: blue\n\n"
    case.write_text(text)
    lines = text.splitlines()
    sex_line = next(i for i, line in enumerate(lines) if line.startswith("  sex: femal"))
    problems = {(d["range"]["start"]["line"], d["message"]) for d in lsp.open(case)}
    assert any(line == sex_line and "female" in msg for line, msg in problems), problems
    assert any(line == len(lines) - 2 and "colour" in msg for line, msg in problems), problems
    # completion on the empty last line: the top-level fields not written yet
    labels = lsp.complete(case, len(lines) - 1, 0)
    assert {"summary", "source"} <= set(labels), labels
    assert "format" not in labels and "conditions" not in labels  # already present
