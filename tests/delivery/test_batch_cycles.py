"""``batch`` mode against a server that checks references on write and processes a batch's
entries in any order (the loopback store of test_cycles answers the last entry first): the
entries go in batches by dependency layer, reference cycles in two phases (first writes without
the cycle-closing references, then a batch of updates). Every fixture; faults in either phase."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests

from fhir_adapter.cli import main
from fhir_adapter.client import DeliveryError, FhirClient, post
from fhir_adapter.client.plan import plan
from fhir_adapter.client.tree import references
from fhir_adapter.testing import Answer, HostileServer, Seen
from fhir_adapter.testing import capability_statement as capability

from .test_cycles import (
    DKA,
    FIXTURES,
    TWICE,
    Store,
    _bundle,
    _expected_types,
    _outcome,
    _stored_types,
    _update_of,
)


def _post(store: Store, bundle: dict[str, Any], **kw: Any) -> Any:
    with HostileServer(store) as srv, FhirClient(srv.base, backoff=0.0) as c:
        return post(bundle, client=c, mode="batch", **kw)


def _name(path: str) -> str:
    return path.split("/")[1].split(".")[0]


@pytest.mark.parametrize("path", FIXTURES, ids=_name)
def test_every_fixture_posts_completely_in_batch_mode_on_a_server_checking_references(
    path: str,
) -> None:
    bundle = _bundle(path)
    order = plan(bundle, "batch", "put").order
    assert order is not None
    store = Store()
    first = _post(store, bundle, strategy="put")
    assert first.ok, first.to_table()
    twice = len(TWICE.get(_name(path), []))
    assert len(store.batches) == len(order.rounds()) + (1 if twice else 0)
    assert len(store.writes) == len(bundle["entry"]) + twice
    for entries in store.batches[: len(order.rounds())]:  # first writes: none names another
        own = {e["request"]["url"] for e in entries}
        assert not own & {r for e in entries for r in references(e["resource"])}
    again = _post(store, bundle, strategy="put", verify_readback=True)
    assert again.ok, again.to_table()
    assert [e.id for e in again.entries] == [e.id for e in first.entries]
    assert len(store.writes) == 2 * len(bundle["entry"]) + twice  # a re-post: each once
    assert _stored_types(store) == _expected_types(bundle)  # one copy of each
    assert store.dangling() == []


def test_one_batch_of_every_entry_is_refused_by_such_a_server() -> None:
    """Why batches go in layers: the store processes a batch's entries in another order than
    the bundle's, so in one batch the entries naming others fail."""
    bundle = plan(_bundle(DKA), "batch", "put").bundle()
    store = Store()
    with HostileServer(store) as srv:
        answer = requests.post(srv.base, json=bundle, timeout=10).json()
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses[0] == "201" and statuses[1:] == ["400"] * (len(statuses) - 1)  # the Patient


def test_ten_reposts_of_a_case_with_cycles_leave_one_copy() -> None:
    bundle = _bundle("fixtures/covid-19-pneumonia-fatal.case.yaml")
    store = Store()
    with HostileServer(store) as srv, FhirClient(srv.base) as c:
        for _ in range(10):
            result = post(bundle, client=c, mode="batch", strategy="put", validate=False)
            assert result.ok, result.to_table()
    assert _stored_types(store) == _expected_types(bundle)
    assert store.dangling() == []
    for e in bundle["entry"]:
        if e["resource"]["resourceType"] == "Encounter":  # each holds all its references
            stored = store.data[f"Encounter/{e['resource']['id']}"]
            assert len(list(references(stored))) == len(list(references(e["resource"])))


def test_a_repost_writes_a_complete_resource_once_whole() -> None:
    bundle = _bundle(DKA)
    store = Store()
    assert _post(store, bundle, strategy="put").ok
    store.writes.clear()
    store.batches.clear()
    again = _post(store, bundle, strategy="put")
    assert again.ok, again.to_table()
    encounter = [b for m, p, b in store.writes if p.startswith("Encounter")]
    assert len(encounter) == 1 and "diagnosis" in encounter[0]
    assert not again.entries[13].deferred
    assert len(store.batches) == len(plan(bundle, "batch", "put").order.rounds())  # type: ignore[union-attr]


def test_a_failed_update_names_what_is_incomplete_and_a_repost_completes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundle(DKA)
    store = Store(fault=_update_of("Encounter", Answer(422, body=_outcome("business rule: no"))))
    result = _post(store, bundle, strategy="put")
    assert not result.ok
    bad = [e for e in result.entries if not e.ok]
    assert [(e.index, e.resource_type) for e in bad] == [(13, "Encounter")]
    encounter = bad[0]
    assert encounter.id and encounter.deferred and encounter.incomplete
    assert "HTTP 422" in encounter.incomplete and "business rule: no" in encounter.incomplete
    assert "post the bundle again" in encounter.incomplete
    assert "29 ok, 0 failed, 1 written without their references" in result.to_table()
    assert "diagnosis" not in store.data[f"Encounter/{encounter.id}"]

    path = tmp_path / "dka.json"
    path.write_text(json.dumps(bundle))
    with HostileServer(store) as srv:
        args = ["post", str(path), "--server", srv.base, "--mode", "batch", "--strategy", "put"]
        assert main(args) == 1
        assert "written without its references to entries" in capsys.readouterr().out
        store.fault = None  # the server accepts the update again: a re-post completes it
        assert main([*args, "--verify"]) == 0
    stored = store.data[f"Encounter/{encounter.id}"]
    assert len(stored["diagnosis"]) == len(bundle["entry"][13]["resource"]["diagnosis"])
    assert _stored_types(store) == _expected_types(bundle) and store.dangling() == []


def test_an_error_on_the_update_batch_stops_the_post_and_names_the_incomplete() -> None:
    html = Answer(200, headers={"Content-Type": "text/html"}, body="<html>gateway</html>")

    def fault(seen: Seen, n: int) -> Answer | None:
        entries = json.loads(seen.body)["entry"] if n == 0 else []
        updates = entries and all("diagnosis" in e["resource"] for e in entries)
        return html if updates else None

    store = Store(fault=fault)
    with pytest.raises(DeliveryError, match="HTML page") as caught:
        _post(store, _bundle(DKA), strategy="put")
    partial = caught.value.partial
    assert partial is not None
    incomplete = [e for e in partial.entries if e.incomplete]
    assert [e.index for e in incomplete] == [13]
    assert "the update that adds them failed" in (incomplete[0].incomplete or "")
    assert sum(e.ok for e in partial.entries) == len(partial.entries) - 1


def test_an_error_on_a_layer_stops_the_post_and_names_what_was_not_sent() -> None:
    bad = Answer(200, body={"resourceType": "Bundle", "type": "batch-response", "entry": []})

    def fault(seen: Seen, n: int) -> Answer | None:
        return bad if n == 0 and len(json.loads(seen.body)["entry"]) == 8 else None  # batch 3

    store = Store(fault=fault)
    with pytest.raises(DeliveryError, match="0 entries for 8 sent") as caught:
        _post(store, _bundle(DKA), strategy="put")
    partial = caught.value.partial
    assert partial is not None and len(partial.entries) == 30
    assert sum(e.ok for e in partial.entries) == 17  # batches 1 and 2, less the Encounter
    assert [e.index for e in partial.entries if e.incomplete] == [13]
    assert sum(e.not_sent for e in partial.entries) == 12
    assert "stopped first" in (partial.entries[13].incomplete or "")


def test_entries_naming_a_failed_entry_are_not_sent() -> None:
    bundle = _bundle(DKA)
    target = bundle["entry"][12]["resource"]["id"]  # the Condition the Encounter names

    def fault(seen: Seen, n: int) -> Answer | None:
        return Answer(422, body=_outcome("no")) if seen.path.endswith(target) else None

    store = Store(fault=fault)
    result = _post(store, bundle, strategy="put")
    row = result.entries[13]
    assert row.id and "not updated, as entries 12 (Condition) were not created" in (
        row.incomplete or ""
    )
    waiting = [e for e in result.entries if e.not_sent]
    assert waiting and all("12 (Condition)" in e.outcome_text() for e in waiting)
    assert not any(url.startswith("Encounter/") for url in _urls(store.batches[-1])[1:])
    patient = Answer(422, body=_outcome("no patient"))
    store = Store(fault=lambda seen, n: patient if "/Patient/" in seen.path else None)
    result = _post(store, bundle, strategy="put")
    assert len(store.batches) == 1 and store.data == {}
    assert "0 ok, 1 failed, 29 not sent" in result.to_table()


def _urls(entries: list[dict[str, Any]]) -> list[str]:
    return [e["request"]["url"] for e in entries]


def test_dry_run_shows_the_batches(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["post", DKA, "--mode", "batch", "--dry-run", "--strategy", "put"]
    assert main([*args, "--server", "http://127.0.0.1:9/fhir"]) == 0
    out = capsys.readouterr().out
    assert "sent as 5 batches, each entry after those it references" in out
    assert "(batch 1 of 6: 1 entry)" in out and "(batch 6 of 6: the updates" in out
    lines = out.splitlines()
    batch_of = {}
    n = 0
    for line in lines:
        if "(batch " in line:
            n += 1
        elif line.startswith("    PUT "):
            batch_of.setdefault(line.split()[1], n)
    encounter = next(line for line in lines if "(entry 13: first write without" in line)
    assert batch_of[encounter.split()[1]] == 2
    condition = plan(_bundle(DKA), "batch", "put").steps[12].url  # in the Encounter's cycle
    assert condition.startswith("Condition/") and batch_of[condition] > 2


def test_a_bundle_without_references_between_entries_is_one_batch() -> None:
    bundle = _bundle(DKA)
    bundle["entry"] = bundle["entry"][:1]
    store = Store()
    assert _post(store, bundle, strategy="put").ok
    assert len(store.batches) == 1


def test_a_server_declaring_no_update_is_refused_before_sending_a_batch() -> None:
    caps = capability()
    for r in caps["rest"][0]["resource"]:
        r["interaction"] = [{"code": "create"}, {"code": "read"}]
    store = Store(caps=caps)
    with pytest.raises(DeliveryError, match="which batch mode writes in two"):
        _post(store, _bundle(DKA), strategy="put")
    assert store.writes == [] and store.batches == []
