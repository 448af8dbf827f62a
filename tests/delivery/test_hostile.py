"""The client against a hostile loopback server (fhir_adapter.testing.HostileServer): redirects,
trickles, decompression bombs, odd Retry-After headers, rate limits, TLS mistakes, proxies and
credentials. Every test here runs urllib3 and requests for real; nothing is mocked."""

from __future__ import annotations

import gzip
import json
import threading
import time
from typing import Any

import pytest

from fhir_adapter import convert
from fhir_adapter.cli import main
from fhir_adapter.client import (
    BasicAuth,
    BearerToken,
    ConfigError,
    DeliveryError,
    FhirClient,
    SmartBackendAuth,
    post,
)
from fhir_adapter.testing import Answer, HostileServer, Seen
from fhir_adapter.testing import capability_statement as capability

SECRET = "s3cr3t-token-value"
CAPS = Answer(200, body=capability())


def _small() -> dict[str, Any]:
    return convert("fixtures/t2dm-metformin.case.yaml")


def _in_thread(fn: Any, limit: float) -> tuple[Any, float]:
    """Run ``fn`` in a thread; (its result or exception, seconds); fails the test if it takes
    longer than ``limit`` (the thread is left to finish on its own)."""
    box: list[Any] = []
    t0 = time.monotonic()

    def run() -> None:
        try:
            box.append(fn())
        except BaseException as err:
            box.append(err)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(limit)
    assert not t.is_alive(), f"still running after {limit} s"
    return box[0], time.monotonic() - t0


def _pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP384R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


# -- 3: redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_write_is_never_redirected(status: int) -> None:
    with HostileServer([Answer(201, body={"resourceType": "Bundle"})]) as elsewhere:

        def script(seen: Seen) -> Answer:
            if seen.path.endswith("/metadata"):
                return CAPS
            return Answer(status, headers={"Location": elsewhere.base})

        with HostileServer(script) as srv, FhirClient(srv.base, auth=BearerToken(SECRET)) as c:
            with pytest.raises(DeliveryError, match=f"redirects to {elsewhere.base}") as caught:
                post(_small(), client=c)
            assert "writes never follow redirects" in str(caught.value)
            assert caught.value.status == status
        assert elsewhere.requests == []  # nothing reached the other host


def test_reads_follow_redirects_within_the_origin_only() -> None:
    with HostileServer([CAPS]) as other:

        def script(seen: Seen) -> Answer:
            if seen.path == "/fhir/metadata":
                return Answer(302, headers={"Location": "/fhir/metadata2"})
            if seen.path == "/fhir/metadata2":
                return CAPS
            return Answer(307, headers={"Location": f"{other.base}/Patient/1"})

        with HostileServer(script) as srv, FhirClient(srv.base) as c:
            assert c.capabilities()["resourceType"] == "CapabilityStatement"
            with pytest.raises(DeliveryError, match="within the server's own origin"):
                c.request("GET", "Patient/1")
        assert other.requests == []


# -- 4: SMART never follows redirects -------------------------------------------------------------


@pytest.mark.parametrize("where", ["discovery", "token"])
def test_smart_discovery_and_token_requests_never_follow_redirects(where: str) -> None:
    with HostileServer([Answer(200, body={"access_token": "evil", "expires_in": 300})]) as evil:

        def script(seen: Seen) -> Answer:
            if seen.path.endswith("smart-configuration"):
                if where == "discovery":
                    return Answer(307, headers={"Location": f"{evil.base}/smart"})
                return Answer(200, body={"token_endpoint": f"{srv.base}/token"})
            if seen.path.endswith("/token"):
                return Answer(307, headers={"Location": f"{evil.base}/token"})
            return CAPS

        with HostileServer(script) as srv:
            auth = SmartBackendAuth(srv.base, "client", _pem(), alg="ES384")
            with (
                FhirClient(srv.base, auth=auth) as c,
                pytest.raises(DeliveryError, match="never follow redirects"),
            ):
                c.capabilities()
        assert evil.requests == []


def test_concurrent_requests_share_one_smart_token_request() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def script(seen: Seen) -> Answer:
        if seen.path.endswith("smart-configuration"):
            return Answer(200, body={"token_endpoint": f"{srv.base}/token"})
        if seen.path.endswith("/token"):
            time.sleep(0.3)  # the other requests arrive while the first one gets the token
            return Answer(200, body={"access_token": "t0k3n", "expires_in": 300})
        return CAPS

    with HostileServer(script) as srv:
        auth = SmartBackendAuth(srv.base, "client", _pem(), alg="ES384")
        with FhirClient(srv.base, auth=auth) as c, ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(lambda _: c.request("GET", "metadata").status_code, range(4)))
        assert answers == [200] * 4
        assert len([r for r in srv.requests if r.path.endswith("/token")]) == 1
        assert all(
            r.headers.get("Authorization") == "Bearer t0k3n"
            for r in srv.requests
            if r.path.endswith("/metadata")
        )


# -- 6 and 11: Retry-After ----------------------------------------------------------------------


def test_a_retry_after_beyond_the_budget_ends_the_post_at_once() -> None:
    """urllib3's real retry path: one 429 asking for an hour stops every worker quickly; the
    refused request is not repeated and the others do not wait out the budget."""

    def script(seen: Seen) -> Answer:
        if seen.path.endswith("/metadata"):
            return CAPS
        if seen.method == "PUT" and "Patient" in seen.path:
            return Answer(429, headers={"Retry-After": "3600"})
        time.sleep(0.2)
        return Answer(429, headers={"Retry-After": "3600"})

    with HostileServer(script) as srv:
        bundle = _small()

        def run() -> Any:
            with FhirClient(srv.base, retry_budget=20, backoff=0.0) as c:
                return post(bundle, client=c, mode="each", workers=4)

        err, took = _in_thread(run, 15)
        assert isinstance(err, DeliveryError), err
        assert "3600 s" in str(err) and "retry budget" in str(err)
        assert took < 3
        writes = [r for r in srv.requests if r.method != "GET"]
        assert len(writes) == 1  # the Patient, once; nothing else was sent after it
        assert err.partial is not None and len(err.partial.entries) == len(bundle["entry"])


def test_after_a_pause_beyond_the_budget_a_later_request_stops_at_once() -> None:
    """A 429 asking for an hour pauses the whole client: a request that starts afterwards (a
    worker picking up the next entry, the next post on the same client) is refused at once
    instead of sleeping out the pause."""
    with HostileServer([Answer(429, headers={"Retry-After": "3600"}), CAPS]) as srv:
        with FhirClient(srv.base, retry_budget=20, backoff=0.0) as c:
            with pytest.raises(DeliveryError, match="3600 s"):
                c.request("GET", "metadata")
            err, took = _in_thread(lambda: c.request("GET", "metadata"), 10)
        assert isinstance(err, DeliveryError), err
        assert "pause" in str(err) and "stopped without sending it" in str(err)
        assert took < 3
        assert len(srv.requests) == 1  # the second request was never sent


def test_a_retry_after_within_the_budget_is_waited_for_then_retried() -> None:
    with HostileServer([Answer(429, headers={"Retry-After": "1"}), CAPS]) as srv:
        t0 = time.monotonic()
        with FhirClient(srv.base, retry_budget=5, backoff=0.0) as c:
            assert c.capabilities()["resourceType"] == "CapabilityStatement"
        assert time.monotonic() - t0 >= 0.9
        assert len(srv.requests) == 2


@pytest.mark.parametrize("value", ["1.5", "-5", "soon", ""])
def test_a_malformed_retry_after_is_ignored_and_backoff_applies(value: str) -> None:
    with HostileServer([Answer(429, headers={"Retry-After": value}), CAPS]) as srv:
        with FhirClient(srv.base, backoff=0.01) as c:
            assert c.capabilities()["resourceType"] == "CapabilityStatement"
        assert len(srv.requests) == 2


# -- 9: trickle ---------------------------------------------------------------------------------


@pytest.mark.parametrize("part", ["body", "headers"])
def test_a_trickling_server_hits_the_per_response_deadline(part: str) -> None:
    body = json.dumps(capability()).encode()
    if part == "body":
        answer = Answer(200, body=body, trickle=0.1)
    else:  # the status line and headers themselves arrive a byte at a time
        raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/fhir+json\r\nX-Pad: " + b"x" * 200
        answer = Answer(raw=raw, trickle=0.1)
    with HostileServer([answer]) as srv:

        def run() -> Any:
            with FhirClient(srv.base, timeout=(1.0, 0.8), retries=0) as c:
                return c.capabilities()

        err, took = _in_thread(run, 10)
        assert isinstance(err, DeliveryError), err
        assert "no complete answer within 0.8 s" in str(err)
        assert took < 3


# -- 10: decompression bombs -----------------------------------------------------------------------


def test_a_gzip_bomb_is_refused_without_decoding_it_all() -> None:
    doc = json.dumps({"resourceType": "CapabilityStatement", "x": "a" * 40_000_000}).encode()
    assert len(gzip.compress(doc)) < 200_000
    with (
        HostileServer([Answer(200, body=doc, gzip=True)]) as srv,
        FhirClient(srv.base, max_response_bytes=1_000_000) as c,
        pytest.raises(DeliveryError, match="larger than 1,000,000 bytes"),
    ):
        c.capabilities()


def test_an_announced_huge_body_is_refused_before_reading() -> None:
    answer = Answer(200, headers={"Content-Length": str(10**12)}, body=b"{}")
    with HostileServer([answer]) as srv, FhirClient(srv.base, max_response_bytes=10**6) as c:
        err, _ = _in_thread(c.capabilities, 5)
        assert isinstance(err, DeliveryError) and "larger than" in str(err)


# -- 7: proxies ---------------------------------------------------------------------------------


def test_credentials_never_go_to_a_plain_http_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with pytest.raises(ConfigError, match=r"plain-http proxy http://proxy\.example:3128") as caught:
        FhirClient("http://127.0.0.1:9/fhir", auth=BearerToken(SECRET))
    assert SECRET not in str(caught.value)
    FhirClient("http://127.0.0.1:9/fhir").close()  # no credentials: the proxy may see it
    FhirClient("https://ehr.example/fhir", auth=BearerToken(SECRET)).close()  # a TLS tunnel
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    FhirClient("http://127.0.0.1:9/fhir", auth=BearerToken(SECRET)).close()  # proxy bypassed


def test_the_smart_assertion_never_goes_to_a_plain_http_proxy() -> None:
    import requests

    auth = SmartBackendAuth(
        "https://ehr.example/fhir",
        "client",
        _pem(),
        alg="ES384",
        token_url="http://127.0.0.1:9/token",  # http is allowed to loopback, not via a proxy
    )
    with requests.Session() as session:
        session.proxies = {"http": "http://proxy.example:3128"}
        with pytest.raises(DeliveryError, match=r"plain-http proxy http://proxy\.example:3128"):
            auth.refresh(session)


# -- 8: credentials -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "token", [f"{SECRET}\nX-Injected: 1", f"{SECRET}\rX", f"{SECRET} more", f"{SECRET}é€"]
)
def test_unusable_tokens_are_refused_at_construction_without_echoing(
    token: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        BearerToken(token)
    assert SECRET not in str(caught.value)
    monkeypatch.setenv("MY_TOKEN", token)
    assert main(["post", "--server", "http://127.0.0.1:9/fhir", "--token-env", "MY_TOKEN"]) == 2
    out = capsys.readouterr()
    assert SECRET not in out.out + out.err and "bearer token" in out.err


def test_basic_auth_with_non_latin1_credentials_is_sent_as_utf8() -> None:
    import base64

    with HostileServer([CAPS]) as srv, FhirClient(srv.base, auth=BasicAuth("Zoë", "пароль€")) as c:
        c.capabilities()
    sent = srv.requests[0].headers["Authorization"].split()[1]
    assert base64.b64decode(sent).decode() == "Zoë:пароль€"


def test_errors_carry_no_exception_context_holding_the_request() -> None:
    with (
        HostileServer([Answer(reset=True)]) as srv,
        FhirClient(srv.base, auth=BearerToken(SECRET), retries=0) as c,
        pytest.raises(DeliveryError) as caught,
    ):
        c.request("POST", "Patient", body={"resourceType": "Patient"})
    assert caught.value.__context__ is None and caught.value.__cause__ is None


# -- 15: messages that say what happened ----------------------------------------------------------


def test_tls_to_a_plain_http_server_says_so() -> None:
    with HostileServer([CAPS]) as srv:
        https = srv.base.replace("http://", "https://")
        with (
            FhirClient(https, retries=0) as c,
            pytest.raises(DeliveryError, match="does not speak TLS"),
        ):
            c.capabilities()


def test_tls_hostname_mismatch_says_so(tls_cert: tuple[str, str]) -> None:
    with HostileServer([CAPS], tls=tls_cert) as srv:
        with (
            FhirClient(srv.base, verify=tls_cert[0], retries=0) as c,
            pytest.raises(DeliveryError, match="certificate is for another host name"),
        ):
            c.capabilities()
        with (
            FhirClient(srv.base, retries=0) as c,
            pytest.raises(DeliveryError, match=r"TLS verification failed: self.signed certificate"),
        ):
            c.capabilities()


def test_an_unusable_ca_bundle_is_a_config_error(tmp_path: Any) -> None:
    with pytest.raises(ConfigError, match="CA bundle not found"):
        FhirClient("https://ehr.example/fhir", verify=str(tmp_path / "missing.pem"))
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    with pytest.raises(ConfigError, match="not PEM CA certificates"):
        FhirClient("https://ehr.example/fhir", verify=str(bad))
    assert main(["post", "--server", "https://ehr.example/fhir", "--ca-bundle", str(bad)]) == 2


def test_a_503_on_metadata_says_503() -> None:
    with (
        HostileServer([Answer(503)]) as srv,
        FhirClient(srv.base, retries=1, backoff=0) as c,
        pytest.raises(DeliveryError, match="answered 503 Service Unavailable instead"),
    ):
        c.capabilities()


def test_smart_against_a_server_that_is_down_says_connection_refused() -> None:
    from fhir_adapter.testing import free_port

    base = f"http://127.0.0.1:{free_port()}/fhir"
    auth = SmartBackendAuth(base, "client", _pem(), alg="ES384")
    with (
        FhirClient(base, auth=auth, retries=0) as c,
        pytest.raises(DeliveryError, match="SMART discovery: connection refused"),
    ):
        c.capabilities()


def test_a_read_timeout_of_a_plain_post_says_the_server_may_have_acted() -> None:
    with (
        HostileServer([Answer(201, delay=2)]) as srv,
        FhirClient(srv.base, timeout=(1, 0.5)) as c,
        pytest.raises(DeliveryError) as caught,
    ):
        c.request("POST", "Patient", body={"resourceType": "Patient"})
    text = str(caught.value)
    assert "may have acted" in text and "gave up after" not in text
    assert len(srv.requests) == 1


def test_a_dropped_plain_post_says_the_server_may_have_acted() -> None:
    with HostileServer([Answer(reset=True)]) as srv:
        with FhirClient(srv.base) as c, pytest.raises(DeliveryError, match="may have acted"):
            c.request("POST", "Patient", body={"resourceType": "Patient"})
        assert len(srv.requests) == 1


def test_retried_reads_say_how_many_attempts() -> None:
    with (
        HostileServer([Answer(200, body=b"{}", delay=1)]) as srv,
        FhirClient(srv.base, timeout=(1, 0.3), retries=2, backoff=0) as c,
        pytest.raises(DeliveryError, match="gave up after 3 attempts"),
    ):
        c.capabilities()
