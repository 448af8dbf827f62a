"""Against a real FHIR server started by the test suite: transaction, re-posts, batch, each."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import requests

from fhir_adapter import convert, post
from fhir_adapter.bundle import RESOURCE_TYPES
from fhir_adapter.client import FhirClient

pytestmark = pytest.mark.server


def count(base: str, rtype: str) -> int:
    """All resources of a type (no search parameter: the server ignores unknown ones)."""
    n, url = 0, f"{base}/{rtype}?_count=500"
    while url:
        b = requests.get(url, timeout=30).json()
        n += len(b.get("entry", []))
        url = next((link["url"] for link in b.get("link", []) if link["relation"] == "next"), None)
    return n


TYPES = RESOURCE_TYPES


def expected_counts(bundle: dict[str, Any]) -> dict[str, int]:
    out = dict.fromkeys(TYPES, 0)
    for e in bundle["entry"]:
        out[e["resource"]["resourceType"]] += 1
    return out


def test_transaction_resolves_references_and_reads_back_equal(fhir_server: str) -> None:
    result = post(None, fhir_server, verify_readback=True)
    assert result.ok, result.to_table()
    assert result.mode == "transaction" and len(result.entries) == 27
    assert all(e.id and e.version for e in result.entries)
    cond = next(e for e in result.entries if e.resource_type == "Condition")
    got = requests.get(f"{fhir_server}/Condition/{cond.id}", timeout=10).json()
    patient = next(e for e in result.entries if e.resource_type == "Patient")
    assert got["subject"]["reference"] in (
        f"Patient/{patient.id}",
        f"{fhir_server}/Patient/{patient.id}",
    )


def test_twenty_reposts_create_no_duplicates(fhir_server: str) -> None:
    bundle = convert()
    for _ in range(20):
        assert post(bundle, fhir_server).ok
    for mode in ("batch", "each"):
        assert post(bundle, fhir_server, mode=mode).ok
    assert post(bundle, fhir_server, mode="each", workers=4).ok
    want = expected_counts(bundle)
    assert {t: count(fhir_server, t) for t in TYPES} == want


def test_each_mode_rewrites_references_to_server_ids(fhir_server: str) -> None:
    result = post(
        convert("fixtures/t2dm-metformin.case.yaml"), fhir_server, mode="each", verify_readback=True
    )
    assert result.ok, result.to_table()
    ms = next(e for e in result.entries if e.resource_type == "MedicationStatement")
    got = requests.get(f"{fhir_server}/MedicationStatement/{ms.id}", timeout=10).json()
    cond = next(e for e in result.entries if e.resource_type == "Condition")
    assert got["reasonReference"][0]["reference"].endswith(f"Condition/{cond.id}")
    assert not got["reasonReference"][0]["reference"].startswith("urn:")


def test_each_mode_with_workers_handles_forward_references(fhir_server: str) -> None:
    bundle = convert("fixtures/t2dm-metformin.case.yaml")
    bundle["entry"].reverse()  # every resource now comes before the ones it references
    result = post(bundle, fhir_server, mode="each", workers=4, verify_readback=True)
    assert result.ok, result.to_table()
    assert [e.index for e in result.entries] == list(range(len(bundle["entry"])))
    assert all(not e.differences for e in result.entries)


def _with_new_identifiers(bundle: dict[str, Any]) -> dict[str, Any]:
    """The bundle with fresh business identifiers (and matching ifNoneExist), so conditional
    creates cannot match what earlier tests stored."""
    import uuid

    out = copy.deepcopy(bundle)
    for e in out["entry"]:
        ident = e["resource"]["identifier"][0]
        ident["value"] = f"urn:uuid:{uuid.uuid4()}"
        e["request"]["ifNoneExist"] = f"identifier={ident['system']}|{ident['value']}"
    return out


def test_conditional_create_against_the_real_server_creates_once(fhir_server: str) -> None:
    bundle = _with_new_identifiers(convert("fixtures/t2dm-metformin.case.yaml"))
    per_type = expected_counts(bundle)
    before = {t: count(fhir_server, t) for t in TYPES}
    first = post(bundle, fhir_server, strategy="conditional-create")
    assert first.ok and all(e.created for e in first.entries), first.to_table()
    server_ids = {e.id for e in first.entries}
    assert not server_ids & {ent["resource"]["id"] for ent in bundle["entry"]}  # server-assigned
    for mode in ("transaction", "each"):
        again = post(bundle, fhir_server, mode=mode, strategy="conditional-create", workers=1)
        assert again.ok and not any(e.created for e in again.entries), again.to_table()
        assert [e.id for e in again.entries] == [e.id for e in first.entries]  # matched, not new
    after = {t: count(fhir_server, t) for t in TYPES}
    assert {t: after[t] - before[t] for t in TYPES} == per_type


def test_batch_with_one_bad_entry_reports_it_and_keeps_the_rest(fhir_server: str) -> None:
    bundle = copy.deepcopy(convert("fixtures/t2dm-metformin.case.yaml"))
    bad = bundle["entry"][1]
    rtype = bad["resource"]["resourceType"]
    bad["request"] = {"method": "PUT", "url": f"{rtype}/another-id"}  # id differs: refused
    result = post(bundle, fhir_server, mode="batch", validate=False)
    statuses = [e.status for e in result.entries]
    assert not result.ok
    assert statuses[1] is not None and statuses[1] >= 400
    assert all(s is not None and 200 <= s < 300 for i, s in enumerate(statuses) if i != 1)


def test_capabilities_are_read_once(fhir_server: str) -> None:
    with FhirClient(fhir_server) as client:
        assert client.supports("transaction") and client.supports("batch")
        first = client.capabilities()
        assert client.capabilities() is first


@pytest.mark.internet
def test_public_hapi_transaction() -> None:
    assert post(None, "https://hapi.fhir.org/baseR4").ok
