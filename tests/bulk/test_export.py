"""Bulk convert: many cases -> one NDJSON file per type, a manifest, an error file; atomic."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.bulk.export import ERROR_FILE, MANIFEST, export_ndjson, find_cases
from fhir_adapter.bundle import references
from fhir_adapter.case import load_case
from fhir_adapter.cli import main
from fhir_adapter.convert import convert, to_resources
from fhir_adapter.errors import InputError
from fhir_adapter.ids import resource_uuid
from fhir_adapter.paths import FIXTURES_DIR, SEED_CASE
from fhir_adapter.validation import Validator

SECOND_CASE = FIXTURES_DIR / "t2dm-metformin.case.yaml"
#: every fixture case, in the export's (path) order
FIXTURE_CASES = find_cases([FIXTURES_DIR])


def read_export(out: Path) -> dict[str, list[dict[str, Any]]]:
    """resource type -> resources, from the files the manifest lists (counts checked)."""
    manifest = json.loads((out / MANIFEST).read_text())
    found = {}
    for item in manifest["output"]:
        lines = (out / item["url"]).read_text(encoding="utf-8").splitlines()
        assert len(lines) == item["count"]
        found[item["type"]] = [json.loads(line) for line in lines]
    return found


def copy_case(src: Path, dest: Path, case_id: str | None = None, title: str | None = None) -> Path:
    text = src.read_text(encoding="utf-8")
    if case_id:
        text = text.replace(f"id: {_case_id(src)}\n", f"id: {case_id}\n", 1)
    if title:
        text = text.replace("\ntitle: ", f"\ntitle: {title} ", 1)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text, encoding="utf-8")
    return dest


def _case_id(path: Path) -> str:
    return next(
        line.split(":", 1)[1].strip()
        for line in path.read_text().splitlines()
        if line.startswith("id:")
    )


@pytest.fixture(scope="module")
def fixtures_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "out"
    result = export_ndjson([FIXTURES_DIR], out)
    assert result.exit_code == 0 and not result.failures
    return out


def test_one_file_per_type_with_every_resource_of_every_case(fixtures_export: Path) -> None:
    found = read_export(fixtures_export)
    expected: dict[str, list[str]] = {}
    assert len(FIXTURE_CASES) >= 3
    for case in FIXTURE_CASES:
        for r in to_resources(load_case(case)):
            expected.setdefault(r["resourceType"], []).append(r["id"])
    assert {t: [r["id"] for r in rs] for t, rs in found.items()} == expected
    assert sorted(p.name for p in fixtures_export.glob("*.ndjson")) == sorted(
        f"{t}.ndjson" for t in expected
    )


def test_references_are_literal_and_resolve_inside_the_export(fixtures_export: Path) -> None:
    found = read_export(fixtures_export)
    ids = {f"{t}/{r['id']}" for t, rs in found.items() for r in rs}
    refs = [ref for rs in found.values() for r in rs for ref in references(r)]
    assert refs, "the fixtures' resources reference each other"
    assert all(not ref.startswith("urn:") for ref in refs)
    assert set(refs) <= ids
    # only references are rewritten: business identifiers are those of the bundle
    patient = found["Patient"][0]
    bundled = next(
        e["resource"]
        for case in FIXTURE_CASES
        for e in convert(case)["entry"]
        if e["resource"]["id"] == patient["id"]
    )
    assert patient["identifier"] == bundled["identifier"]
    assert patient["identifier"][0]["value"].startswith("urn:uuid:")


def test_every_resource_is_valid_r4(fixtures_export: Path) -> None:
    validator = Validator()
    for rs in read_export(fixtures_export).values():
        for r in rs:
            assert validator.validate_resource(r).ok


def test_manifest_is_a_bulk_data_manifest_without_invented_times(
    fixtures_export: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest = json.loads((fixtures_export / MANIFEST).read_text())
    assert "transactionTime" not in manifest  # no time is invented
    assert manifest["requiresAccessToken"] is False
    assert manifest["error"] == []
    assert [o["type"] for o in manifest["output"]] == sorted(o["type"] for o in manifest["output"])
    assert all(o["url"] == f"{o['type']}.ndjson" for o in manifest["output"])
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    export_ndjson([SECOND_CASE], tmp_path / "t", base_url="https://files.example/export/")
    m2 = json.loads((tmp_path / "t" / MANIFEST).read_text())
    assert m2["transactionTime"] == "2023-11-14T22:13:20Z"
    assert (
        m2["output"][0]["url"] == f"https://files.example/export/{m2['output'][0]['type']}.ndjson"
    )
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        export_ndjson([SECOND_CASE], tmp_path / "u")
    assert not (tmp_path / "u").exists()


def test_same_bytes_whatever_the_jobs_and_input_order(
    fixtures_export: Path, tmp_path: Path
) -> None:
    export_ndjson([SECOND_CASE, SEED_CASE, FIXTURES_DIR], tmp_path / "two", jobs=2)
    for f in sorted(fixtures_export.rglob("*")):
        assert (tmp_path / "two" / f.relative_to(fixtures_export)).read_bytes() == f.read_bytes()


def test_no_duplicate_resources_when_cases_repeat(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    copy_case(SECOND_CASE, cases / "a.case.yaml")
    copy_case(SECOND_CASE, cases / "sub" / "b.case.yaml")  # the same case id, same content
    result = export_ndjson([cases, cases / "a.case.yaml"], tmp_path / "out")
    assert result.exit_code == 0 and result.converted == 2 and result.cases == 2
    found = read_export(tmp_path / "out")
    keys = [f"{t}/{r['id']}" for t, rs in found.items() for r in rs]
    assert len(keys) == len(set(keys)) == len(to_resources(load_case(SECOND_CASE)))
    assert result.duplicates == len(keys)


def test_a_bad_case_is_skipped_and_reported_the_others_are_written(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    copy_case(SECOND_CASE, cases / "a-good.case.yaml")
    (cases / "b-bad.case.yaml").write_text("format: fhir-adapter-case/1\nid: x\n")
    copy_case(SECOND_CASE, cases / "c-clash.case.yaml", title="(edited)")  # same id, other text
    copy_case(SEED_CASE, cases / "d-good.case.yaml")
    heard: list[str] = []
    result = export_ndjson(
        [cases], tmp_path / "out", jobs=2, on_failure=lambda f: heard.append(f.file)
    )
    assert result.converted == 2 and result.cases == 4
    assert [Path(f).name for f in heard] == ["b-bad.case.yaml", "c-clash.case.yaml"]
    assert result.exit_code == 2  # bad input, as `convert` gives for one bad case
    found = read_export(tmp_path / "out")
    assert len(found["Patient"]) == 2
    manifest = json.loads((tmp_path / "out" / MANIFEST).read_text())
    assert manifest["error"] == [{"type": "OperationOutcome", "url": ERROR_FILE, "count": 2}]
    outcomes = [json.loads(x) for x in (tmp_path / "out" / ERROR_FILE).read_text().splitlines()]
    validator = Validator()
    assert all(validator.validate_resource(o).ok for o in outcomes)
    bad, clash = (" | ".join(i["diagnostics"] for i in o["issue"]) for o in outcomes)
    assert "b-bad.case.yaml" in bad and "missing required field 'title'" in bad and "fix:" in bad
    assert "c-clash.case.yaml" in clash and "a-good.case.yaml" in clash and "own id" in clash


def test_invalid_fhir_skips_the_case_with_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fhir_adapter.bulk.export as export

    real = export.literal_references

    def spoil(resources: list[dict[str, Any]]) -> None:
        real(resources)
        if resources[0]["id"] == resource_uuid("t2dm-metformin-example", "Patient", "patient"):
            resources[0]["gender"] = "femal"

    monkeypatch.setattr(export, "literal_references", spoil)
    result = export_ndjson([FIXTURES_DIR], tmp_path / "out")
    assert result.exit_code == 1 and result.converted == len(FIXTURE_CASES) - 1
    assert "Patient.gender" in result.failures[0].problems[0]
    assert result.failures[0].outcome["issue"][0]["expression"] == ["Patient.gender"]
    result = export_ndjson([FIXTURES_DIR], tmp_path / "out", validate=False)
    assert result.exit_code == 0


def test_a_failed_export_leaves_the_previous_one_and_no_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fhir_adapter.bulk.export as export

    out = tmp_path / "out"
    export_ndjson([SECOND_CASE], out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*args: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(export, "_manifest", boom)
    with pytest.raises(OSError, match="disk full"):
        export_ndjson([FIXTURES_DIR], out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no staging left behind
    monkeypatch.undo()
    export_ndjson([FIXTURES_DIR], out)  # an earlier export is replaced as a whole
    assert len(read_export(out)["Patient"]) == len(FIXTURE_CASES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    mode = out.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o777 & ~umask


def test_refuses_to_replace_a_directory_that_is_not_an_export(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(InputError, match="not replacing it"):
        export_ndjson([SECOND_CASE], tmp_path / "notes")
    assert (tmp_path / "notes" / "keep.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    export_ndjson([SECOND_CASE], tmp_path / "empty")
    assert (tmp_path / "empty" / MANIFEST).is_file()


def test_inputs_are_checked_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        find_cases([SECOND_CASE, tmp_path / "nope.case.yaml"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no case files .*\*\.case\.yaml"):
        find_cases([tmp_path / "empty"])
    with pytest.raises(InputError, match="--jobs"):
        export_ndjson([SECOND_CASE], tmp_path / "o", jobs=-1)


def test_cli_bulk_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "bad.case.yaml").write_text("id: [\n")
    code = main(
        [
            "convert",
            str(FIXTURES_DIR),
            str(tmp_path / "bad.case.yaml"),
            "--ndjson",
            str(tmp_path / "out"),
            "--jobs",
            "2",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"skipped {tmp_path / 'bad.case.yaml'}" in err
    n = len(FIXTURE_CASES)
    assert f"from {n} of {n + 1} cases; 1 cases skipped" in err
    assert len(read_export(tmp_path / "out")["Patient"]) == n


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["a.case.yaml", "b.case.yaml"], "need --ndjson"),
        (["--jobs", "2"], "need --ndjson"),
        (["--ndjson", "OUT", "-o", "x.json"], "not a bundle"),
        (["--ndjson", "OUT", "--type", "collection"], "not a bundle"),
        (["--ndjson", "OUT", "--report", "r.html"], "not a bundle"),
        (["--ndjson", "OUT", "--profile", "us-core"], "plain R4"),
    ],
)
def test_cli_usage_errors(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [a.replace("OUT", str(tmp_path / "out")) for a in args]
    assert main(["convert", *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_addon_mappings_reach_the_worker_processes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_settings: Path,
    pneumonia_addon: Path,
) -> None:
    from fhir_adapter import terminology

    monkeypatch.delenv(terminology.ENV_VAR, raising=False)
    case = copy_case(SECOND_CASE, tmp_path / "cases" / "p.case.yaml", case_id="pneumonia-case")
    case.write_text(case.read_text().replace("type_2_diabetes_mellitus", "pneumonia"))
    copy_case(SECOND_CASE, tmp_path / "cases" / "q.case.yaml", case_id="pneumonia-case-2")
    args = ["convert", str(tmp_path / "cases"), "--ndjson", str(tmp_path / "out"), "--jobs", "2"]
    try:
        assert main(args) == 2  # without the add-on, the case naming pneumonia is skipped
        assert "pneumonia" in capsys.readouterr().err
        assert main([*args, "--mappings", str(pneumonia_addon)]) == 0
    finally:
        terminology.use_mappings(())
    codes = [
        c["code"]
        for cond in read_export(tmp_path / "out")["Condition"]
        for c in cond["code"]["coding"]
    ]
    assert "233604007" in codes
