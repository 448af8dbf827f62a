"""Output formats of validation runs: every issue names file, resource, line and column; the
JSON formats are one document for many files; JUnit and GitHub output parse as their consumers
read them; ``str(report)`` and ``assert_valid_fhir`` failures read as short lists."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from fhir_adapter.cli import main
from fhir_adapter.validation import Validator, resource_label, validate
from fhir_adapter.validation.jsontext import line_map

pytest_plugins = ["pytester"]

DIV = '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'


def obs(oid: str = "o1", **extra: Any) -> dict[str, Any]:
    r: dict[str, Any] = {
        "resourceType": "Observation",
        "id": oid,
        "text": {"status": "generated", "div": DIV},
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "17861-6"}]},
    }
    r.update(extra)
    return r


@pytest.fixture
def files(tmp_path: Path, seed_bundle: dict[str, Any]) -> dict[str, Path]:
    """A bundle with two broken entries (one without id), an NDJSON file, a valid file."""
    bundle = copy.deepcopy(seed_bundle)
    bundle["entry"][3]["resource"]["status"] = "bogus"
    bundle["entry"][5]["resource"].pop("id")
    bundle["entry"][5]["resource"]["status"] = "nope"
    out = {"bundle": tmp_path / "bundle.json", "nd": tmp_path / "x.ndjson"}
    out["bundle"].write_text(json.dumps(bundle, indent=2))
    out["nd"].write_text(
        json.dumps(obs("a")) + "\n\n" + json.dumps(obs("b", status="bogus")) + "\n"
    )
    out["good"] = tmp_path / "good.json"
    out["good"].write_text(json.dumps(obs("g"), indent=1))
    return out


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(["validate", *argv])
    return code, capsys.readouterr().out


def test_line_map_gives_line_and_column() -> None:
    text = '{\n  "resourceType": "Observation",\n  "code": {"coding": [ {"code": "x"} ]}\n}'
    pos = line_map(text, "Observation")
    assert pos["Observation.resourceType"] == (2, 3)
    assert pos["Observation.code"] == (3, 3)
    assert pos["Observation.code.coding"] == (3, 12)
    assert pos["Observation.code.coding[0]"] == (3, 24)
    assert pos["Observation.code.coding[0].code"] == (3, 25)


def test_issue_columns_point_at_the_element() -> None:
    text = json.dumps(obs(status="bogus"), indent=2)
    (issue,) = validate(text).issues
    line = text.splitlines()[issue.line - 1]
    assert line[issue.column - 1 :].startswith('"status": "bogus"')


def test_resource_label_names_type_id_or_full_url() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [
            {"fullUrl": "urn:uuid:1", "resource": {"resourceType": "Patient", "id": "p"}},
            {"fullUrl": "urn:uuid:2", "resource": {"resourceType": "Observation"}},
            {
                "resource": {
                    "resourceType": "Bundle",
                    "entry": [{"resource": {"resourceType": "Condition", "id": "c"}}],
                }
            },
        ],
    }
    assert resource_label(bundle, "Bundle.entry[0].resource.name") == "Patient/p"
    assert resource_label(bundle, "Bundle.entry[1].resource.code") == "urn:uuid:2"
    assert resource_label(bundle, "Bundle.entry[1].fullUrl") == "urn:uuid:2"
    assert resource_label(bundle, "Bundle.entry[2].resource.entry[0].resource.x") == "Condition/c"
    assert resource_label(obs(), "Observation.status") == "Observation/o1"
    assert resource_label(bundle, "Bundle.entry[9].resource") is None


def test_every_issue_names_file_resource_line_and_column(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], seed_bundle: dict[str, Any]
) -> None:
    code, out = run(capsys, "--format", "json", *map(str, files.values()))
    assert code == 1
    doc = json.loads(out)  # one document for three files
    assert [r["file"] for r in doc] == [str(p) for p in files.values()]
    assert [r["valid"] for r in doc] == [False, False, True]
    issues = [i for r in doc for i in r["issues"]]
    assert issues and all(i["file"] and i["line"] and i["column"] for i in issues)
    by_res = {i["resource"] for i in doc[0]["issues"]}
    obs3 = seed_bundle["entry"][3]["resource"]
    assert by_res == {f"Observation/{obs3['id']}", seed_bundle["entry"][5]["fullUrl"]}
    (nd_issue,) = doc[1]["issues"]
    assert (nd_issue["resource"], nd_issue["line"], doc[1]["resources"]) == ("Observation/b", 3, 2)


def test_text_groups_by_resource(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    code, out = run(capsys, str(files["bundle"]), str(files["nd"]))
    assert code == 1
    assert "Bundle.entry[3] Observation/" in out and "(line " in out and ", col " in out
    assert "Observation/b:" in out
    assert "2 files: 0 valid, 2 invalid" in out


def test_outcome_on_several_files_is_one_valid_bundle(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    code, out = run(capsys, "--format", "outcome", *map(str, files.values()))
    assert code == 1
    bundle = json.loads(out)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert [e["fullUrl"] for e in bundle["entry"]] == [p.resolve().as_uri() for p in files.values()]
    report = validate(bundle)
    assert report.ok, report
    first = bundle["entry"][0]["resource"]
    assert "bundle.json" in first["text"]["div"]
    for issue in first["issue"]:
        assert issue["diagnostics"].startswith(f"{files['bundle']}:")
        assert issue["location"][1].startswith("Line[")


def test_junit_has_a_case_per_file_or_ndjson_line(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    code, out = run(capsys, "--format", "junit", *map(str, files.values()))
    assert code == 1
    root = ET.fromstring(out)
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == [str(p) for p in files.values()]
    nd_cases = suites[1].findall("testcase")
    assert [c.get("line") for c in nd_cases] == ["1", "3"]  # the blank line 2 is no resource
    assert nd_cases[0].find("failure") is None
    failure = nd_cases[1].find("failure")
    assert failure is not None and "observation-status" in (failure.text or "")
    assert f"{files['nd']}:3:" in (failure.text or "")
    assert (root.get("tests"), root.get("failures")) == ("4", "2")


def test_junit_warnings_fail_only_with_warnings_as_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    warn = tmp_path / "warn.json"
    r = obs()
    r.pop("text")
    warn.write_text(json.dumps(r))
    code, out = run(capsys, "--format", "junit", str(warn))
    case = ET.fromstring(out).find("testsuite/testcase")
    assert code == 0 and case is not None and case.find("failure") is None
    assert "dom-6" in (case.findtext("system-out") or "")
    code, out = run(capsys, "--format", "junit", "--warnings-as-errors", str(warn))
    assert code == 1 and ET.fromstring(out).find("testsuite/testcase/failure") is not None


def test_github_annotations(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "a,b.json"
    bad.write_text(json.dumps(obs(status="bogus"), indent=2))
    code, out = run(capsys, "--format", "github", str(bad))
    assert code == 1
    (line,) = [x for x in out.splitlines() if x.startswith("::")]
    at = bad.read_text().splitlines().index('  "status": "bogus",') + 1
    assert line.startswith(f"::error file={str(bad).replace(',', '%2C')},line={at},col=3,")
    assert "title=FHIR binding::Observation/o1 Observation.status: 'bogus'" in line


def test_output_file_and_stdin_ndjson(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, files: dict[str, Path]
) -> None:
    out = tmp_path / "out" / "r.json"
    code, printed = run(capsys, "--format", "json", "-o", str(out), str(files["nd"]))
    assert code == 1 and printed == ""
    assert json.loads(out.read_text())[0]["issues"][0]["line"] == 3
    proc = subprocess.run(
        [sys.executable, "-m", "fhir_adapter.cli", "validate", "--format", "json", "-"],
        input=files["nd"].read_text(),
        capture_output=True,
        text=True,
    )
    (res,) = json.loads(proc.stdout)
    assert (res["file"], res["resources"], res["issues"][0]["line"]) == ("<stdin>", 2, 3)


def test_str_report_is_a_short_readable_list() -> None:
    source = json.dumps(obs(status="bogus", foo=1), indent=2)
    report = validate(source)
    text = str(report)
    assert "Report(" not in text and "Issue(" not in text
    lines = text.splitlines()
    assert lines[0] == "invalid FHIR: 2 error(s), 0 warning(s)"
    at = source.splitlines().index('  "status": "bogus",') + 1
    assert f"Observation/o1 Observation.status (line {at}, col 3)" in text
    assert "[binding]" in text and "fix: use one of" in text
    assert str(validate(obs())) == "valid FHIR (0 errors, 0 warnings)"
    many = Validator().validate({"resourceType": "Observation", **{f"x{i}": 1 for i in range(30)}})
    assert "... and" in str(many) and len(str(many).splitlines()) < 70
    assert len(repr(many)) < 240 and repr(many).startswith("<Report invalid FHIR: 32 error(s)")


def test_pytest_failures_point_at_the_users_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_user="""
        from fhir_adapter import validate
        from fhir_adapter.pytest_plugin import assert_valid_fhir

        BAD = {"resourceType": "Patient", "id": "p", "gender": "woman"}

        def test_helper():
            assert_valid_fhir(BAD)  # USER LINE

        def test_assert():
            report = validate(BAD)
            assert report.ok, report
        """
    )
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert ">       assert_valid_fhir(BAD)  # USER LINE" in out
    assert "pytest_plugin.py" not in out
    assert "Patient/p Patient.gender" in out and "fix: use one of" in out
    assert "Report(issues=" not in out
    assert "AssertionError: <Report invalid FHIR: 1 error(s), 1 warning(s); ERROR Patient/p" in out


def test_progress_shows_on_a_terminal_only(
    tmp_path: Path, run_on_pty: Callable[[list[str]], tuple[int, str]]
) -> None:
    big = tmp_path / "big.ndjson"
    line = json.dumps(obs()) + "\n"
    big.write_text(line * 60000)  # about 1 s: the bar appears after 0.5 s
    code, tty = run_on_pty(["validate", str(big)])
    assert code == 0
    assert "validate:" in tty and "resources" in tty and "resources/s" in tty
    assert "<" in tty  # tqdm's elapsed<remaining
    proc = subprocess.run(
        [sys.executable, "-m", "fhir_adapter.cli", "validate", str(big)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0 and proc.stderr == ""


def test_junit_splits_issues_by_severity_without_comparing_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Comparing every issue with the failing ones made JUnit output quadratic (a bundle of
    12,000 invalid resources took 48 s against 1.5 s for text); now no two issues are compared."""
    from fhir_adapter.validation.formats import FileResult, to_junit
    from fhir_adapter.validation.report import Issue, Report

    def issue(n: int) -> Issue:
        severity = "error" if n % 2 else "warning"
        return Issue(severity, "binding", f"Bundle.entry[{n}].resource.gender", "bad", line=n)

    report = Report([issue(n) for n in range(400)])
    compared: list[int] = []
    monkeypatch.setattr(Issue, "__eq__", lambda a, b: compared.append(1) or a is b)
    for strict in (False, True):
        root = ET.fromstring(to_junit([FileResult("big.json", report, strict)]))
        failure = root.find("testsuite/testcase/failure")
        assert failure is not None and failure.text is not None
        assert failure.text.count("\n") + 1 == (400 if strict else 200)
    assert compared == []
