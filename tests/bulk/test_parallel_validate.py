"""validate --jobs: many files and NDJSON byte ranges over processes; same reports, same order."""

from __future__ import annotations

import itertools
import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.bulk.export import export_ndjson
from fhir_adapter.bulk.validate import expand_inputs, line_ranges, validate_inputs
from fhir_adapter.cli import main
from fhir_adapter.errors import InputError
from fhir_adapter.paths import FIXTURES_DIR
from fhir_adapter.validation import Validator
from fhir_adapter.validation.report import LineNumbers


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """An export of the fixtures, one NDJSON file spoilt in several ways, and JSON files."""
    root = tmp_path_factory.mktemp("inputs")
    export_ndjson([FIXTURES_DIR], root / "export")
    lines = (root / "export" / "Observation.ndjson").read_bytes().splitlines(keepends=True)
    spoilt = [*lines, *lines, *lines]  # 48 resources
    spoilt[3] = spoilt[3].replace(b'"final"', b'"finished"')  # binding error
    spoilt[9] = b"\n"  # blank lines are counted but not validated
    spoilt[10] = b"   \r\n"
    spoilt[17] = spoilt[17].rstrip(b"\n") + b"\r\n"  # CRLF
    spoilt[20] = b'{"resourceType": "Observation", "status": "final"\n'  # truncated JSON
    spoilt[26] = b'{"resourceType":"Patient","gender":"f\xe9male"}\n'  # Latin-1, not UTF-8
    spoilt[31] = spoilt[31].replace(b'"status":"final"', b'"status":"final","status":"final"')
    spoilt[-1] = spoilt[-1].rstrip(b"\n")  # no final newline
    big = root / "big.ndjson"
    big.write_bytes(b"".join(spoilt))
    one = root / "one.json"
    one.write_text(json.dumps(json.loads(lines[0]), indent=2))
    bad = root / "bad.json"
    bad.write_text('{"resourceType": "Patient", "gender": "nope"}')
    return [one, big, root / "export", bad]


def as_tuples(reports: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (r.source, r.issues, list(r.ndjson_lines) if r.ndjson_lines is not None else None)
        for r in reports
    ]


def test_line_ranges_cover_the_file_at_line_starts(inputs: list[Path]) -> None:
    big = inputs[1]
    data = big.read_bytes()
    for size in (1, 100, 1000, len(data) - 1, len(data), 10 * len(data)):
        ranges = list(line_ranges(big, size))
        assert ranges[0][0] == 0 and ranges[-1][1] == len(data)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(ranges))
        assert all(data[s - 1 : s] == b"\n" for s, _ in ranges[1:])
        assert all(e > s for s, e in ranges)


@pytest.mark.parametrize(("jobs", "chunk"), [(1, 300), (2, 1500), (2, 1 << 24)])
def test_same_reports_in_input_order_as_one_process(
    inputs: list[Path], jobs: int, chunk: int
) -> None:
    validator = Validator()
    expected = [validator.validate_file(Path(p)) for p in expand_inputs([str(p) for p in inputs])]
    big = next(r for r in expected if r.source == str(inputs[1]))
    rules = {(i.line, i.rule) for i in big.issues}
    assert {(4, "binding"), (21, "json"), (27, "json"), (32, "json")} <= rules
    got = list(validate_inputs([str(p) for p in inputs], validator, jobs=jobs, chunk_bytes=chunk))
    assert as_tuples(got) == as_tuples(expected)


def test_invalid_utf8_is_a_fatal_issue_on_its_line(inputs: list[Path]) -> None:
    report = Validator().validate_file(inputs[1])
    [issue] = [i for i in report.issues if i.line == 27]
    assert issue.severity == "fatal" and "not UTF-8" in issue.message


def test_directories_skip_the_bulk_manifest_and_missing_files_fail_first(
    inputs: list[Path], tmp_path: Path
) -> None:
    names = expand_inputs([str(inputs[2])])
    assert names and all(isinstance(n, Path) and n.suffix == ".ndjson" for n in names)
    with pytest.raises(InputError, match="file not found"):
        list(validate_inputs([str(inputs[0]), str(tmp_path / "nope.json")], jobs=2))


def test_validator_pickles_as_its_options() -> None:
    v = Validator(skip=["codes", "invariants"])
    again = pickle.loads(pickle.dumps(v))
    assert again.layers == v.layers and again is not v
    assert len(pickle.dumps(v)) < 500  # options only, not compiled tables


@pytest.mark.parametrize("fmt", ["text", "json", "outcome"])
def test_cli_output_is_the_same_with_jobs(
    inputs: list[Path], fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["validate", *map(str, inputs), "--format", fmt]
    assert main(args) == 1
    one = capsys.readouterr().out
    assert main([*args, "--jobs", "2"]) == 1
    assert capsys.readouterr().out == one


def test_cli_rejects_a_negative_job_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "-", "--jobs", "-1"]) == 2
    assert "--jobs" in capsys.readouterr().err


def test_ndjson_line_numbers_are_held_as_runs() -> None:
    lines = LineNumbers(range(1, 1_000_001))
    lines.append(1_000_005)
    assert len(lines) == 1_000_001 and repr(lines) == "LineNumbers(1-1000000, 1000005-1000005)"
    more = LineNumbers([1, 2, 4])
    lines.extend(more, 1_000_005)
    assert list(lines)[-4:] == [1_000_005, 1_000_006, 1_000_007, 1_000_009]
    assert lines == pickle.loads(pickle.dumps(lines))
    assert LineNumbers([3, 4, 6]) == [3, 4, 6]
