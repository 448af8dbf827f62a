"""The document's time rule (case date, else SOURCE_DATE_EPOCH, else an error; never the clock)
and the --profile option of ``fhir-adapter convert``."""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from fhir_adapter import convert
from fhir_adapter.cli import main
from fhir_adapter.errors import ProfileError
from fhir_adapter.profiled.timestamp import document_time

from .conftest import CASES


def case_with(source: dict[str, str] | None) -> types.SimpleNamespace:
    return types.SimpleNamespace(source=source or {}, path="case.yaml")


@pytest.mark.parametrize(
    ("date", "expected"),
    [
        ("2016-05-10", ("2016-05-10", "2016-05-10T00:00:00Z")),
        ("2016-05", ("2016-05", "2016-05-01T00:00:00Z")),
        ("2016", ("2016", "2016-01-01T00:00:00Z")),
        ("2016-05-10T08:30:00+02:00", ("2016-05-10T08:30:00+02:00",) * 2),
    ],
)
def test_the_case_date_wins(date: str, expected: tuple[str, str]) -> None:
    env = {"SOURCE_DATE_EPOCH": "0"}
    assert document_time(case_with({"date": date}), env) == expected


def test_source_date_epoch_is_the_fallback() -> None:
    assert document_time(case_with(None), {"SOURCE_DATE_EPOCH": "1715644800"}) == (
        "2024-05-14T00:00:00Z",
        "2024-05-14T00:00:00Z",
    )
    assert document_time(case_with(None), {"SOURCE_DATE_EPOCH": "0"})[1] == "1970-01-01T00:00:00Z"


def test_neither_is_a_clear_error_never_the_clock() -> None:
    with pytest.raises(ProfileError) as err:
        document_time(case_with(None), {})
    text = str(err.value)
    assert (
        "case.yaml" in text
        and "SOURCE_DATE_EPOCH" in text
        and "never uses the current time" in text
    )


@pytest.mark.parametrize("bad", ["abc", "-5", "1.5", " 12", "１２", "99999999999999999999"])
def test_a_bad_epoch_is_named(bad: str) -> None:
    with pytest.raises(ProfileError, match="SOURCE_DATE_EPOCH"):
        document_time(case_with(None), {"SOURCE_DATE_EPOCH": bad})


@pytest.mark.parametrize(
    "bad", ["10 May 2016", "2016-13", "2016-02-30", "2016-05-10T08:30", "2016-02-30T08:30:00Z"]
)
def test_a_bad_case_date_is_named(bad: str) -> None:
    with pytest.raises(ProfileError, match=r"source\.date"):
        document_time(case_with({"date": bad}), {"SOURCE_DATE_EPOCH": "0"})


def test_the_same_inputs_give_the_same_bytes_and_another_time_changes_only_the_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1715644800")
    a = json.dumps(convert(profile="ips"))
    assert json.dumps(convert(profile="ips")) == a
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1715731200")
    b = json.dumps(convert(profile="ips"))
    assert b != a and b.replace("2024-05-15", "2024-05-14") == a


# --- CLI ------------------------------------------------------------------------------------


def test_cli_writes_an_ips_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1715644800")
    out = tmp_path / "ips.json"
    assert main(["convert", "--profile", "ips", "-o", str(out)]) == 0
    bundle = json.loads(out.read_text(encoding="utf-8"))
    assert bundle == convert(profile="ips")
    assert "document (ips) bundle" in capsys.readouterr().err


def test_cli_us_core_versions(capsys: pytest.CaptureFixture[str]) -> None:
    for mode in ("us-core", "us-core@3.1.1", "us-core@7.0.0"):
        assert main(["convert", str(CASES[0]), "--profile", mode]) == 0
        assert json.loads(capsys.readouterr().out) == convert(CASES[0], profile=mode)
    assert main(["convert", str(CASES[0]), "--profile", "us-core", "--type", "collection"]) == 0
    assert json.loads(capsys.readouterr().out)["type"] == "collection"


def test_cli_ips_without_a_time_exits_2_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    out = tmp_path / "ips.json"
    assert main(["convert", "--profile", "ips", "-o", str(out)]) == 2
    assert not out.exists()
    assert "SOURCE_DATE_EPOCH" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--profile", "fhir-ips"], "use one of: ips, us-core"),
        (["--profile", "ips", "--type", "transaction"], "an IPS is a document bundle"),
    ],
)
def test_cli_bad_profile_usage_exits_2(
    argv: list[str],
    message: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "0")
    assert main(["convert", *argv]) == 2
    assert message in capsys.readouterr().err


def test_help_names_the_modes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["convert", "--help"])
    out = capsys.readouterr().out
    for mode in ("ips", "us-core@3.1.1", "us-core@7.0.0", "SOURCE_DATE_EPOCH"):
        assert mode in out


# --- source.date in format /2 ---------------------------------------------------------------

DATED = """format: fhir-adapter-case/2
id: dated
title: Dated case
source: {{kind: made-up test case, date: {date}}}
patient: {{sex: male}}
conditions:
  - {{key: dm, concept: type_2_diabetes_mellitus}}
"""


def test_a_format_2_case_date_gives_the_document_time(
    write_case: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    bundle = convert(write_case(DATED.format(date="2016-05-10")), profile="ips")
    assert bundle["timestamp"] == "2016-05-10T00:00:00Z"
    assert bundle["entry"][0]["resource"]["date"] == "2016-05-10"
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1715644800")  # the case's date still wins
    assert convert(write_case(DATED.format(date="2016-05")), profile="ips")["timestamp"] == (
        "2016-05-01T00:00:00Z"
    )


@pytest.mark.parametrize(
    ("date", "message"),
    [("2016-02-30", "not a possible date"), ("May 2016", "YYYY-MM-DD"), ("2999", "plausible")],
)
def test_a_bad_source_date_is_named_at_load(
    write_case: Callable[..., Path], date: str, message: str
) -> None:
    from fhir_adapter.errors import CaseError

    path = write_case(DATED.format(date=date))
    with pytest.raises(CaseError, match=message) as err:
        convert(path)
    assert f"{path}:4" in str(err.value) and "source.date" in str(err.value)


def test_the_missing_time_fix_fits_the_case_format(
    write_case: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    v2 = write_case(DATED.format(date="2016").replace("date: 2016", "reference: x"))
    with pytest.raises(ProfileError, match=r"add source\.date to the case, or set"):
        convert(v2, profile="ips")
    with pytest.raises(ProfileError, match=r"format fhir-adapter-case/2\), or set"):
        convert(profile="ips")  # the seed case is format /1


def test_a_bad_doi_gets_a_doi_fix(write_case: Callable[..., Path]) -> None:
    from fhir_adapter.errors import CaseError

    path = write_case(DATED.format(date="2016").replace("date: 2016", "doi: doi.org/10.1/x"))
    with pytest.raises(CaseError, match=r"10\.1000/xyz123"):
        convert(path)


def test_convert_and_post_check_a_profile_mode_against_its_ig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Output breaking the mode's profiles (valid base R4) is not written, nor sent."""
    from fhir_adapter.profiled import adjust

    # break the mode: the US Core Patient loses its data-absent name
    monkeypatch.setattr(adjust, "mark_unknown", lambda r, claim, unknown_code=None: [])
    out = tmp_path / "us-core.json"
    assert main(["convert", str(CASES[0]), "--profile", "us-core", "-o", str(out)]) == 1
    assert "us-core-patient" in capsys.readouterr().err and not out.exists()
    post = ["post", str(CASES[0]), "--profile", "us-core", "--dry-run"]
    assert main([*post, "--server", "https://ehr.example/fhir"]) == 1
    assert "offline validation: INVALID" in capsys.readouterr().out
