"""The settings file (``$FHIR_ADAPTER_CONFIG``, else ./fhir-adapter.yaml): a named file that is
missing, unreadable or invalid stops every command that reads settings (exit 2) before anything
is read or sent, naming the file, the variable and the fix; a server asked for never turns into
the public default, and the public default is announced (CLI) or warned about (Python)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import pytest
import responses

from fhir_adapter.cli import READS_SETTINGS, main
from fhir_adapter.client import DEFAULT_SERVER, ConfigError, DeliveryError, PublicServerWarning
from fhir_adapter.paths import FIXTURES_DIR
from fhir_adapter.testing import capability_statement

CASE = str(FIXTURES_DIR / "t2dm-metformin.case.yaml")
LOCAL = "http://127.0.0.1:1/fhir"


@pytest.fixture
def bundle_file(tmp_path: Path) -> str:
    from fhir_adapter import convert

    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(convert(CASE)), encoding="utf-8")
    return str(path)


def commands(tmp_path: Path, bundle: str) -> dict[str, list[str]]:
    """One ordinary invocation of every command that reads settings."""
    return {
        "convert": ["convert", CASE, "-o", str(tmp_path / "out.json")],
        "validate": ["validate", bundle],
        "post": ["post", CASE],
        "concepts": ["concepts", "search", "pneumonia"],
        "report": ["report", bundle, "-o", str(tmp_path / "r.html")],
    }


def test_every_command_that_reads_settings_is_covered(tmp_path: Path) -> None:
    assert sorted(commands(tmp_path, "b.json")) == sorted(READS_SETTINGS)


@responses.activate  # nothing is registered: any request would fail the post, not pass
@pytest.mark.parametrize("command", READS_SETTINGS)
def test_a_named_settings_file_that_does_not_exist_stops_every_command(
    command: str,
    tmp_path: Path,
    bundle_file: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "typo-settings.yaml"
    monkeypatch.setenv("FHIR_ADAPTER_CONFIG", str(missing))
    monkeypatch.delenv("FHIR_SERVER", raising=False)
    argv = commands(tmp_path, bundle_file)[command]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{missing}: $FHIR_ADAPTER_CONFIG: the settings file does not exist" in err
    assert "(fix: create it, point $FHIR_ADAPTER_CONFIG at your settings file" in err
    assert "public" not in err
    assert len(responses.calls) == 0
    assert not (tmp_path / "out.json").exists() and not (tmp_path / "r.html").exists()


@responses.activate
def test_post_with_a_server_still_refuses_a_missing_settings_file(
    tmp_path: Path, bundle_file: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_ADAPTER_CONFIG", str(tmp_path / "none.yaml"))
    assert main(["post", bundle_file, "--server", LOCAL]) == 2
    assert len(responses.calls) == 0


@responses.activate
def test_python_post_refuses_a_missing_settings_file_and_sends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_adapter import post

    monkeypatch.setenv("FHIR_ADAPTER_CONFIG", str(tmp_path / "none.yaml"))
    monkeypatch.delenv("FHIR_SERVER", raising=False)
    with pytest.raises(ConfigError, match=r"\$FHIR_ADAPTER_CONFIG: the settings file does not"):
        post(CASE)
    assert len(responses.calls) == 0


def _unreadable(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path.write_text("server: https://ehr.example/fhir\n")
    real = Path.read_text

    def read_text(self: Path, *args: Any, **kwargs: Any) -> str:
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", read_text)


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p, m: p.mkdir(), "the settings file is not a file"),
        (_unreadable, "cannot read the settings file: Permission denied (fix: make the file"),
        (lambda p, m: p.write_bytes(b"server: \xff\n"), "not UTF-8 text (fix: save it as UTF-8"),
        (lambda p, m: p.write_text("server: [\n"), "malformed YAML"),
        (lambda p, m: p.write_text("- server\n"), "settings must be a mapping (fix: e.g."),
        (
            lambda p, m: p.write_text("sever: https://ehr.example/fhir\n"),
            "sever: unknown key(s) sever (fix: did you mean 'server'?",
        ),
        (
            lambda p, m: p.write_text("server:\n"),
            "server: must be the FHIR base URL, not None (fix: e.g. server: https://",
        ),
        (lambda p, m: p.write_text("server: ''\n"), "server: must be the FHIR base URL, not ''"),
        (
            lambda p, m: p.write_text("server: 8080\n"),
            "server: must be the FHIR base URL, not 8080",
        ),
    ],
)
@responses.activate
def test_a_broken_settings_file_stops_post_before_anything_is_sent(
    setup: Any,
    expected: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "settings.yaml"
    setup(path, monkeypatch)
    monkeypatch.setenv("FHIR_ADAPTER_CONFIG", str(path))
    monkeypatch.delenv("FHIR_SERVER", raising=False)
    assert main(["post", CASE]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expected in err and "(fix: " in err
    assert "public" not in err
    assert len(responses.calls) == 0


def test_a_broken_default_settings_file_is_an_error_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FHIR_ADAPTER_CONFIG", raising=False)
    assert main(["concepts", "search", "pneumonia"]) == 0  # no ./fhir-adapter.yaml: no settings
    capsys.readouterr()
    (tmp_path / "fhir-adapter.yaml").mkdir()
    assert main(["concepts", "search", "pneumonia"]) == 2
    assert "fhir-adapter.yaml: the settings file is not a file (fix: remove or rename" in (
        capsys.readouterr().err
    )


@responses.activate
def test_an_empty_server_option_is_refused_not_replaced_by_the_public_server(
    no_settings: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FHIR_SERVER", raising=False)
    assert main(["post", CASE, "--server", ""]) == 2
    err = capsys.readouterr().err
    assert "server: the server is empty ('') (fix: give the FHIR base URL" in err
    assert "public" not in err
    assert len(responses.calls) == 0


def test_post_announces_the_public_server_only_when_nobody_chose_one(
    no_settings: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FHIR_SERVER", raising=False)
    notice = f"using the public HAPI R4 test server {DEFAULT_SERVER} (what is sent there is public)"
    assert main(["post", CASE, "--dry-run"]) == 0
    assert notice in capsys.readouterr().err
    assert main(["post", CASE, "--dry-run", "--server", DEFAULT_SERVER]) == 0  # asked for
    assert "public" not in capsys.readouterr().err
    monkeypatch.setenv("FHIR_SERVER", "")  # an empty variable is an unset one
    assert main(["post", CASE, "--dry-run"]) == 0
    assert notice in capsys.readouterr().err
    monkeypatch.setenv("FHIR_SERVER", LOCAL)
    assert main(["post", CASE, "--dry-run"]) == 0
    assert "public" not in capsys.readouterr().err
    monkeypatch.delenv("FHIR_SERVER")
    no_settings.write_text(f"server: {LOCAL}\n")
    assert main(["post", CASE, "--dry-run"]) == 0
    assert "public" not in capsys.readouterr().err


@responses.activate
def test_python_post_warns_before_using_the_public_server(
    no_settings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fhir_adapter import convert, post

    monkeypatch.delenv("FHIR_SERVER", raising=False)
    bundle = convert(CASE)
    responses.get(f"{DEFAULT_SERVER}/metadata", json=capability_statement())
    with (
        pytest.warns(PublicServerWarning, match="using the public HAPI R4 test server") as seen,
        pytest.raises(DeliveryError),  # no transaction answer is scripted
    ):
        post(bundle)
    assert seen[0].filename == __file__  # points at the caller's line
    # Made an error, the warning stops the post before anything is sent.
    responses.calls.reset()
    with warnings.catch_warnings():
        warnings.simplefilter("error", PublicServerWarning)
        with pytest.raises(PublicServerWarning):
            post(bundle)
    assert len(responses.calls) == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error", PublicServerWarning)  # a server given: no warning
        responses.get(f"{LOCAL}/metadata", json=capability_statement())
        with pytest.raises(DeliveryError):
            post(bundle, LOCAL)


def test_one_module_finds_and_reads_the_settings_file() -> None:
    """Only fhir_adapter/config.py names the variable or the default file as a value (a second
    reader would drift from it: that is how a missing file came to be ignored)."""
    import ast

    from fhir_adapter.config import DEFAULT_FILE, ENV_VAR

    package = Path(__file__).resolve().parent.parent / "fhir_adapter"
    found = sorted(
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in (ENV_VAR, DEFAULT_FILE)
    )
    assert found == ["config.py", "config.py"]
