"""Client behaviour against mocked servers (responses): parsing, errors, retries, auth, secrets."""

from __future__ import annotations

import json
import re
import time
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest
import requests
import responses
from responses import matchers

from fhir_adapter import convert
from fhir_adapter.bundle import references
from fhir_adapter.cli import main
from fhir_adapter.client import (
    BearerToken,
    ConfigError,
    DeliveryError,
    FhirClient,
    InvalidBundle,
    SmartBackendAuth,
    post,
)
from fhir_adapter.testing import capability_statement as capability

BASE = "https://fhir.example.org/r4"
SECRET = "s3cr3t-token-value"


def tx_response(
    bundle: dict[str, Any], status: str = "201 Created", server_ids: bool = False
) -> dict[str, Any]:
    """A transaction-response: ids as sent (PUT), or assigned by the server (``srvN``)."""
    return {
        "resourceType": "Bundle",
        "type": "transaction-response",
        "entry": [
            {
                "response": {
                    "status": status,
                    "location": f"{e['resource']['resourceType']}/"
                    + (f"srv{i}" if server_ids else e["resource"]["id"])
                    + "/_history/1",
                    "etag": 'W/"1"',
                }
            }
            for i, e in enumerate(bundle["entry"])
        ],
    }


@pytest.fixture
def scripted_server() -> Any:
    """Start a loopback HTTP server answering from a script; yields a factory (base, hits)."""
    import http.server
    import threading

    servers: list[Any] = []

    def start(script: list[tuple[Any, dict[str, str], bytes]]) -> tuple[str, list[str]]:
        hits: list[str] = []
        steps = iter(script)

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                status, headers, body = next(steps)
                if status == "reset":
                    self.connection.shutdown(2)  # drop the connection without an answer
                    return
                self.send_response(int(status))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
        return f"http://127.0.0.1:{srv.server_address[1]}/fhir", hits

    yield start
    for srv in servers:
        srv.shutdown()


def client(**kw: Any) -> FhirClient:
    kw.setdefault("backoff", 0.0)
    return FhirClient(BASE, **kw)


@pytest.fixture
def seed() -> dict[str, Any]:
    return convert("fixtures/t2dm-metformin.case.yaml")


@responses.activate
def test_transaction_response_is_mapped_per_entry(seed: dict[str, Any]) -> None:
    responses.get(f"{BASE}/metadata", json=capability())
    responses.post(BASE, json=tx_response(seed))
    result = post(seed, client=client())
    assert result.ok and result.strategy == "put"
    assert [(e.status, e.id, e.version) for e in result.entries] == [
        (201, e["resource"]["id"], "1") for e in seed["entry"]
    ]
    sent = json.loads(responses.calls[1].request.body)
    assert sent["type"] == "transaction"
    assert all(e["request"]["method"] == "PUT" for e in sent["entry"])
    h = responses.calls[1].request.headers
    assert h["Content-Type"] == "application/fhir+json" and h["Accept"] == "application/fhir+json"
    assert h["User-Agent"].startswith("fhir-adapter/") and h["Prefer"] == "return=representation"
    assert "gzip" in h["Accept-Encoding"]


@responses.activate
def test_prefer_header_is_configurable(seed: dict[str, Any], tmp_path: Any) -> None:
    responses.get(f"{BASE}/metadata", json=capability())
    responses.post(BASE, json=tx_response(seed))
    path = tmp_path / "b.json"
    path.write_text(json.dumps(seed))
    assert main(["post", str(path), "--server", BASE, "--prefer", "minimal"]) == 0
    assert responses.calls[1].request.headers["Prefer"] == "return=minimal"


@responses.activate
def test_conditional_create_when_server_cannot_update_create(seed: dict[str, Any]) -> None:
    responses.get(f"{BASE}/metadata", json=capability(update_create=False))
    responses.post(BASE, json=tx_response(seed, "200 OK", server_ids=True))
    result = post(seed, client=client())
    assert result.strategy == "conditional-create" and result.ok
    sent = json.loads(responses.calls[1].request.body)
    assert all(
        e["request"]["ifNoneExist"].startswith("identifier=urn:ietf:rfc:3986|")
        for e in sent["entry"]
    )
    assert not any(e.created for e in result.entries)  # 200: matched existing resources


@responses.activate
def test_capability_statement_is_read_once_and_missing_transaction_is_explained(
    seed: dict[str, Any],
) -> None:
    responses.get(f"{BASE}/metadata", json=capability(interactions=("batch",)))
    c = client()
    with pytest.raises(DeliveryError, match=r"does not support transaction.*--mode batch"):
        post(seed, client=c)
    with pytest.raises(DeliveryError):
        post(seed, client=c)
    assert len([x for x in responses.calls if x.request.url.endswith("/metadata")]) == 1


@responses.activate
@pytest.mark.parametrize("status", [400, 422])
def test_rejected_transaction_carries_the_operation_outcome(
    seed: dict[str, Any], status: int
) -> None:
    responses.get(f"{BASE}/metadata", json=capability())
    oo = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "invalid", "diagnostics": "Observation.status is bad"}
        ],
    }
    responses.post(BASE, json=oo, status=status)
    result = post(seed, client=client())
    assert not result.ok
    assert {e.status for e in result.entries} == {status}
    assert "Observation.status is bad" in result.to_table()
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 1  # never retried


@responses.activate
def test_412_multiple_matches_is_reported_not_retried(seed: dict[str, Any]) -> None:
    responses.get(f"{BASE}/metadata", json=capability(update_create=False))
    responses.post(
        BASE,
        json={
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "multiple-matches",
                    "diagnostics": "criteria matched 2",
                }
            ],
        },
        status=412,
    )
    result = post(seed, client=client())
    assert {e.status for e in result.entries} == {412}
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 1


@responses.activate
def test_503_then_success_is_retried_for_idempotent_bundles(seed: dict[str, Any]) -> None:
    responses.get(f"{BASE}/metadata", json=capability())
    responses.post(BASE, status=503)
    responses.post(BASE, json=tx_response(seed))
    result = post(seed, client=client())
    assert result.ok
    assert len([c for c in responses.calls if c.request.method == "POST"]) == 2


def test_429_honours_retry_after_seconds_and_http_date(scripted_server: Any) -> None:
    """Real urllib3 retries against a loopback server: waits as long as Retry-After says."""
    base, hits = scripted_server(
        [
            (429, {"Retry-After": "1"}, b""),
            (429, {"Retry-After": formatdate(time.time() + 3, usegmt=True)}, b""),
            (200, {"Content-Type": "application/fhir+json"}, json.dumps(capability()).encode()),
        ]
    )
    t0 = time.monotonic()
    assert FhirClient(base, backoff=0.0).capabilities()["resourceType"] == "CapabilityStatement"
    assert time.monotonic() - t0 >= 1.5
    assert len(hits) == 3


def test_503_then_success_and_connection_reset_on_a_real_socket(scripted_server: Any) -> None:
    base, hits = scripted_server(
        [
            ("reset", {}, b""),
            (503, {}, b""),
            (200, {"Content-Type": "application/fhir+json"}, json.dumps(capability()).encode()),
        ]
    )
    assert FhirClient(base, backoff=0.0).capabilities()["resourceType"] == "CapabilityStatement"
    assert len(hits) == 3


@responses.activate
def test_non_idempotent_post_is_not_retried_after_the_server_answered(seed: dict[str, Any]) -> None:
    responses.get(f"{BASE}/metadata", json=capability(update_create=False, conditional=False))
    plain = json.loads(json.dumps(seed))
    for e in plain["entry"]:
        e["request"].pop("ifNoneExist")
    sent = responses.post(BASE, status=503)
    result = post(plain, client=client())  # not fhir-adapter's entries: sent as written
    assert sent.call_count == 1 and {e.status for e in result.entries} == {503}
    assert "may create them again" in result.warnings[0]
    c = client()
    responses.post(f"{BASE}/Patient", status=503)
    resp = c.request("POST", "Patient", body={"resourceType": "Patient"})
    assert resp.status_code == 503
    assert len([x for x in responses.calls if x.request.url == f"{BASE}/Patient"]) == 1


@responses.activate
def test_timeouts_and_connection_resets_become_clear_errors() -> None:
    responses.get(f"{BASE}/metadata", body=requests.exceptions.ConnectTimeout("slow"))
    with pytest.raises(
        DeliveryError, match=r"fhir.example.org/r4: GET .*metadata: could not connect in time"
    ):
        client().capabilities()
    responses.replace(
        responses.GET, f"{BASE}/metadata", body=requests.exceptions.ConnectionError("reset by peer")
    )
    with pytest.raises(DeliveryError, match="the server dropped the connection"):
        client().capabilities()


def test_refused_connection_says_so() -> None:
    import socket

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (
        FhirClient(f"http://127.0.0.1:{port}/fhir", retries=1, backoff=0.01) as c,
        pytest.raises(DeliveryError, match=r"connection refused; gave up after 2 attempts in \d"),
    ):
        c.capabilities()


@responses.activate
@pytest.mark.parametrize(
    ("body", "ctype", "match"),
    [
        ("<html><body>502 Bad Gateway</body></html>", "text/html", "an HTML page"),
        (
            '{"resourceType": "Bundle", "type": "transaction-resp',
            "application/fhir+json",
            "malformed JSON",
        ),
        (
            '{"resourceType": "Bundle", "type": "searchset"}',
            "application/fhir+json",
            "expected a transaction-response Bundle",
        ),
        (
            '{"resourceType": "Bundle", "type": "transaction-response", "entry": []}',
            "application/fhir+json",
            "the response has 0 entries",
        ),
        (
            '{"resourceType": "Bundle", "type": "transaction-response", "entry": [{}, {}, {}, {}, {}]}',
            "application/fhir+json",
            "has no 'response'",
        ),
    ],
)
def test_malformed_answers_name_server_and_request(
    seed: dict[str, Any], body: str, ctype: str, match: str
) -> None:
    responses.get(f"{BASE}/metadata", json=capability())
    responses.post(BASE, body=body, content_type=ctype)
    with pytest.raises(DeliveryError, match=match) as info:
        post(seed, client=client())
    assert BASE in str(info.value) and "POST" in str(info.value)


@responses.activate
def test_bearer_token_is_sent_but_never_shown(
    seed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TOKEN", SECRET)
    auth = BearerToken.from_env("MY_TOKEN")
    responses.get(
        f"{BASE}/metadata",
        json=capability(),
        match=[matchers.header_matcher({"Authorization": f"Bearer {SECRET}"})],
    )
    responses.post(BASE, body="<html>oops</html>", content_type="text/html", status=500)
    c = client(auth=auth)
    with pytest.raises(DeliveryError) as info:
        post(seed, client=c)
    for text in (str(info.value), repr(c), repr(auth), auth.describe()):
        assert SECRET not in text


def test_credentials_over_plain_http_are_refused_except_loopback() -> None:
    auth = BearerToken(SECRET)
    with pytest.raises(ConfigError, match="plain http") as info:
        FhirClient("http://ehr.example.org/fhir", auth=auth)
    assert SECRET not in str(info.value)
    FhirClient("http://127.0.0.1:8080/fhir", auth=auth).close()
    FhirClient("http://localhost/fhir", auth=auth).close()


def _pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


@responses.activate
def test_smart_backend_services_token_is_cached_and_refreshed_once_on_401() -> None:
    import jwt

    pem = _pem()
    responses.get(
        f"{BASE}/.well-known/smart-configuration",
        json={"token_endpoint": "https://auth.example.org/token"},
    )
    tokens = iter(["tok-1", "tok-2"])

    def token_cb(request: Any) -> tuple[int, dict[str, str], str]:
        form = dict(x.split("=", 1) for x in request.body.split("&"))
        assertion = requests.utils.unquote(form["client_assertion"])
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
        assert header["alg"] == "ES384" and claims["iss"] == claims["sub"] == "my-client"
        assert claims["aud"] == "https://auth.example.org/token"
        return (
            200,
            {},
            json.dumps({"access_token": next(tokens), "expires_in": 300, "token_type": "bearer"}),
        )

    responses.add_callback(responses.POST, "https://auth.example.org/token", callback=token_cb)
    responses.get(
        f"{BASE}/metadata",
        status=401,
        match=[matchers.header_matcher({"Authorization": "Bearer tok-1"})],
    )
    responses.get(
        f"{BASE}/metadata",
        json=capability(),
        match=[matchers.header_matcher({"Authorization": "Bearer tok-2"})],
    )
    auth = SmartBackendAuth(BASE, "my-client", pem, alg="ES384")
    c = client(auth=auth)
    assert c.capabilities()["resourceType"] == "CapabilityStatement"
    assert len([x for x in responses.calls if "token" in x.request.url]) == 2
    assert pem not in repr(auth) and "tok-2" not in repr(auth)


def test_invalid_bundle_is_refused_before_sending(seed: dict[str, Any]) -> None:
    bad = json.loads(json.dumps(seed))
    bad["entry"][0]["resource"]["gender"] = "woman"
    with responses.RequestsMock() as rsps, pytest.raises(InvalidBundle, match="nothing was sent"):
        post(bad, client=client())
    assert len(rsps.calls) == 0


def test_dry_run_prints_requests_without_secrets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_TOKEN", SECRET)
    with responses.RequestsMock() as rsps:
        code = main(
            [
                "post",
                "--dry-run",
                "--server",
                BASE,
                "--token-env",
                "MY_TOKEN",
                "fixtures/t2dm-metformin.case.yaml",
            ]
        )
        assert len(rsps.calls) == 0
    out = capsys.readouterr().out
    assert (
        code == 0
        and "would send to" in out
        and "PUT Patient/" in out
        and "Bearer token (redacted)" in out
    )
    assert SECRET not in out


def test_server_resolution_order(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from fhir_adapter.client import resolve_server

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FHIR_SERVER", raising=False)
    monkeypatch.delenv("FHIR_ADAPTER_CONFIG", raising=False)
    assert resolve_server() == "https://hapi.fhir.org/baseR4"
    (tmp_path / "fhir-adapter.yaml").write_text("server: https://cfg.example.org/fhir\n")
    assert resolve_server() == "https://cfg.example.org/fhir"
    monkeypatch.setenv("FHIR_SERVER", "https://env.example.org/fhir")
    assert resolve_server() == "https://env.example.org/fhir"
    assert resolve_server("https://arg.example.org") == "https://arg.example.org"


@responses.activate
def test_cli_post_prints_table_and_exit_code(
    seed: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    path = tmp_path / "b.json"
    path.write_text(json.dumps(seed))
    responses.get(f"{BASE}/metadata", json=capability())
    responses.post(BASE, json=tx_response(seed))
    assert main(["post", str(path), "--server", BASE]) == 0
    out = capsys.readouterr().out
    pid = seed["entry"][0]["resource"]["id"]
    assert "entry  type" in out and pid in out and "5 ok, 0 failed" in out
    responses.replace(
        responses.POST,
        BASE,
        json={
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": "invalid"}],
        },
        status=400,
    )
    assert main(["post", str(path), "--server", BASE]) == 1


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("Patient/123", ("123", None)),
        ("Patient/123/_history/2", ("123", "2")),
        ("https://ehr.example/fhir/Patient/a-1.b/_history/7/", ("a-1.b", "7")),
        ("https://ehr.example/fhir/Observation/9", ("9", None)),
        ("Patient/123/_history", None),
        ("Patient/123/_history/bad version", None),
        ("patient/123", None),
        ("Patient/", None),
        ("Patient/a b", None),
        ("Patient/" + "x" * 65, None),
        ("", None),
    ],
)
def test_location_parsing(location: str, expected: tuple[str, str | None] | None) -> None:
    from fhir_adapter.client.delivery import _parse_location

    assert _parse_location(location) == expected


def test_environment_proxy_and_ca_bundle_are_read_once(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    import certifi

    from fhir_adapter.client import FhirClient

    ca = tmp_path / "ca.pem"
    ca.write_text(Path(certifi.where()).read_text())
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with FhirClient("https://ehr.example/fhir") as c:
        assert c.session.trust_env is False  # no per-request environment scan, no .netrc
        assert c.session.proxies.get("https") == "http://proxy.example:3128"
        assert c.session.verify == str(ca)
    with FhirClient("https://ehr.example/fhir", verify=False) as c:
        assert c.session.verify is False  # an explicit choice wins over the environment
    monkeypatch.setenv("NO_PROXY", "ehr.example")
    with FhirClient("https://ehr.example/fhir") as c:
        assert "https" not in c.session.proxies


def test_plans_leave_the_callers_bundle_untouched() -> None:
    from fhir_adapter.bundle import references
    from fhir_adapter.client.plan import plan

    bundle = convert(None)
    before = json.dumps(bundle, sort_keys=True)
    batch = plan(bundle, "batch", "put").bundle()
    tx = plan(bundle, "transaction", "conditional-create").bundle()
    assert json.dumps(bundle, sort_keys=True) == before
    assert batch["type"] == "batch" and tx["type"] == "transaction"
    assert all(e["request"]["method"] == "PUT" for e in batch["entry"])
    refs = [r for e in batch["entry"] for r in references(e["resource"])]
    assert refs and not any(r.startswith("urn:uuid:") for r in refs)  # rewritten to Type/id
    assert tx["entry"][0]["request"] == bundle["entry"][0]["request"]


def _levels_bundle() -> dict[str, Any]:
    """Referrers before their targets: a report on two observations of one patient."""
    ids = {name: f"00000000-0000-4000-8000-00000000000{i}" for i, name in enumerate("pabr")}
    div = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>'}
    subject = {"reference": f"urn:uuid:{ids['p']}"}
    resources = [
        {
            "resourceType": "DiagnosticReport",
            "id": ids["r"],
            "text": div,
            "status": "final",
            "code": {"text": "report"},
            "subject": subject,
            "result": [
                {"reference": f"urn:uuid:{ids['a']}"},
                {"reference": f"urn:uuid:{ids['b']}"},
            ],
        },
        *(
            {
                "resourceType": "Observation",
                "id": ids[k],
                "text": div,
                "status": "final",
                "code": {"text": k},
                "subject": subject,
            }
            for k in "ab"
        ),
        {"resourceType": "Patient", "id": ids["p"], "text": div},
    ]
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{r['id']}",
                "resource": r,
                "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"},
            }
            for r in resources
        ],
    }


@responses.activate
def test_each_mode_with_workers_sends_targets_first_and_in_parallel() -> None:
    import threading

    responses.get(f"{BASE}/metadata", json=capability())
    lock = threading.Lock()
    order: list[str] = []
    seen_refs: list[list[str]] = []
    in_flight = [0, 0]  # now, max

    both_observations = threading.Barrier(2)  # passes only if the two are in flight together

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
        body = json.loads(request.body)
        if body["resourceType"] == "Observation":
            both_observations.wait(timeout=30)  # BrokenBarrierError -> a failed entry
        with lock:
            in_flight[0] -= 1
            order.append(body["resourceType"])
            seen_refs.append(list(references(body)))
        path = request.path_url.split("/r4/", 1)[1]
        return 201, {"Location": f"{BASE}/{path}/_history/1"}, json.dumps(body)

    responses.add_callback(responses.PUT, re.compile(rf"{BASE}/\w+/[\w-]+"), callback=answer)
    ticks: list[tuple[int, int]] = []
    result = post(
        _levels_bundle(), BASE, mode="each", workers=3, progress=lambda d, t: ticks.append((d, t))
    )
    assert ticks == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert result.ok, result.to_table()
    assert [e.resource_type for e in result.entries] == [
        "DiagnosticReport",
        "Observation",
        "Observation",
        "Patient",
    ]  # results keep the bundle's order
    assert order[0] == "Patient" and order[-1] == "DiagnosticReport"
    assert in_flight[1] == 2  # the two observations went out together
    assert all(not r.startswith("urn:uuid:") for refs in seen_refs for r in refs)


def test_workers_are_checked() -> None:
    with pytest.raises(ConfigError, match="from 1 to 32"):
        post(_levels_bundle(), BASE, mode="each", workers=0)
    with pytest.raises(ConfigError, match="mode 'each' only"):
        post(_levels_bundle(), BASE, mode="transaction", workers=4)


def test_retry_policy_is_per_thread() -> None:
    import threading

    from fhir_adapter.client.retry import make_retry
    from fhir_adapter.client.transport import GuardedAdapter

    adapter = GuardedAdapter()
    default = adapter.max_retries
    post_policy = make_retry(idempotent=False)
    adapter.use(post_policy)
    seen: list[Any] = []

    def other() -> None:
        seen.append(adapter.max_retries)  # not this thread's policy
        put_policy = make_retry(idempotent=True)
        adapter.use(put_policy)
        seen.append(adapter.max_retries is put_policy)

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [default, True]
    assert adapter.max_retries is post_policy
    assert post_policy.read == 0 and "POST" not in post_policy.allowed_methods


@responses.activate
def test_each_mode_does_not_send_what_references_a_failed_entry() -> None:
    responses.get(f"{BASE}/metadata", json=capability())
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": "bad patient"}],
    }
    patient = responses.put(re.compile(rf"{BASE}/Patient/.+"), status=422, json=outcome)
    others = responses.put(re.compile(rf"{BASE}/(Observation|DiagnosticReport)/.+"), status=201)
    result = post(_levels_bundle(), BASE, mode="each", workers=2)
    assert not result.ok
    assert patient.call_count == 1 and others.call_count == 0  # nothing sent after the failure
    by_type = {e.resource_type: e for e in result.entries}
    assert by_type["Patient"].status == 422 and "bad patient" in by_type["Patient"].outcome_text()
    obs = result.entries[1]
    assert obs.status is None and "entries 3 (Patient) were not created" in obs.outcome_text()
    report = result.entries[0]
    assert "entries 1 (Observation), 2 (Observation), 3 (Patient)" in report.outcome_text()


@responses.activate
def test_each_mode_writes_a_reference_cycle_in_two_phases() -> None:
    responses.get(f"{BASE}/metadata", json=capability())
    sent = responses.put(re.compile(rf"{BASE}/.+"), status=201)
    bundle = _levels_bundle()
    a, b = bundle["entry"][1], bundle["entry"][2]  # the two observations refer to each other
    a["resource"]["hasMember"] = [{"reference": b["fullUrl"]}]
    b["resource"]["hasMember"] = [{"reference": a["fullUrl"]}]
    result = post(bundle, BASE, mode="each")
    assert result.ok, result.to_table()
    bodies = [json.loads(c.request.body) for c in sent.calls]
    assert [r["resourceType"] for r in bodies] == [
        "Patient",
        "Observation",  # a, without its reference to b
        "Observation",  # b, with its reference to a (which now exists)
        "DiagnosticReport",
        "Observation",  # a again, whole
    ]
    assert "hasMember" not in bodies[1] and bodies[4]["hasMember"] == [
        {"reference": f"Observation/{b['resource']['id']}"}
    ]
    assert result.entries[1].deferred == [2] and not result.entries[2].deferred
    assert "then updated with its references to entries 2 (Observation)" in result.to_table()


def test_a_429_pauses_the_whole_client_for_retry_after() -> None:
    import http.server
    import threading

    arrivals: list[tuple[str, float]] = []
    refused = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            arrivals.append((self.path, time.monotonic()))
            if self.path.endswith("/a") and not refused.is_set():
                refused.set()
                self.send_response(429)
                self.send_header("Retry-After", "1")
                body = b""
            else:
                self.send_response(200)
                body = b'{"resourceType": "Patient"}'
            self.send_header("Content-Type", "application/fhir+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with FhirClient(f"http://127.0.0.1:{srv.server_address[1]}/fhir", backoff=0.0) as c:
            first = threading.Thread(target=lambda: c.request("GET", "a"))
            first.start()
            assert refused.wait(5)
            time.sleep(0.2)  # the other worker starts while the pause is on
            assert c.request("GET", "b").status_code == 200
            first.join(5)
    finally:
        srv.shutdown()
    times = {p.rsplit("/", 1)[-1]: t for p, t in reversed(arrivals)}  # first arrival per path
    a_retry = [t for p, t in arrivals if p.endswith("/a")][-1]
    assert len([p for p, _ in arrivals if p.endswith("/a")]) == 2  # refused once, then served
    assert times["b"] - times["a"] >= 0.9  # b waited for the server's Retry-After
    assert a_retry - times["a"] >= 0.9


@responses.activate
def test_cli_posts_several_files_only_when_all_are_valid(
    seed: dict[str, Any], capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(seed))
    bad_bundle = json.loads(json.dumps(seed))
    bad_bundle["entry"][0]["resource"]["gender"] = "unknown-gender"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(bad_bundle))
    responses.get(f"{BASE}/metadata", json=capability())
    sent = responses.post(BASE, json=tx_response(seed))
    assert main(["post", str(good), str(bad), "--server", BASE]) == 1
    assert sent.call_count == 0  # the good file was not sent either
    err = capsys.readouterr().err
    assert "bad.json" in err and "gender" in err and "nothing was sent" in err
    assert main(["post", str(good), "fixtures/t2dm-metformin.case.yaml", "--server", BASE]) == 0
    assert sent.call_count == 2
    out = capsys.readouterr().out
    assert f"== {good}" in out and "== fixtures/t2dm-metformin.case.yaml" in out


@responses.activate
@pytest.mark.parametrize("workers", [1, 2])
def test_each_mode_error_keeps_what_was_done(
    workers: int, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    responses.get(f"{BASE}/metadata", json=capability())
    pid = _levels_bundle()["entry"][3]["resource"]["id"]
    patient = responses.put(
        re.compile(rf"{BASE}/Patient/.+"),
        status=201,
        headers={"Location": f"{BASE}/Patient/{pid}/_history/1"},
    )
    html = responses.put(
        re.compile(rf"{BASE}/Observation/.+"),
        status=200,
        body="<html>gateway error</html>",
        content_type="text/html",
    )
    report = responses.put(re.compile(rf"{BASE}/DiagnosticReport/.+"), status=201)
    with pytest.raises(DeliveryError, match="HTML page") as caught:
        post(_levels_bundle(), BASE, mode="each", workers=workers)
    partial = caught.value.partial
    assert len(partial.entries) == 4  # every entry: done, failed, or never sent
    done = [e for e in partial.entries if e.ok]
    assert [e.resource_type for e in done] == ["Patient"]
    assert done[0].status == 201 and patient.call_count == 1
    report_row = partial.entries[0]
    assert report_row.not_sent and "not sent" in report_row.outcome_text()
    failed = [e for e in partial.entries if not e.ok and not e.not_sent]
    assert failed and all("HTML page" in e.outcome_text() for e in failed)
    assert "1 ok" in partial.to_table() and "not sent" in partial.to_table()
    assert html.call_count >= 1 and report.call_count == 0  # the next round never started
    path = tmp_path / "b.json"
    path.write_text(json.dumps(_levels_bundle()))
    assert main(["post", str(path), "--server", BASE, "--mode", "each"]) == 1
    out = capsys.readouterr().out
    assert "(stopped early)" in out and "Patient" in out and "201" in out


@responses.activate
@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        ({"access_token": "t", "expires_in": "3600"}, True),
        ({"access_token": "t", "expires_in": "soon"}, True),  # lifetime unreadable: 5 minutes
        ({"access_token": "t", "expires_in": [1]}, True),
        (["not", "an", "object"], False),
        ({"token": "t"}, False),
    ],
)
def test_odd_token_answers(answer: Any, ok: bool) -> None:
    responses.get(
        f"{BASE}/.well-known/smart-configuration",
        json={"token_endpoint": "https://auth.example.org/token"},
    )
    responses.post("https://auth.example.org/token", json=answer)
    auth = SmartBackendAuth(BASE, "my-client", _pem(), alg="ES384")
    if ok:
        auth.refresh(requests.Session())
        assert not auth.needs_refresh()
    else:
        with pytest.raises(DeliveryError, match="no access_token"):
            auth.refresh(requests.Session())


@responses.activate
def test_smart_token_endpoint_must_be_https() -> None:
    responses.get(
        f"{BASE}/.well-known/smart-configuration",
        json={"token_endpoint": "http://auth.example.org/token"},
    )
    token = responses.post("http://auth.example.org/token", json={"access_token": "t"})
    auth = SmartBackendAuth(BASE, "my-client", _pem(), alg="ES384")
    with pytest.raises(DeliveryError, match="not an https URL"):
        auth.refresh(requests.Session())
    assert token.call_count == 0  # the signed assertion never left
    with pytest.raises(ConfigError, match="must be https"):
        SmartBackendAuth(BASE, "c", _pem(), alg="ES384", token_url="http://auth.example.org/t")
    local = SmartBackendAuth(BASE, "c", _pem(), alg="ES384", token_url="http://127.0.0.1:9/t")
    assert local.token_url == "http://127.0.0.1:9/t"


@pytest.mark.parametrize(
    "url", [f"https://user:{SECRET}@ehr.example/fhir", f"https://{SECRET}@ehr.example/fhir"]
)
def test_credentials_in_the_server_url_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ConfigError) as caught:
        FhirClient(url)
    assert SECRET not in str(caught.value) and "credentials" in str(caught.value)
    assert main(["post", "--server", url, "--dry-run"]) == 2


def test_retries_are_told_as_they_happen(scripted_server: Any) -> None:
    base, _hits = scripted_server(
        [
            (503, {}, b""),
            (429, {"Retry-After": "1"}, b""),
            (200, {"Content-Type": "application/fhir+json"}, json.dumps(capability()).encode()),
        ]
    )
    told: list[tuple[float, str]] = []
    t0 = time.monotonic()
    c = FhirClient(base, backoff=0.0, on_retry=lambda m: told.append((time.monotonic() - t0, m)))
    assert c.capabilities()["resourceType"] == "CapabilityStatement"
    assert [m for _, m in told] == [
        f"GET {base}/metadata: server busy (HTTP 503), retrying now (1/5)",
        f"GET {base}/metadata: server busy (HTTP 429), retrying in 1.0 s (2/5)",
    ]
    assert told[1][0] < 0.9  # told before the wait, not after it


def test_an_unreachable_server_has_its_own_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    from fhir_adapter.errors import EXIT_UNREACHABLE

    with socket.socket() as s:  # a port that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.monotonic()
    code = main(["post", "--server", f"http://127.0.0.1:{port}/fhir", "--retries", "2"])
    assert code == EXIT_UNREACHABLE == 3 and time.monotonic() - t0 < 10
    err = capsys.readouterr().err
    assert "connection refused, retrying now (1/2)" in err
    assert "connection refused, retrying in" in err and "(2/2)" in err
    assert "connection refused; gave up after 3 attempts" in err


def test_post_says_when_it_uses_the_public_server(
    monkeypatch: pytest.MonkeyPatch, no_settings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("FHIR_SERVER", raising=False)
    assert main(["post", "--dry-run"]) == 0
    err = capsys.readouterr().err
    assert "using the public HAPI R4 test server https://hapi.fhir.org/baseR4" in err
    assert main(["post", "--dry-run", "--server", "http://127.0.0.1:1/fhir"]) == 0
    assert "public" not in capsys.readouterr().err


@responses.activate
def test_a_location_on_the_same_server_spelt_differently_is_accepted(seed: dict[str, Any]) -> None:
    """The host's letter case and an explicit default port do not make another server."""
    base = "https://FHIR.example.org:443/r4"

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        body = tx_response(json.loads(request.body))
        for e in body["entry"]:
            e["response"]["location"] = f"https://fhir.example.org/r4/{e['response']['location']}"
        return 200, {"Content-Type": "application/fhir+json"}, json.dumps(body)

    responses.get(re.compile(r"https://fhir\.example\.org(:443)?/r4/metadata"), json=capability())
    responses.add_callback(
        responses.POST, re.compile(r"https://fhir\.example\.org(:443)?/r4"), callback=answer
    )
    result = post(seed, base, validate=False)
    assert result.ok, result.to_table()
    assert [e.id for e in result.entries] == [e["resource"]["id"] for e in seed["entry"]]
