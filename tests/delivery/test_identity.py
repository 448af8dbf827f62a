"""Business identifiers survive servers that rewrite a transaction's fullUrls (defect 1)."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import responses

from fhir_adapter import convert
from fhir_adapter.client import FhirClient, post
from fhir_adapter.testing import capability_statement

BASE = "https://medplum-like.example/fhir/R4"


def _rewrite(node: Any, ids: dict[str, str]) -> Any:
    """Medplum's transaction rule: every string equal to or containing an entry's fullUrl
    becomes ``Type/<server id>``; a string equal to the bare id becomes the server id."""
    if isinstance(node, dict):
        return {k: _rewrite(v, ids) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, ids) for v in node]
    if isinstance(node, str):
        for full, ref in ids.items():
            if node == full.removeprefix("urn:uuid:"):
                return ref.split("/")[1]
            node = node.replace(full, ref)
    return node


class MedplumLike:
    """An in-memory transaction endpoint with conditional create that rewrites fullUrls as
    Medplum's transaction processor does."""

    def __init__(self) -> None:
        self.store: list[dict[str, Any]] = []

    def capability(self) -> dict[str, Any]:
        return capability_statement(update_create=False)

    def _match(self, rtype: str, criteria: str) -> list[dict[str, Any]]:
        system, value = criteria.removeprefix("identifier=").split("|", 1)
        return [
            r
            for r in self.store
            if r["resourceType"] == rtype
            and {"system": system, "value": value} in r.get("identifier", [])
        ]

    def transaction(self, request: Any) -> tuple[int, dict[str, str], str]:
        bundle = json.loads(request.body)
        ids: dict[str, str] = {}
        matched: dict[int, dict[str, Any]] = {}
        for i, e in enumerate(bundle["entry"]):
            rtype = e["resource"]["resourceType"]
            found = self._match(rtype, e["request"]["ifNoneExist"])
            if found:
                matched[i] = found[0]
            sid = found[0]["id"] if found else str(uuid.uuid4())
            ids[e["fullUrl"]] = f"{rtype}/{sid}"
        answers = []
        for i, e in enumerate(_rewrite(bundle["entry"], ids)):
            if i in matched:
                answers.append(
                    {
                        "response": {
                            "status": "200 OK",
                            "location": ids[bundle["entry"][i]["fullUrl"]],
                        }
                    }
                )
                continue
            r = dict(e["resource"], id=ids[bundle["entry"][i]["fullUrl"]].split("/")[1])
            self.store.append(r)
            answers.append(
                {
                    "response": {
                        "status": "201 Created",
                        "location": f"{r['resourceType']}/{r['id']}",
                    }
                }
            )
        answer = {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(answer)


@responses.activate
def test_conditional_create_reposts_leave_one_copy_on_a_fullurl_rewriting_server() -> None:
    server = MedplumLike()
    responses.get(f"{BASE}/metadata", json=server.capability())
    responses.add_callback(responses.POST, BASE, callback=server.transaction)
    bundle = convert("fixtures/t2dm-metformin.case.yaml")
    for _ in range(3):
        with FhirClient(BASE, backoff=0.0) as c:
            assert post(bundle, client=c).ok
    assert len(server.store) == len(bundle["entry"])
    kept = {i["value"] for r in server.store for i in r["identifier"]}
    want = {e["resource"]["identifier"][0]["value"] for e in bundle["entry"]}
    assert kept == want  # the identifiers were stored as sent


def test_identifier_is_neither_a_fullurl_nor_an_id() -> None:
    for case in (None, "fixtures/t2dm-metformin.case.yaml"):
        bundle = convert(case)
        names = {e["fullUrl"] for e in bundle["entry"]} | {
            e["resource"]["id"] for e in bundle["entry"]
        }
        for e in bundle["entry"]:
            for ident in e["resource"]["identifier"]:
                assert not any(n in ident["value"] for n in names)
                assert re.fullmatch(r"urn:uuid:[0-9a-f-]{36}", ident["value"])
