"""Output files: written whole or not at all, and a path that cannot be written is named (exit 2)
by every command that writes one."""

from __future__ import annotations

from pathlib import Path

import pytest

from fhir_adapter.cli import main
from fhir_adapter.errors import InputError
from fhir_adapter.files import write_atomic


def test_a_directory_or_an_unwritable_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a directory"):
        write_atomic(tmp_path, "x")
    blocked = tmp_path / "file"
    blocked.write_text("a file where a directory should be")
    with pytest.raises(InputError, match="cannot write it"):
        write_atomic(blocked / "out.json", "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # no temporary file left


@pytest.mark.parametrize(
    "argv",
    [
        ["convert", "-o", "DIR"],
        ["report", "BUNDLE", "-o", "DIR"],
        ["validate", "BUNDLE", "--format", "junit", "-o", "DIR"],
        ["schema", "-o", "DIR"],
    ],
)
def test_every_command_names_an_output_it_cannot_write(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = tmp_path / "bundle.json"
    assert main(["convert", "-o", str(bundle), "--no-validate"]) == 0
    capsys.readouterr()
    args = [str(bundle) if a == "BUNDLE" else str(tmp_path) if a == "DIR" else a for a in argv]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path}: is a directory" in err and "Traceback" not in err
