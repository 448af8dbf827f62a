"""Whatever a server answers to a transaction or batch, the result is a PostResult or a clear
DeliveryError, never another exception (seeded mutations of a well-formed answer)."""

from __future__ import annotations

import copy
import random
from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.client import DeliveryError
from fhir_adapter.client import delivery as d
from fhir_adapter.client.plan import choose_strategy, plan

ODD: list[Any] = [
    None,
    1,
    1.5,
    True,
    "x",
    "201",
    "abc Created",
    "Patient/",
    "/_history/",
    [],
    [1],
    {},
    {"a": 1},
    {"resourceType": "OperationOutcome", "issue": 1},
    {"resourceType": "OperationOutcome", "issue": ["x", {"details": "y"}]},
]


def _answer(prepared: dict[str, Any]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [
            {
                "response": {
                    "status": "201 Created",
                    "location": f"{e['resource']['resourceType']}/s{i}/_history/1",
                    "etag": 'W/"1"',
                    "outcome": {
                        "resourceType": "OperationOutcome",
                        "issue": [{"severity": "information", "details": {"text": "ok"}}],
                    },
                },
                "resource": {"resourceType": "Patient", "id": f"s{i}", "meta": {"versionId": "1"}},
            }
            for i, e in enumerate(prepared["entry"])
        ],
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_mutated_answers_give_a_result_or_a_delivery_error(seed: int, json_paths: Any) -> None:
    rnd = random.Random(seed)
    steps = plan(convert("fixtures/t2dm-metformin.case.yaml"), "transaction", "put")
    prepared = steps.bundle()
    good = _answer(prepared)
    for i, e in enumerate(good["entry"]):  # PUTs: the server keeps the ids sent
        rid = prepared["entry"][i]["resource"]["id"]
        e["response"]["location"] = e["response"]["location"].replace(f"/s{i}/", f"/{rid}/")
        e["resource"]["id"] = rid
    ok = d.read_bundle_response("s", "POST s", 200, good, steps)
    assert ok.ok and [e.id for e in ok.entries] == [e["resource"]["id"] for e in prepared["entry"]]
    errors = 0
    for _ in range(400):
        body = copy.deepcopy(good)
        for _ in range(rnd.randint(1, 3)):
            path = rnd.choice(list(json_paths.walk(body)))
            json_paths.put(body, path, copy.deepcopy(rnd.choice(ODD)))
        status = rnd.choice([200, 200, 400, 500])
        try:
            result = d.read_bundle_response("s", "POST s", status, body, steps)
        except DeliveryError as err:
            assert "s: POST s" in str(err)
            errors += 1
            continue
        assert "entry" in result.to_table()
        for e in result.entries:
            assert e.id is None or isinstance(e.id, str)
            assert e.version is None or isinstance(e.version, str)
            assert isinstance(e.outcome_text(), str)
    assert errors > 0


def test_odd_capability_statements_never_crash_strategy_choice(json_paths: Any) -> None:
    from fhir_adapter.client import FhirClient

    from .test_client_unit import capability

    rnd = random.Random(5)
    bundle = convert("fixtures/t2dm-metformin.case.yaml")
    good = capability()
    chosen = set()
    for _ in range(300):
        cap = copy.deepcopy(good)
        for _ in range(rnd.randint(1, 2)):
            path = rnd.choice([p for p in json_paths.walk(cap) if len(p) < 6])
            json_paths.put(cap, path, copy.deepcopy(rnd.choice(ODD)))
        client = FhirClient("https://ehr.example/fhir")
        client._capabilities = cap
        assert isinstance(client.supports("transaction"), bool)
        for mode in ("transaction", "batch", "each"):
            try:
                chosen.add(choose_strategy(client, bundle, mode, "auto"))
            except DeliveryError as err:
                assert "re-posting could create duplicates" in str(err)
    assert chosen == {"put", "conditional-create"}
