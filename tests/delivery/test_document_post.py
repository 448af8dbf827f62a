"""Posting a document Bundle (an IPS): stored as one Bundle resource, never processed as a
transaction, idempotent on re-post, and said so."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from fhir_adapter import convert
from fhir_adapter import post as post_case
from fhir_adapter.cli import main
from fhir_adapter.client import ConfigError, DeliveryError, FhirClient, post
from fhir_adapter.client.plan import DOCUMENT_NOTE
from fhir_adapter.testing import Answer, HostileServer, Seen
from fhir_adapter.testing import capability_statement as capability

SMALL = "fixtures/t2dm-metformin.case.yaml"


@pytest.fixture
def document(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1715644800")
    return convert(SMALL, profile="ips")


def _store(caps: dict[str, Any]) -> Any:
    """A server that stores whatever is PUT or POSTed (201, or 200 when it has it)."""
    stored: dict[str, Any] = {}

    def script(seen: Seen) -> Answer:
        if seen.path.endswith("/metadata"):
            return Answer(200, body=caps)
        path = seen.path.split("/fhir/", 1)[1]
        if seen.method == "GET":
            return Answer(200, body=stored[path])
        body = json.loads(seen.body or b"{}")
        rid = path.split("/")[1] if seen.method == "PUT" else "srv-1"
        key = f"Bundle/{rid}"
        status = 200 if key in stored else 201
        stored[key] = {**body, "id": rid}
        return Answer(status, headers={"Location": f"{key}/_history/1"}, body=stored[key])

    return script


def _writes(srv: HostileServer) -> list[Seen]:
    return [r for r in srv.requests if r.method != "GET"]


def test_a_document_is_put_as_one_bundle_resource(document: dict[str, Any]) -> None:
    with HostileServer(_store(capability(types=("Bundle",)))) as srv, FhirClient(srv.base) as c:
        result = post(document, client=c)  # mode transaction by default: not used for documents
        assert result.ok, result.to_table()
        assert result.notes[0] == DOCUMENT_NOTE and "strategy" in result.notes[-1]
        (write,) = _writes(srv)
        assert write.method == "PUT" and write.path.endswith(f"/Bundle/{document['id']}")
        assert json.loads(write.body) == document  # sent whole, references untouched
        assert [(e.resource_type, e.id) for e in result.entries] == [("Bundle", document["id"])]
        again = post(document, client=c, mode="each", verify_readback=True)
        assert again.ok and not again.entries[0].created and not again.entries[0].differences
        assert [w.path for w in _writes(srv)] == [write.path] * 2


def test_conditional_create_uses_the_bundle_identifier(document: dict[str, Any]) -> None:
    caps = capability(update_create=False, types=("Bundle",))
    with HostileServer(_store(caps)) as srv, FhirClient(srv.base) as c:
        assert post(document, client=c).ok
        (write,) = _writes(srv)
        ident = document["identifier"]
        assert write.method == "POST" and write.path.endswith("/Bundle")
        assert write.headers["If-None-Exist"] == f"identifier={ident['system']}|{ident['value']}"


def test_a_server_that_cannot_store_it_idempotently_gets_nothing(
    document: dict[str, Any],
) -> None:
    caps = capability(update_create=False, conditional=False, types=("Bundle",))
    with HostileServer(_store(caps)) as srv, FhirClient(srv.base) as c:
        with pytest.raises(DeliveryError, match="second copy"):
            post(document, client=c)
        assert _writes(srv) == []


def test_a_document_without_id_or_identifier_is_refused(document: dict[str, Any]) -> None:
    bare = {k: v for k, v in document.items() if k not in ("id", "identifier")}
    with pytest.raises(ConfigError, match="needs an id or an identifier"):
        post(bare, server="http://127.0.0.1:9/fhir", validate=False)


def test_post_a_case_in_ips_mode(document: dict[str, Any]) -> None:
    with HostileServer(_store(capability(types=("Bundle",)))) as srv, FhirClient(srv.base) as c:
        assert post_case(SMALL, client=c, profile="ips").ok
        (write,) = _writes(srv)
        assert json.loads(write.body) == document


def test_cli_says_how_a_document_is_sent(
    document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["post", SMALL, "--profile", "ips", "--dry-run", "--server", "https://ehr.example/fhir"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert f"note: {DOCUMENT_NOTE}" in out
    assert f"PUT Bundle/{document['id']}" in out
    with HostileServer(_store(capability(types=("Bundle",)))) as srv:
        assert main(["post", SMALL, "--profile", "ips", "--server", srv.base]) == 0
        captured = capsys.readouterr()
        assert DOCUMENT_NOTE in captured.err and "Bundle" in captured.out


def test_cli_profile_applies_to_case_files_only(
    tmp_path: Any, document: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ips.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    args = ["post", str(path), "--profile", "ips", "--dry-run", "--server", "https://x.example"]
    assert main(args) == 2
    assert "profile mode applies to case files" in capsys.readouterr().err
    assert main(args[:2] + args[4:]) == 0  # the document file itself posts as written


@pytest.mark.server
def test_a_real_server_stores_the_document_once(fhir_server: str, document: dict[str, Any]) -> None:
    before = requests.get(f"{fhir_server}/Patient?_summary=count", timeout=10).json()["total"]
    for _ in range(3):
        result = post(document, fhir_server, verify_readback=True)
        assert result.ok, result.to_table()
        assert not result.entries[0].differences
    got = requests.get(f"{fhir_server}/Bundle/{document['id']}", timeout=10).json()
    assert got["type"] == "document" and len(got["entry"]) == len(document["entry"])
    ident = document["identifier"]
    found = requests.get(
        f"{fhir_server}/Bundle",
        params={"identifier": f"{ident['system']}|{ident['value']}"},
        timeout=10,
    ).json()
    assert found["total"] == 1
    # the document's entries were not created as resources
    after = requests.get(f"{fhir_server}/Patient?_summary=count", timeout=10).json()["total"]
    assert after == before


def test_posting_a_case_in_a_profile_mode_validates_it_against_the_ig(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the CLI does: a case converted in a profile mode is checked against that mode's IG
    before anything is sent, not against base R4 only."""
    from fhir_adapter.client import InvalidBundle
    from fhir_adapter.profiled import adjust

    # break the mode: the US Core Patient loses its data-absent name (valid base R4 still)
    monkeypatch.setattr(adjust, "mark_unknown", lambda r, claim, unknown_code=None: [])
    with HostileServer(_store(capability())) as srv, FhirClient(srv.base) as c:
        with pytest.raises(InvalidBundle, match="us-core-patient"):
            post_case(SMALL, client=c, profile="us-core")
        assert _writes(srv) == []


def test_dry_run_of_a_document_without_id_plans_a_conditional_create(
    document: dict[str, Any], tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ips.json"
    path.write_text(json.dumps({k: v for k, v in document.items() if k != "id"}))
    args = ["post", str(path), "--dry-run", "--server", "https://ehr.example/fhir"]
    assert main(args) == 0
    out = capsys.readouterr().out
    ident = document["identifier"]
    assert f"POST Bundle  If-None-Exist: identifier={ident['system']}|{ident['value']}" in out


def test_a_profile_mode_is_refused_for_a_bundle_given_as_a_dict(document: dict[str, Any]) -> None:
    """A Bundle is sent as written: a profile mode could only be ignored silently."""
    from fhir_adapter.errors import InputError

    with pytest.raises(InputError, match="a profile mode applies to case files"):
        post_case(document, server="http://127.0.0.1:9/fhir", profile="ips")
