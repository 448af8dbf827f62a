"""fhir_adapter.spark in Spark local mode: the DataFrames equal the one-process results.

Needs the ``spark`` extra and Java 17. Skipped without them, except under CI (``CI`` set),
where a missing PySpark or Java is a failure, not a skip.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.bulk.export import ERROR_FILE, export_ndjson
from fhir_adapter.paths import FIXTURES_DIR
from fhir_adapter.validation import Validator

ON_CI = bool(os.environ.get("CI"))


def _require_spark() -> Any:
    try:
        import pyspark
    except ImportError:
        if ON_CI:
            pytest.fail("CI must run the Spark tests: install the 'spark' extra")
        pytest.skip("needs the 'spark' extra (pip install 'fhir-adapter[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        if ON_CI:
            pytest.fail("CI must run the Spark tests: Java 17 is missing")
        pytest.skip("needs Java 17 for Spark")
    return pyspark


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    _require_spark()
    from pyspark.sql import SparkSession

    # Python workers must run this environment (PySpark's default is "python3" on the PATH)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("fhir-adapter-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        # small partitions, so that files are split into several blocks and line numbers
        # must be carried across them
        .config("spark.sql.files.maxPartitionBytes", "4096")
        .config("spark.sql.files.openCostInBytes", "1024")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="module")
def ndjson_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The fixtures' export, plus a file with invalid, blank, malformed and CRLF lines."""
    root = tmp_path_factory.mktemp("spark-in")
    export_ndjson([FIXTURES_DIR], root / "export")
    obs = (root / "export" / "Observation.ndjson").read_bytes().splitlines(keepends=True)
    lines = [*obs, *obs]
    lines[2] = lines[2].replace(b'"final"', b'"finished"')
    lines[5] = b"\n"
    lines[6] = lines[6].rstrip(b"\n") + b"\r\n"
    lines[11] = b'{"resourceType": "Observation"\n'
    lines[12] = b"[1, 2]\n"
    lines[13] = b'{"resourceType": "Patient", "id": "p", "gender": "f"}\n'
    lines[-1] = lines[-1].rstrip(b"\n")
    mixed = root / "mixed.ndjson"
    mixed.write_bytes(b"".join(lines))
    return [mixed, *sorted((root / "export").glob("*.ndjson"))]


def _shape(schema: Any) -> list[tuple[str, str]]:
    """Column names and types (joins and unions may loosen declared nullability)."""
    return [(f.name, f.dataType.simpleString()) for f in schema.fields]


def _local(path: str) -> str:
    return path.removeprefix("file:")


def test_validate_ndjson_equals_one_process(spark: Any, ndjson_files: list[Path]) -> None:
    from fhir_adapter.spark import validate_ndjson, validation_schema

    df = validate_ndjson(spark, [str(p) for p in ndjson_files])
    assert _shape(df.schema) == _shape(validation_schema())
    rows = df.collect()  # the test collects; the module never does
    got = {(_local(r.file), r.line): r for r in rows}
    assert len(got) == len(rows)
    validator = Validator()
    expected = {}
    for path in ndjson_files:
        for n, report in validator.iter_ndjson(path):
            expected[(str(path), n)] = report
    assert set(got) == set(expected)
    invalid = 0
    for key, report in expected.items():
        row = got[key]
        assert row.valid == report.ok, key
        assert [tuple(i) for i in row.issues] == [
            (i.severity, i.rule, i.path, i.message) for i in report.issues
        ], key
        invalid += not report.ok
    assert invalid >= 4  # the spoilt lines
    mixed = {n: got[(str(ndjson_files[0]), n)] for (f, n) in got if f == str(ndjson_files[0])}
    assert 6 not in mixed  # the blank line: counted, not a row
    assert (mixed[12].resourceType, mixed[12].id) == (None, None)  # malformed JSON
    assert (mixed[14].resourceType, mixed[14].id) == ("Patient", "p")
    # more than one block per file, so line numbers were carried across blocks
    blocks = spark.read.text(str(ndjson_files[0])).rdd.getNumPartitions()
    assert blocks > 1


def test_convert_cases_equals_the_ndjson_export(spark: Any, tmp_path: Path) -> None:
    from fhir_adapter.spark import convert_cases, resource_schema

    cases = tmp_path / "cases"
    shutil.copytree(FIXTURES_DIR, cases)
    (cases / "zz-bad.case.yaml").write_text("format: fhir-adapter-case/1\nid: x\n")
    twin = (cases / "t2dm-metformin.case.yaml").read_text()
    (cases / "sub").mkdir()
    (cases / "sub" / "copy.case.yaml").write_text(twin)  # identical: written once
    (cases / "zz-clash.case.yaml").write_text(twin.replace("title: ", "title: Edited ", 1))
    export = export_ndjson([cases], tmp_path / "out")
    assert len(export.failures) == 2

    df = convert_cases(spark, str(cases))
    assert _shape(df.schema) == _shape(resource_schema())
    rows = df.collect()
    outputs = {
        (r.resourceType, r.id, r.resource) for r in rows if r.resourceType != "OperationOutcome"
    }
    assert len(outputs) == sum(1 for r in rows if r.resourceType != "OperationOutcome")
    expected = set()
    for f in (tmp_path / "out").glob("*.ndjson"):
        for line in f.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            expected.add((d["resourceType"], d["id"], line))
    assert outputs == expected
    errors = sorted(
        (Path(_local(r.case)).name, json.loads(r.resource))
        for r in rows
        if r.resourceType == "OperationOutcome"
    )
    assert [name for name, _ in errors] == ["zz-bad.case.yaml", "zz-clash.case.yaml"]
    local = [json.loads(x) for x in (tmp_path / "out" / ERROR_FILE).read_text().splitlines()]
    bad_spark, bad_local = errors[0][1], local[0]
    assert [i["diagnostics"].removeprefix("file:") for i in bad_spark["issue"]] == [
        i["diagnostics"] for i in bad_local["issue"]
    ]
    assert "own id" in errors[1][1]["issue"][0]["diagnostics"]


def test_directories_give_their_ndjson_files_only(
    spark: Any, ndjson_files: list[Path], tmp_path: Path
) -> None:
    """An export directory holds manifest.json beside the NDJSON files (and error/ below):
    only the NDJSON files are data, as `fhir-adapter validate DIR` reads them. A file named
    explicitly is read whatever its name; a path that matches nothing is an InputError."""
    from fhir_adapter.bulk.validate import expand_inputs
    from fhir_adapter.errors import InputError
    from fhir_adapter.spark import convert_cases, validate_ndjson

    export = ndjson_files[1].parent
    assert (export / "manifest.json").is_file()
    (export / "error").mkdir(exist_ok=True)
    (export / "error" / "OperationOutcome.ndjson").write_text(
        '{"resourceType": "OperationOutcome", "issue": []}\n'
    )
    jsonl = tmp_path / "lines.jsonl"
    jsonl.write_bytes(ndjson_files[0].read_bytes())
    rows = validate_ndjson(spark, [str(export), str(jsonl)]).collect()
    files = {Path(_local(r.file)) for r in rows}
    assert files == {*(p for p in expand_inputs([export]) if isinstance(p, Path)), jsonl}
    assert sum(not r.valid for r in rows if Path(_local(r.file)).parent == export) == 0
    assert any(not r.valid for r in rows if Path(_local(r.file)) == jsonl)
    with pytest.raises(InputError, match="file not found"):
        validate_ndjson(spark, [str(tmp_path / "missing")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no"):
        convert_cases(spark, [str(tmp_path / "empty")])
    case = tmp_path / "named.yaml"  # a case file named explicitly need not be *.case.yaml
    case.write_text((FIXTURES_DIR / "t2dm-metformin.case.yaml").read_text())
    assert convert_cases(spark, [str(case)]).where("resourceType = 'Patient'").count() == 1
