"""Progress on a terminal for the three bulk commands: convert --ndjson, validate --jobs and
post --mode bulk each draw a bar (count, rate, time left) on stderr when it is a terminal, and
nothing of it when stderr is a pipe."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from fhir_adapter.paths import FIXTURES_DIR
from fhir_adapter.testing import HostileServer

from .test_load import Scripted, write_export

Pty = Callable[[list[str]], tuple[int, str]]


def _piped(args: list[str]) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "fhir_adapter.cli", *args], capture_output=True, text=True
    )
    return proc.returncode, proc.stderr


def _assert_bar(tty: str, desc: str, unit: str) -> None:
    assert f"{desc}:" in tty, tty
    assert f"{unit}/s" in tty and "<" in tty, tty  # the rate, and tqdm's elapsed<remaining
    assert "\r" in tty  # redrawn in place


def _cases(folder: Path, n: int) -> Path:
    """``n`` copies of the fixtures, each with its own case id (generated test input)."""
    folder.mkdir()
    fixtures = sorted(FIXTURES_DIR.glob("*.case.yaml"))
    for k in range(n):
        text = fixtures[k % len(fixtures)].read_text(encoding="utf-8")
        case_id = next(x.split(":", 1)[1].strip() for x in text.splitlines() if x.startswith("id:"))
        text = text.replace(f"id: {case_id}\n", f"id: copy-{k:03d}-{case_id}"[:60] + "\n", 1)
        (folder / f"copy-{k:03d}.case.yaml").write_text(text, encoding="utf-8")
    return folder


def test_bulk_convert_shows_progress_on_a_terminal_only(tmp_path: Path, run_on_pty: Pty) -> None:
    cases = _cases(tmp_path / "cases", 60)
    args = ["convert", str(cases), "--ndjson", str(tmp_path / "out"), "--jobs", "2"]
    code, tty = run_on_pty(args)
    assert code == 0
    _assert_bar(tty, "convert", "cases")
    assert "/60" in tty  # counted against the number of case files
    code, err = _piped(args)
    assert code == 0
    assert err.strip().startswith("wrote ") and "\r" not in err and "cases/s" not in err


def test_parallel_validate_shows_progress_on_a_terminal_only(
    tmp_path: Path, run_on_pty: Pty
) -> None:
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "generated test observation"},
    }
    folder = tmp_path / "export"
    folder.mkdir()
    for k in range(3):  # three files: the bar moves as each worker's piece comes back
        (folder / f"part{k}.ndjson").write_text((json.dumps(obs) + "\n") * 5_000)
    args = ["validate", str(folder), "--jobs", "2"]
    code, tty = run_on_pty(args)
    assert code == 0
    _assert_bar(tty, "validate", "resources")
    code, err = _piped(args)
    assert code == 0 and err == ""


def test_bulk_post_shows_progress_on_a_terminal_only(tmp_path: Path, run_on_pty: Pty) -> None:
    export = write_export(tmp_path / "e", 60)
    args = ["post", str(export), "--mode", "bulk", "--batch-size", "6", "--workers", "1"]
    args += ["--no-validate"]
    script = Scripted(delay=0.15)  # 11 batches one after another: about 1.7 s
    with HostileServer(script) as server:
        code, tty = run_on_pty([*args, "--server", server.base])
    assert code == 0 and sum(len(b) for b in script.batches) == 61
    _assert_bar(tty, "load", "resources")
    assert "/61" in tty  # counted against the export's resources
    script = Scripted(delay=0.15)
    with HostileServer(script) as server:
        code, err = _piped([*args, "--server", server.base])
    assert code == 0 and sum(len(b) for b in script.batches) == 61
    assert "\r" not in err and "resources/s" not in err
