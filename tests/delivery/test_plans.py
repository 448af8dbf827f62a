"""What is sent for each kind of entry, mode and strategy; bundles refused before anything is
sent; bad inputs named in one line (exit 2); the client's layering."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.cli import main
from fhir_adapter.client import ConfigError, FhirClient, post
from fhir_adapter.testing import Answer, HostileServer, Seen
from fhir_adapter.testing import capability_statement as capability

SMALL = "fixtures/t2dm-metformin.case.yaml"


def _echo(caps: dict[str, Any], location: Any = None) -> Any:
    """A script: the CapabilityStatement, then every write answered 201 with the id sent (PUT)
    or a new one (POST), transactions and batches entry by entry."""

    def answer_one(method: str, url: str, resource: dict[str, Any]) -> dict[str, Any]:
        rid = url.split("/")[1] if method == "PUT" else f"srv-{uuid.uuid4().hex[:8]}"
        loc = location(method, url, rid) if location else f"{url.split('/')[0]}/{rid}/_history/1"
        return {"status": "201 Created", "location": loc}

    def script(seen: Seen) -> Answer:
        if seen.path.endswith("/metadata"):
            return Answer(200, body=caps)
        body = json.loads(seen.body or b"{}")
        path = seen.path.split("/fhir/", 1)[1] if "/fhir/" in seen.path else ""
        if not path:
            answers = [
                {"response": answer_one(e["request"]["method"], e["request"]["url"], e["resource"])}
                for e in body["entry"]
            ]
            return Answer(
                200,
                body={
                    "resourceType": "Bundle",
                    "type": f"{body['type']}-response",
                    "entry": answers,
                },
            )
        response = answer_one(seen.method, path, body)
        return Answer(
            201,
            headers={"Location": response["location"]},
            body={**body, "id": response["location"].split("/")[1]},
        )

    return script


def _writes(srv: HostileServer) -> list[Seen]:
    return [r for r in srv.requests if r.method != "GET"]


# -- 2: a forced strategy is honoured or refused, never swapped ---------------------------------


@pytest.mark.parametrize("caps", [capability(), capability(update_create=False)])
def test_conditional_create_in_batch_mode_is_refused_not_turned_into_puts(caps: Any) -> None:
    with HostileServer(_echo(caps)) as srv, FhirClient(srv.base) as c:
        strategy = "conditional-create" if caps is not None else "auto"
        with pytest.raises(ConfigError, match="a batch cannot resolve") as caught:
            post(convert(SMALL), client=c, mode="batch", strategy=strategy)
        assert "--mode transaction" in str(caught.value)
        assert _writes(srv) == []


def test_auto_strategy_in_batch_mode_without_update_create_is_refused() -> None:
    with HostileServer(_echo(capability(update_create=False))) as srv, FhirClient(srv.base) as c:
        with pytest.raises(ConfigError, match="a batch cannot resolve"):
            post(convert(SMALL), client=c, mode="batch")
        assert _writes(srv) == []


def test_conditional_create_is_sent_as_conditional_create_in_every_other_mode() -> None:
    with HostileServer(_echo(capability())) as srv, FhirClient(srv.base) as c:
        assert post(convert(SMALL), client=c, strategy="conditional-create").ok
        sent = json.loads(_writes(srv)[0].body)
        assert {e["request"]["method"] for e in sent["entry"]} == {"POST"}
        assert post(convert(SMALL), client=c, mode="each", strategy="conditional-create").ok
        each = _writes(srv)[1:]
        assert {r.method for r in each} == {"POST"}
        assert all(r.headers["If-None-Exist"].startswith("identifier=") for r in each)


def test_dry_run_refuses_what_a_post_would_refuse(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["post", SMALL, "--dry-run", "--server", "https://ehr.example/fhir", "--mode", "batch"]
    assert main([*args, "--strategy", "conditional-create"]) == 2
    assert "a batch cannot resolve" in capsys.readouterr().err


# -- 5: bundles not made by fhir-adapter ---------------------------------------------------------


def _foreign() -> dict[str, Any]:
    """A transaction as other tools write it: POST entries without ids, one with a caller's id,
    one without ifNoneExist."""
    pid, oid = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    div = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": pid,
                "resource": {"resourceType": "Patient", "text": div},
                "request": {"method": "POST", "url": "Patient", "ifNoneExist": "identifier=x|1"},
            },
            {
                "fullUrl": oid,
                "resource": {
                    "resourceType": "Observation",
                    "id": "123",
                    "text": div,
                    "status": "final",
                    "code": {"text": "x"},
                    "subject": {"reference": pid},
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ],
    }


@pytest.mark.parametrize("mode", ["transaction", "each"])
def test_a_foreign_bundle_is_sent_as_written_with_a_warning(mode: str) -> None:
    with HostileServer(_echo(capability())) as srv, FhirClient(srv.base) as c:
        result = post(_foreign(), client=c, mode=mode)
        assert result.ok, result.to_table()
        assert result.strategy == "as written"
        assert "1 (Observation)" in result.warnings[0] and "again" in result.warnings[0]
    writes = _writes(srv)
    if mode == "transaction":
        sent = json.loads(writes[0].body)
        assert [e["request"]["method"] for e in sent["entry"]] == ["POST", "POST"]
        assert "ifNoneExist" not in sent["entry"][1]["request"]
    else:
        assert [(r.method, r.path) for r in writes] == [
            ("POST", "/fhir/Patient"),
            ("POST", "/fhir/Observation"),  # never PUT Observation/123
        ]
        assert writes[0].headers["If-None-Exist"] == "identifier=x|1"
        assert "If-None-Exist" not in writes[1].headers
        obs = json.loads(writes[1].body)
        assert obs["subject"]["reference"].startswith("Patient/srv-")


def test_a_foreign_post_with_an_id_is_never_put_even_under_put(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "foreign.json"
    path.write_text(json.dumps(_foreign()))
    args = ["post", str(path), "--server", "https://ehr.example/fhir", "--dry-run"]
    for mode in ("transaction", "each"):
        assert main([*args, "--mode", mode, "--strategy", "put"]) == 0
        out = capsys.readouterr().out
        assert "PUT" not in out and "POST Observation" in out and "warning:" in out
    assert main([*args, "--mode", "batch"]) == 2  # the Observation refers to a server-made id
    assert "a batch cannot resolve" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["DELETE", "GET", "PATCH"])
@pytest.mark.parametrize("mode", ["transaction", "batch", "each"])
def test_entries_other_than_post_and_put_are_refused_in_every_mode(
    method: str, mode: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = convert(SMALL)
    bundle["entry"].append({"request": {"method": method, "url": "Patient/1"}})
    with HostileServer(_echo(capability())) as srv, FhirClient(srv.base) as c:
        with pytest.raises(ConfigError, match=f"Bundle.entry\\[5\\]: .*{method}"):
            post(bundle, client=c, mode=mode, validate=False)
        assert srv.requests == []
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle))
    assert main(["post", str(path), "--mode", mode, "--dry-run", "--no-validate"]) == 2
    err = capsys.readouterr().err
    assert "creates and updates only" in err and "Traceback" not in err


# -- 12: Location must name the resource sent ---------------------------------------------------


@pytest.mark.parametrize(
    ("wrong", "says"),
    [
        (lambda rtype, rid: f"{rtype}/someone-else/_history/1", "answered id someone-else"),
        (lambda rtype, rid: f"Observation/{rid}/_history/1", "of type Observation"),
    ],
    ids=["another-id", "another-type"],
)
def test_a_location_naming_another_resource_fails_the_entry_and_its_dependents(
    wrong: Any, says: str
) -> None:
    def location(method: str, url: str, rid: str) -> str:
        rtype = url.split("/")[0]
        return str(wrong(rtype, rid)) if rtype == "Patient" else f"{url}/_history/1"

    with HostileServer(_echo(capability(), location)) as srv, FhirClient(srv.base) as c:
        result = post(convert(SMALL), client=c, mode="each")
    patient = result.entries[0]
    assert not patient.ok and patient.id is None
    assert says in patient.outcome_text()
    assert all(e.not_sent for e in result.entries[1:])  # nothing refers to a wrong resource
    assert [r.path.split("/")[2] for r in _writes(srv)] == ["Patient"]


def test_a_location_on_another_host_fails_the_entry() -> None:
    def location(method: str, url: str, rid: str) -> str:
        return f"https://elsewhere.example/fhir/{url.split('/')[0]}/{rid}"

    with (
        HostileServer(_echo(capability(update_create=False), location)) as srv,
        FhirClient(srv.base) as c,
    ):
        result = post(convert(SMALL), client=c)
    assert not result.ok
    assert all("not on http://127.0.0.1" in e.outcome_text() for e in result.entries)


# -- 13: deep nesting -----------------------------------------------------------------------------


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"url": "http://x.example/e", "valueString": "v"}
    for _ in range(levels):
        node = {"url": "http://x.example/e", "extension": [node]}
    return node


def test_a_deeply_nested_bundle_is_refused_clearly_without_validation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = convert(SMALL)
    bundle["entry"][0]["resource"]["extension"] = [_deep(450)]
    with pytest.raises(ConfigError, match="nests more than 254 levels deep"):
        post(bundle, "http://127.0.0.1:9/fhir", validate=False)
    document = {"resourceType": "Bundle", "type": "document", "id": "d", "entry": bundle["entry"]}
    with pytest.raises(ConfigError, match="nests more than 254 levels deep"):
        post(document, "http://127.0.0.1:9/fhir", validate=False)
    path = tmp_path / "deep.json"
    path.write_text(json.dumps(bundle))
    for extra in (["--no-validate"], ["--no-validate", "--dry-run"], ["--dry-run"]):
        assert main(["post", str(path), "--server", "http://127.0.0.1:9/fhir", *extra]) in (1, 2)
        assert "Traceback" not in capsys.readouterr().err


def test_verify_reads_back_a_deeply_nested_answer_without_recursion_error() -> None:
    bundle = convert(SMALL)

    def script(seen: Seen) -> Answer:
        if seen.method == "GET" and "/Patient/" in seen.path:
            patient = json.loads(json.dumps(bundle["entry"][0]["resource"]))
            patient["extension"] = [_deep(420)]  # 841 levels: within orjson's limit
            patient["gender"] = "other"
            return Answer(200, body=patient)
        return _echo(capability())(seen)

    with HostileServer(script) as srv, FhirClient(srv.base) as c:
        result = post(bundle, client=c, mode="each", verify_readback=True)
    assert "Patient.gender: sent" in "; ".join(result.entries[0].differences)


def test_tree_walks_are_iterative() -> None:
    from fhir_adapter.client import tree

    deep = _deep(5000)
    assert list(tree.references(deep)) == []
    again = tree.rewrite_refs({"a": [deep, {"reference": "x"}]}, {"x": "y"})
    assert again["a"][1] == {"reference": "y"}
    assert tree.differences(deep, _deep(5000), "E") == []
    assert tree.differences(deep, _deep(4999), "E")


# -- 14: bad inputs say what the file is and what post accepts ---------------------------------


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["post", *args, "--server", "https://ehr.example/fhir", "--dry-run"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_bad_inputs_are_named_with_what_post_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "x.json").mkdir()
    code, err = _cli([str(tmp_path / "x.json")], capsys)
    assert code == 2 and "is a directory" in err and "post takes case files" in err
    patient = tmp_path / "patient.json"
    patient.write_text(json.dumps({"resourceType": "Patient", "id": "p"}))
    code, err = _cli([str(patient)], capsys)
    assert code == 2 and "is a FHIR Patient resource, not a Bundle" in err
    nd = tmp_path / "r.ndjson"
    nd.write_text('{"resourceType": "Patient"}\n')
    code, err = _cli([str(nd)], capsys)
    assert code == 2 and "is NDJSON" in err and "post takes case files" in err
    other = tmp_path / "other.json"
    other.write_text('{"name": "not FHIR, not a case"}')
    code, err = _cli([str(other)], capsys)
    assert code == 2 and "neither a FHIR Bundle" in err
    assert "format: fhir-adapter-case/1 or fhir-adapter-case/2" in err  # every case format
    upper = tmp_path / "B.JSON"
    upper.write_text(json.dumps(convert(SMALL)))
    assert _cli([str(upper)], capsys)[0] == 0
    no_resource = convert(SMALL)
    del no_resource["entry"][2]["resource"]
    path = tmp_path / "nores.json"
    path.write_text(json.dumps(no_resource))
    code, err = _cli([str(path), "--no-validate"], capsys)
    assert code == 2 and "Bundle.entry[2]: has no resource" in err
    code, err = _cli(["--ca-bundle", str(tmp_path / "missing.pem"), SMALL], capsys)
    code = main(
        [
            "post",
            SMALL,
            "--server",
            "https://ehr.example/fhir",
            "--ca-bundle",
            str(tmp_path / "missing.pem"),
        ]
    )
    assert code == 2 and "CA bundle not found" in capsys.readouterr().err


def test_the_python_api_takes_cases_and_bundles_the_client_takes_bundles() -> None:
    import fhir_adapter
    from fhir_adapter.api import load_input

    assert load_input(SMALL)["type"] == "transaction"
    assert fhir_adapter.post is fhir_adapter.api.post
    with pytest.raises(ConfigError, match=r"use fhir_adapter\.post for case files"):
        post(SMALL, "http://127.0.0.1:9/fhir")  # type: ignore[arg-type]


# -- 15: dry runs and broken pipes -----------------------------------------------------------------


def test_dry_run_of_an_invalid_bundle_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = convert(SMALL)
    bad["entry"][0]["resource"]["gender"] = "woman"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    code, err = _cli([str(path)], capsys)
    assert code == 1 and "invalid, would not be sent" in err


def test_a_closed_pipe_ends_quietly(tmp_path: Path) -> None:
    """As ``fhir-adapter ... | head -1`` once head has gone: stdout's reader is closed."""
    import os

    path = tmp_path / "bad.ndjson"
    path.write_text(json.dumps({"resourceType": "Patient", "gender": "g"}) + "\n")
    for command in (
        ["validate", str(path)],
        ["validate", str(path), "--format", "json"],
        ["convert"],
    ):
        read_end, write_end = os.pipe()
        os.close(read_end)  # nobody will read
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "fhir_adapter.cli", *command],
                stdout=write_end,
                stderr=subprocess.PIPE,
                timeout=120,
            )
        finally:
            os.close(write_end)
        err = proc.stderr.decode()
        assert "Traceback" not in err and "BrokenPipe" not in err, err
        assert proc.returncode == 141


# -- design: the client points one way -------------------------------------------------------------


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_the_client_never_imports_the_case_model() -> None:
    """(Import cycles, here and everywhere: tests/test_layers.py.)"""
    client = Path("fhir_adapter/client")
    for path in client.glob("*.py"):
        imported = _imports(path)
        upward = {
            n
            for n in imported
            if n.startswith(("fhir_adapter.case", "fhir_adapter.convert", "fhir_adapter.mappers"))
            or n == "fhir_adapter.api"
        }
        if path.name != "cli.py":  # the CLI sits on top of the API layer
            assert not upward, f"{path} imports {upward}"
    for path in client.glob("*.py"):
        tree_ = ast.parse(path.read_text())
        classes = [n.name for n in ast.walk(tree_) if isinstance(n, ast.ClassDef)]
        public_errors = [c for c in classes if c.endswith("Error") or c == "InvalidBundle"]
        assert path.stem == "errors" or not public_errors, f"{path} defines {public_errors}"
