"""``each`` mode and reference cycles (Encounter.diagnosis <-> Condition.encounter, Encounter.
reasonReference <-> Observation.encounter): a cycle is written in two phases, first without the
references that close it, then updated with the whole resource. Against a loopback store that
refuses a write naming a resource it does not hold (as HAPI does by default), with faults
injected into either phase; every fixture, both strategies."""

from __future__ import annotations

import copy
import glob
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from fhir_adapter import convert, load_case
from fhir_adapter import validate as validate_fhir
from fhir_adapter.cli import main
from fhir_adapter.client import ConfigError, DeliveryError, FhirClient, post
from fhir_adapter.client.order import each_order, first_write
from fhir_adapter.client.plan import plan
from fhir_adapter.client.tree import references
from fhir_adapter.testing import Answer, HostileServer, Seen
from fhir_adapter.testing import capability_statement as capability

FIXTURES = sorted(glob.glob("fixtures/*.case.yaml"))
DKA = "fixtures/euglycemic-dka-empagliflozin.case.yaml"
LITERAL = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})$")

#: How many resources each fixture writes twice (one per cycle-closing Encounter or Condition).
TWICE = {
    "covid-19-pneumonia-fatal": ["Encounter", "Encounter"],
    "dress-allopurinol-erosive-cheilitis": ["Condition"],
    "euglycemic-dka-empagliflozin": ["Encounter"],
    "spontaneous-renal-artery-dissection": ["Encounter"],
}

Fault = Callable[[Seen, int], "Answer | None"]


class Store:
    """An in-memory FHIR server for HostileServer: ``PUT Type/id`` (create or update), ``POST
    Type`` with ``If-None-Exist: identifier=system|value``, ``GET Type/id``, and ``batch``
    Bundles (``POST`` to the base: each entry as that request, the last entry first, as a server
    may process a batch in any order); a write whose literal references name a resource it does
    not hold is refused (400), as HAPI does. A ``fault(seen, n)`` (n: the how-manieth write of
    that path; 0 for a whole batch) may answer a request instead."""

    def __init__(self, caps: dict[str, Any] | None = None, fault: Fault | None = None) -> None:
        self.caps = caps or capability()
        self.fault = fault
        self.data: dict[str, dict[str, Any]] = {}  # "Type/id" -> resource
        self.writes: list[tuple[str, str, dict[str, Any]]] = []  # method, path, body
        self.counts: dict[str, int] = {}
        self.batches: list[list[dict[str, Any]]] = []  # the entries of each batch received

    def __call__(self, seen: Seen) -> Answer:
        path = seen.path.split("/fhir/", 1)[1] if "/fhir/" in seen.path else ""
        if path == "metadata":
            return Answer(200, body=self.caps)
        if path == "" and seen.method == "POST":
            return self._batch(seen)
        if seen.method == "GET":
            found = self.data.get(path)
            return Answer(200, body=found) if found else Answer(404, body=_outcome("not found"))
        body = json.loads(seen.body)
        key = path if seen.method == "PUT" else f"{path}?{seen.headers.get('If-None-Exist')}"
        self.counts[key] = self.counts.get(key, 0) + 1
        if self.fault is not None and (answer := self.fault(seen, self.counts[key])) is not None:
            return answer
        self.writes.append((seen.method, path, body))
        for ref in references(body):
            match = LITERAL.match(ref)
            if not match or ref not in self.data:
                return Answer(400, body=_outcome(f"Resource {ref} not found, specified in path"))
        if seen.method == "POST":
            criteria = seen.headers.get("If-None-Exist", "")
            system, _, value = criteria.removeprefix("identifier=").partition("|")
            same = [
                k
                for k, r in self.data.items()
                if k.startswith(f"{path}/")
                and any(
                    i.get("system") == system and i.get("value") == value
                    for i in r.get("identifier", [])
                )
            ]
            if same:
                return self._stored(200, same[0])
            path = f"{path}/srv-{uuid.uuid4().hex[:12]}"
            status = 201
        else:
            status = 200 if path in self.data else 201
        old = self.data.get(path, {}).get("meta", {}).get("versionId", "0")
        rid = path.split("/")[1]
        self.data[path] = {**body, "id": rid, "meta": {"versionId": str(int(old) + 1)}}
        return self._stored(status, path)

    def _batch(self, seen: Seen) -> Answer:
        bundle = json.loads(seen.body)
        if bundle.get("type") != "batch":
            return Answer(400, body=_outcome("this store processes batches only"))
        if self.fault is not None and (answer := self.fault(seen, 0)) is not None:
            return answer
        entries = bundle["entry"]
        self.batches.append(entries)
        answers: list[dict[str, Any]] = [{}] * len(entries)
        for i in reversed(range(len(entries))):
            request = entries[i]["request"]
            criteria = request.get("ifNoneExist")
            inner = Seen(
                request["method"],
                f"/fhir/{request['url']}",
                {"If-None-Exist": criteria} if criteria else {},
                json.dumps(entries[i]["resource"]).encode(),
                seen.at,
            )
            got = self(inner)
            response: dict[str, Any] = {"status": str(got.status)}
            if "Location" in got.headers:
                response["location"] = got.headers["Location"]
            body = got.body if isinstance(got.body, dict) else {}
            if body.get("resourceType") == "OperationOutcome":
                response["outcome"] = body
                answers[i] = {"response": response}
            else:
                answers[i] = {"response": response, **({"resource": body} if body else {})}
        return Answer(
            200, body={"resourceType": "Bundle", "type": "batch-response", "entry": answers}
        )

    def _stored(self, status: int, path: str) -> Answer:
        resource = self.data[path]
        version = resource["meta"]["versionId"]
        return Answer(status, headers={"Location": f"{path}/_history/{version}"}, body=resource)

    def of_type(self, rtype: str) -> list[dict[str, Any]]:
        return [r for k, r in self.data.items() if k.startswith(f"{rtype}/")]

    def dangling(self) -> list[str]:
        """References of stored resources that name nothing stored."""
        return [ref for r in self.data.values() for ref in references(r) if ref not in self.data]


def _outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "processing", "diagnostics": text}],
    }


def _bundle(path: str) -> dict[str, Any]:
    return convert(load_case(path))


def _post(store: Store, bundle: dict[str, Any], **kw: Any) -> Any:
    with HostileServer(store) as srv, FhirClient(srv.base, backoff=0.0) as c:
        return post(bundle, client=c, mode="each", **kw)


def _expected_types(bundle: dict[str, Any]) -> dict[str, int]:
    out: dict[str, int] = {}
    for e in bundle["entry"]:
        out[e["resource"]["resourceType"]] = out.get(e["resource"]["resourceType"], 0) + 1
    return out


def _stored_types(store: Store) -> dict[str, int]:
    out: dict[str, int] = {}
    for k in store.data:
        out[k.split("/")[0]] = out.get(k.split("/")[0], 0) + 1
    return out


# -- the order ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.split("/")[1].split(".")[0])
def test_every_fixture_has_an_order_in_which_cycles_cost_one_update_each(path: str) -> None:
    steps = plan(_bundle(path), "each", "put").steps
    order = each_order(steps)
    assert not order.stuck
    assert sorted(i for r in order.rounds() for i in r) == list(range(len(steps)))
    name = path.split("/")[1].split(".")[0]
    assert [steps[i].resource_type for i in order.two_phase] == TWICE.get(name, [])
    for i, s in enumerate(steps):  # a first write omits only references to later entries
        kept = set(references(first_write(s.body, [steps[d].full_url for d in order.deferred[i]])))
        assert not kept & {steps[d].full_url for d in order.deferred[i]}
        assert {steps[d].full_url for d in order.waits(i)} <= kept


@pytest.mark.parametrize("path", [p for p in FIXTURES if p.split("/")[1].split(".")[0] in TWICE])
def test_first_writes_are_valid_resources_that_keep_their_identity(path: str) -> None:
    steps = plan(_bundle(path), "each", "conditional-create").steps
    order = each_order(steps)
    for i in order.two_phase:
        body = first_write(steps[i].body, [steps[d].full_url for d in order.deferred[i]])
        assert body["identifier"] == steps[i].body["identifier"]  # conditional create matches
        assert body["subject"] == steps[i].body["subject"]  # only cycle references go
        report = validate_fhir(body)
        assert report.ok, report.to_text()


def _hard_cycle() -> dict[str, Any]:
    """The small case with a second Condition; the two name each other as ``subject``."""
    bundle = _bundle("fixtures/t2dm-metformin.case.yaml")
    conditions = [e for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"]
    a = conditions[0]
    b = copy.deepcopy(a)
    b["resource"]["id"] = str(uuid.uuid4())
    b["fullUrl"] = f"urn:uuid:{b['resource']['id']}"
    b["request"] = {"method": "PUT", "url": f"Condition/{b['resource']['id']}"}
    a["resource"]["subject"] = {"reference": b["fullUrl"]}  # subject is 1..1: never left out
    b["resource"]["subject"] = {"reference": a["fullUrl"]}
    bundle["entry"].append(b)
    return bundle


def test_a_cycle_through_required_elements_is_refused_before_sending() -> None:
    bundle = _hard_cycle()
    store = Store()
    with pytest.raises(ConfigError, match=r"cycle that runs only through.*Condition\.subject"):
        _post(store, bundle, validate=False)
    assert store.writes == []


# -- posting every fixture ------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["put", "conditional-create"])
@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.split("/")[1].split(".")[0])
def test_every_fixture_posts_completely_on_a_server_checking_references(
    path: str, strategy: str
) -> None:
    bundle = _bundle(path)
    store = Store()
    first = _post(store, bundle, strategy=strategy, workers=4)
    assert first.ok, first.to_table()
    twice = len(TWICE.get(path.split("/")[1].split(".")[0], []))
    assert len(store.writes) == len(bundle["entry"]) + twice
    again = _post(store, bundle, strategy=strategy, verify_readback=True)
    assert again.ok, again.to_table()
    assert [e.id for e in again.entries] == [e.id for e in first.entries]
    assert _stored_types(store) == _expected_types(bundle)  # one copy of each
    assert store.dangling() == []
    if strategy == "conditional-create":
        assert not any(e.created for e in again.entries)


@pytest.mark.parametrize("strategy", ["put", "conditional-create"])
def test_twenty_reposts_of_a_case_with_cycles_leave_one_copy(strategy: str) -> None:
    bundle = _bundle("fixtures/covid-19-pneumonia-fatal.case.yaml")
    store = Store()
    with HostileServer(store) as srv, FhirClient(srv.base) as c:
        for n in range(20):
            result = post(bundle, client=c, mode="each", strategy=strategy, workers=1 + n % 4)
            assert result.ok, result.to_table()
    assert _stored_types(store) == _expected_types(bundle)
    assert store.dangling() == []
    encounter = next(e for e in bundle["entry"] if e["resource"]["resourceType"] == "Encounter")
    stored = next(
        r
        for r in store.of_type("Encounter")
        if r["identifier"] == encounter["resource"]["identifier"]
    )
    assert len(stored["reasonReference"]) == len(encounter["resource"]["reasonReference"])


# -- when the second phase fails ------------------------------------------------------------------


def _update_of(rtype: str, answer: Answer) -> Fault:
    """Answer every update of a ``rtype`` written in two phases (the write that carries the
    references its first write left out: ``diagnosis``) with ``answer``."""

    def fault(seen: Seen, n: int) -> Answer | None:
        update = seen.method == "PUT" and b'"diagnosis"' in seen.body
        return answer if update and f"/{rtype}/" in seen.path else None

    return fault


@pytest.mark.parametrize("strategy", ["put", "conditional-create"])
def test_a_failed_update_names_what_is_incomplete_and_a_repost_completes_it(
    strategy: str, tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = _bundle(DKA)
    refused = Answer(422, body=_outcome("business rule: nope"))
    store = Store(fault=_update_of("Encounter", refused))
    result = _post(store, bundle, strategy=strategy)
    assert not result.ok
    bad = [e for e in result.entries if not e.ok]
    assert [e.resource_type for e in bad] == ["Encounter"]
    encounter = bad[0]
    assert encounter.id and encounter.incomplete and encounter.deferred
    for d in encounter.deferred:
        assert f"{d} ({result.entries[d].resource_type})" in encounter.incomplete
    assert "HTTP 422" in encounter.incomplete and "business rule: nope" in encounter.incomplete
    assert "post the bundle again" in encounter.incomplete
    table = result.to_table()
    assert "29 ok, 0 failed, 1 written without their references" in table
    stored = store.data[f"Encounter/{encounter.id}"]
    assert "diagnosis" not in stored and "reasonReference" not in stored  # as the table says

    path = tmp_path / "dka.json"
    path.write_text(json.dumps(bundle))
    with HostileServer(store) as srv:
        args = ["post", str(path), "--server", srv.base, "--mode", "each", "--strategy", strategy]
        assert main(args) == 1
        out = capsys.readouterr().out
        assert "written without its references to entries" in out
        store.fault = None  # the server accepts updates again: a re-post completes it
        assert main([*args, "--verify"]) == 0
    assert _stored_types(store) == _expected_types(bundle)
    stored = store.data[f"Encounter/{encounter.id}"]
    assert len(stored["diagnosis"]) == len(bundle["entry"][13]["resource"]["diagnosis"])
    assert store.dangling() == []


def test_an_error_during_the_updates_stops_the_post_and_names_the_incomplete() -> None:
    html = Answer(200, headers={"Content-Type": "text/html"}, body="<html>gateway</html>")
    store = Store(fault=_update_of("Encounter", html))
    with pytest.raises(DeliveryError, match="HTML page") as caught:
        _post(store, _bundle(DKA), strategy="put")
    partial = caught.value.partial
    incomplete = [e for e in partial.entries if e.incomplete]
    assert [e.resource_type for e in incomplete] == ["Encounter"]
    assert "the update that adds them failed" in incomplete[0].incomplete
    assert sum(e.ok for e in partial.entries) == len(partial.entries) - 1
    assert "written without their references" in partial.to_table()


def test_an_update_is_retried_like_any_request() -> None:
    busy = Answer(503, headers={"Retry-After": "0"}, body=_outcome("busy"))
    once: list[int] = []

    def fault(seen: Seen, n: int) -> Answer | None:
        if seen.method == "PUT" and b'"diagnosis"' in seen.body and not once:
            once.append(1)
            return busy
        return None

    store = Store(fault=fault)
    result = _post(store, _bundle(DKA), strategy="put")
    assert result.ok and once, result.to_table()


def test_an_update_answered_for_another_id_is_not_trusted() -> None:
    def fault(seen: Seen, n: int) -> Answer | None:
        if seen.method == "PUT" and b'"diagnosis"' in seen.body:
            return Answer(200, headers={"Location": "Encounter/someone-else/_history/2"})
        return None

    result = _post(Store(fault=fault), _bundle(DKA), strategy="put")
    encounter = next(e for e in result.entries if e.resource_type == "Encounter")
    assert not result.ok and "answered id someone-else" in (encounter.incomplete or "")


def test_when_a_deferred_target_fails_the_update_is_not_sent() -> None:
    bundle = _bundle(DKA)
    encounter = bundle["entry"][13]["resource"]
    target = encounter["diagnosis"][0]["condition"]["reference"].removeprefix("urn:uuid:")

    def fault(seen: Seen, n: int) -> Answer | None:
        return Answer(422, body=_outcome("no")) if seen.path.endswith(target) else None

    store = Store(fault=fault)
    result = _post(store, bundle, strategy="put")
    row = result.entries[13]
    assert row.resource_type == "Encounter" and row.id
    assert "not updated, as entries 12 (Condition) were not created" in (row.incomplete or "")
    assert sum(1 for m, p, _ in store.writes if p == f"Encounter/{row.id}") == 1


# -- telling the user -----------------------------------------------------------------------------


def test_dry_run_shows_the_two_phases(capsys: pytest.CaptureFixture[str]) -> None:
    for strategy, update in (
        ("put", "PUT Encounter/"),
        ("conditional-create", "PUT Encounter/<id the server gives entry 13>"),
    ):
        args = ["post", DKA, "--mode", "each", "--dry-run", "--strategy", strategy]
        assert main([*args, "--server", "http://127.0.0.1:9/fhir"]) == 0
        out = capsys.readouterr().out.splitlines()
        first = out.index("first writes, each after the entries it references:")
        then = next(
            i
            for i, line in enumerate(out)
            if line.startswith("then, once every entry has been written, the updates")
        )
        assert ("written once, whole" in out[then]) == (strategy == "put")
        writes = out[first + 1 : then]
        assert len(writes) == 30
        encounter = next(
            i for i, line in enumerate(writes) if "(entry 13: first write without" in line
        )
        conditions = [i for i, line in enumerate(writes) if " Condition" in line]
        assert all(i > encounter for i in conditions)  # they refer to it: written after it
        assert out[then + 1].strip().startswith(update) and out[then + 1].endswith(
            "(entry 13: the whole resource)"
        )


def test_a_server_declaring_no_update_is_refused_before_sending() -> None:
    caps = capability(update_create=False)
    for r in caps["rest"][0]["resource"]:
        r["interaction"] = [{"code": "create"}, {"code": "read"}]
    store = Store(caps=caps)
    with pytest.raises(DeliveryError, match="declares no update for Encounter"):
        _post(store, _bundle(DKA), strategy="conditional-create")
    assert store.writes == []
    result = _post(Store(), _bundle(DKA), strategy="conditional-create")
    assert any("1 of 30 entries (Encounter) are in reference cycles" in n for n in result.notes)


def test_a_first_write_keeps_the_identifier_conditional_create_matches_on() -> None:
    """An Encounter whose identifier names a Condition of its cycle (its assigner, for the
    test's sake) keeps the identifier in its first write: the cycle is broken elsewhere, and
    re-posts match instead of creating a second copy."""
    bundle = _bundle(DKA)
    encounter = bundle["entry"][13]["resource"]
    condition = bundle["entry"][12]
    encounter["identifier"][0]["assigner"] = {"reference": condition["fullUrl"]}
    store = Store()
    for _ in range(2):
        result = _post(store, bundle, strategy="conditional-create", validate=False)
        assert result.ok, result.to_table()
    assert _stored_types(store) == _expected_types(bundle)  # one copy of each
    first = next(b for m, p, b in store.writes if m == "POST" and p == "Encounter")
    assert [i["value"] for i in first["identifier"]] == [
        i["value"] for i in encounter["identifier"]
    ]
    assert 12 not in result.entries[13].deferred


def test_send_each_given_a_hard_cycle_anyway_sends_the_rest_and_names_the_cycle() -> None:
    from fhir_adapter.client.delivery import send_each

    bundle = _hard_cycle()
    steps = plan(bundle, "transaction", "put")  # plan() refuses it in each mode
    steps.mode = "each"
    store = Store()
    with HostileServer(store) as srv, FhirClient(srv.base) as c:
        result = send_each(c, steps)
    cycle = [e for e in result.entries if "reference cycle" in e.outcome_text()]
    conditions = [
        i for i, e in enumerate(bundle["entry"]) if e["resource"]["resourceType"] == "Condition"
    ]
    assert [e.index for e in cycle] == conditions
    assert all(e.not_sent for e in cycle)
    assert "Condition.subject" in cycle[0].outcome_text()
    waiting = [e for e in result.entries if "were not created" in e.outcome_text()]
    assert waiting and all(e.not_sent for e in waiting)
    assert result.entries[0].ok  # the patient
    assert len(store.writes) == sum(e.ok for e in result.entries)


def test_a_foreign_bundle_with_a_cycle_is_completed_with_the_ids_the_server_gave() -> None:
    """Entries made elsewhere (plain POSTs, sent as written): the update names the id the
    server assigned to the first write, and every reference resolves."""
    bundle = _bundle(DKA)
    for e in bundle["entry"]:
        e["request"] = {"method": "POST", "url": e["resource"]["resourceType"]}
    store = Store()
    result = _post(store, bundle, validate=False, verify_readback=True)
    assert result.ok and result.strategy == "as written", result.to_table()
    assert any("plain POSTs" in w for w in result.warnings)
    encounter = result.entries[13]
    assert encounter.deferred and encounter.id and encounter.id.startswith("srv-")
    updates = [(m, p) for m, p, b in store.writes if m == "PUT"]
    assert updates == [("PUT", f"Encounter/{encounter.id}")]
    assert len(store.data) == len(bundle["entry"]) and store.dangling() == []


@pytest.mark.parametrize("strategy", ["put", "conditional-create"])
def test_a_repost_never_writes_a_complete_resource_without_its_references(strategy: str) -> None:
    """Under put, a resource the server already holds with all its references is written once,
    whole (no version without them); under conditional create the first write matches and
    changes nothing. Either way every stored version of the Encounter after the first post has
    its diagnoses."""
    bundle = _bundle(DKA)
    store = Store()
    assert _post(store, bundle, strategy=strategy).ok
    store.writes.clear()
    again = _post(store, bundle, strategy=strategy, verify_readback=True)
    assert again.ok, again.to_table()
    encounter = [b for m, p, b in store.writes if p.startswith("Encounter")]
    if strategy == "put":
        assert len(store.writes) == len(bundle["entry"])  # each once
        assert len(encounter) == 1 and "diagnosis" in encounter[0]
        assert not again.entries[13].deferred
    else:  # the POST matches (nothing written), then the update
        assert [("diagnosis" in b) for b in encounter] == [False, True]
        assert again.entries[13].status == 200 and not again.entries[13].created


def test_progress_ends_at_its_total_with_and_without_updates() -> None:
    bundle = _bundle(DKA)
    store = Store()
    ticks: list[tuple[int, int]] = []
    for n in (1, 2):  # the first post updates the Encounter, the re-post writes it whole
        assert _post(store, bundle, strategy="put", progress=lambda d, t: ticks.append((d, t))).ok
        assert ticks[-1] == (31, 31) and len(ticks) == 31 * n
