"""FhirClient: one pooled ``requests`` Session per server, with timeouts, a deadline per response,
retries, auth, no redirects on writes, and clear errors naming the server and request."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from functools import lru_cache
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.utils import get_environ_proxies

from fhir_adapter import jsonio
from fhir_adapter.client import transport
from fhir_adapter.client.auth import Auth
from fhir_adapter.client.errors import ConfigError, DeliveryError, ServerUnreachable
from fhir_adapter.client.retry import BudgetRetry, Pacer, PauseTooLong, make_retry
from fhir_adapter.client.urls import (
    check_server_url,
    is_loopback,
    origin,
    resolve,
    shown,
    unsafe_proxy,
)
from fhir_adapter.version import __version__

FHIR_JSON = "application/fhir+json"
DEFAULT_SERVER = "https://hapi.fhir.org/baseR4"
#: Same-origin redirects a read follows before giving up.
MAX_READ_REDIRECTS = 5


def _objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of an array in a server's answer (anything else is ignored)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def check_ca_bundle(path: str) -> None:
    """ConfigError unless ``path`` is a readable file of PEM CA certificates."""
    try:
        stat = os.stat(path)
    except OSError:
        raise ConfigError("CA bundle not found", file=path, fix="check the path") from None
    _check_ca_file(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _check_ca_file(path: str, _mtime: int, _size: int) -> None:
    """Load the file once per version (loading a system bundle takes tens of milliseconds)."""
    import ssl

    try:
        ssl.create_default_context(cafile=path)
    except FileNotFoundError:
        raise ConfigError("CA bundle not found", file=path, fix="check the path") from None
    except (OSError, ssl.SSLError, ValueError) as err:
        kind = (
            "unreadable"
            if isinstance(err, OSError) and not isinstance(err, ssl.SSLError)
            else ("not PEM CA certificates")
        )
        raise ConfigError(
            f"cannot use the CA bundle ({kind})",
            file=path,
            fix="give a file of PEM certificates (-----BEGIN CERTIFICATE-----)",
        ) from None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "unknown status"


class FhirClient:
    """A FHIR R4 REST client for one server base URL.

    ``timeout`` is (connect, read) seconds; the read timeout is also the wall-clock limit for a
    whole answer to arrive. ``retries`` and ``retry_budget`` bound attempts and total time
    (a Retry-After beyond the budget is an error at once); ``verify`` is TLS verification (True,
    or a CA bundle path); ``max_response_bytes`` caps a decoded answer. Credentials are refused
    over plain ``http://`` (to the server or through a proxy) except to a loopback address.
    Writes never follow redirects; reads follow them within the server's origin only.
    """

    def __init__(
        self,
        base_url: str,
        *,
        auth: Auth | None = None,
        timeout: tuple[float, float] = (5.0, 120.0),
        retries: int = 5,
        retry_budget: float = 120.0,
        backoff: float = 0.5,
        verify: bool | str = True,
        prefer: str = "representation",
        max_response_bytes: int = transport.MAX_BODY,
        on_retry: Callable[[str], None] | None = None,
    ) -> None:
        parts = check_server_url(base_url)
        if auth is not None and parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ConfigError(
                "refusing to send credentials over plain http to a non-loopback server",
                field="server",
                fix="use https:// (or a loopback address for local testing)",
            )
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.timeout = timeout
        self.retries = retries
        self.retry_budget = retry_budget
        self.backoff = backoff
        self.prefer = prefer
        self.max_response_bytes = max_response_bytes
        #: told of every retry as it happens, e.g. "connection refused, retrying in 2 s (2/5)"
        self.on_retry = on_retry
        # The environment (HTTPS_PROXY/NO_PROXY, REQUESTS_CA_BUNDLE) is read once, here: with
        # trust_env requests rescans os.environ on every request (~0.4 ms each, a third of the
        # client's time in ``each`` mode), and would also pick up .netrc credentials unasked.
        proxies = get_environ_proxies(self.base_url)
        proxy = unsafe_proxy(self.base_url, proxies) if auth is not None else None
        if proxy:
            raise ConfigError(
                f"refusing to send credentials through the plain-http proxy {shown(proxy)} "
                "($HTTP_PROXY): it would see them in clear text",
                field="server",
                fix="use an https:// server, or NO_PROXY=<host> to bypass the proxy",
            )
        env_ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        chosen = env_ca if verify is True and env_ca else verify
        if isinstance(chosen, str):
            check_ca_bundle(chosen)
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.proxies.update(proxies)
        self.session.verify = chosen
        self.session.headers.update(
            {
                "Accept": FHIR_JSON,
                "Accept-Encoding": "gzip",
                "User-Agent": f"fhir-adapter/{__version__}",
            }
        )
        self._adapter = transport.GuardedAdapter(pool_connections=4, pool_maxsize=16)
        self.session.mount("http://", self._adapter)
        self.session.mount("https://", self._adapter)
        self._capabilities: dict[str, Any] | None = None
        self._pacer = Pacer()

    def __repr__(self) -> str:
        auth = self.auth.describe() if self.auth else "no auth"
        return f"<FhirClient {self.base_url} ({auth})>"

    def close(self) -> None:
        """Close pooled connections."""
        self.session.close()

    def __enter__(self) -> FhirClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ HTTP

    def url(self, path: str) -> str:
        """An absolute URL for a path relative to the base (absolute URLs pass through)."""
        if path.startswith(("http://", "https://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}" if path.strip("/") else self.base_url

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send one request with retries; refresh a SMART token once on 401."""
        url = self.url(path)
        if idempotent is None:
            idempotent = method != "POST"
        h = dict(headers or {})
        data = None
        if body is not None:
            h.setdefault("Content-Type", FHIR_JSON)
            h.setdefault("Prefer", f"return={self.prefer}")
            data = jsonio.dumps(body)
        if (
            self.auth is not None
            and self.auth.refreshable
            and getattr(self.auth, "needs_refresh", lambda: False)()
        ):
            self.auth.refresh(self.session, only_if_needed=True)
        started = time.monotonic()
        deadline = started + self.retry_budget
        for attempt in (1, 2):
            resp = self._send(method, url, data, h, idempotent, deadline)
            if (
                resp.status_code == 401
                and attempt == 1
                and self.auth is not None
                and self.auth.refreshable
            ):
                self.auth.refresh(self.session)
                continue
            return resp
        return resp

    def _send(
        self,
        method: str,
        url: str,
        data: bytes | None,
        headers: dict[str, str],
        idempotent: bool,
        deadline: float,
    ) -> requests.Response:
        """One request (with urllib3's retries), following a read's same-origin redirects."""
        label = f"{method} {url}"
        for _hop in range(MAX_READ_REDIRECTS + 1):
            try:
                self._pacer.wait(deadline)  # a 429 pauses every request
            except PauseTooLong as pause:
                raise DeliveryError(
                    f"the server asked for a pause of {pause.seconds:.0f} s (429 Retry-After on "
                    f"another request), longer than the retry budget ({self.retry_budget:g} s) "
                    "allows; stopped without sending it",
                    server=self.base_url,
                    request=label,
                ) from None
            log: list[str] = []
            self._adapter.use(
                make_retry(
                    attempts=self.retries,
                    budget_s=max(0.0, deadline - time.monotonic()),
                    backoff=self.backoff,
                    idempotent=idempotent,
                    pacer=self._pacer,
                    log=log,
                    notify=self._notifier(label),
                )
            )
            started = time.monotonic()
            failure: str | None = None
            unreachable = False
            try:
                resp = transport.fetch(
                    self.session,
                    method,
                    url,
                    timeout=self.timeout,
                    max_bytes=self.max_response_bytes,
                    data=data,
                    headers=headers,
                    auth=self.auth,
                )
            except (requests.RequestException, transport.TooLarge, OSError) as err:
                failure = self._failure(err, method, idempotent, log, started)
                unreachable = transport.unreachable(err)
            if failure is not None:  # raised here, outside ``except``: no exception context
                error = ServerUnreachable if unreachable else DeliveryError
                raise error(failure, server=self.base_url, request=label)
            self._check_retry_after(resp, label, deadline)
            if not (300 <= resp.status_code < 400) or resp.status_code == 304:
                return resp
            url = self._redirect(resp, method, url, label)
            label = f"{method} {url}"
        raise DeliveryError(
            f"more than {MAX_READ_REDIRECTS} redirects", server=self.base_url, request=label
        )

    def _notifier(self, label: str) -> Callable[[str], None] | None:
        """``on_retry`` with the request named, or None."""
        on_retry = self.on_retry
        if on_retry is None:
            return None
        return lambda message: on_retry(f"{label}: {message}")

    def _redirect(self, resp: requests.Response, method: str, url: str, label: str) -> str:
        """The URL a read may follow to, or DeliveryError naming where the server points."""
        location = resp.headers.get("Location")
        if not location:
            raise DeliveryError(
                "redirect without a Location",
                server=self.base_url,
                request=label,
                status=resp.status_code,
            )
        target = resolve(url, location)
        parts = urlsplit(target)
        target_shown = (
            f"{parts.scheme}://{parts.hostname or ''}"
            + (f":{parts.port}" if parts.port else "")
            + parts.path
        )
        if method in ("GET", "HEAD") and origin(target) == origin(self.base_url):
            return target
        why = (
            "writes never follow redirects"
            if method not in ("GET", "HEAD")
            else "reads follow redirects only within the server's own origin"
        )
        raise DeliveryError(
            f"the server redirects to {target_shown} ({why}); nothing was sent there. If that is "
            "the right server, use it as --server",
            server=self.base_url,
            request=label,
            status=resp.status_code,
        )

    def _check_retry_after(self, resp: requests.Response, label: str, deadline: float) -> None:
        """DeliveryError when the server asks for a pause beyond the retry budget."""
        if resp.status_code not in (429, 503) or "Retry-After" not in resp.headers:
            return
        wait = BudgetRetry(total=0).get_retry_after(resp.raw) if resp.raw is not None else None
        if wait is None or time.monotonic() + wait <= deadline:
            return
        raise DeliveryError(
            f"the server asks to wait {wait:.0f} s before trying again (Retry-After), more than "
            f"the retry budget ({self.retry_budget:g} s) allows; stopped. Try again later",
            server=self.base_url,
            request=label,
            status=resp.status_code,
        )

    def _failure(
        self, err: BaseException, method: str, idempotent: bool, log: list[str], started: float
    ) -> str:
        why, reached = transport.describe_failure(err)
        elapsed = time.monotonic() - started
        if log:
            why += f"; gave up after {len(log) + 1} attempts in {elapsed:.1f} s"
        if reached and method == "POST" and not idempotent:
            why += (
                "; the request was sent, so the server may have acted on it (a plain POST is not "
                "retried: it is not idempotent): check the server before posting again"
            )
        return why

    def json(self, resp: requests.Response, label: str) -> Any:
        """The response body as JSON; a clear DeliveryError for HTML pages or truncated JSON."""
        ctype = resp.headers.get("Content-Type", "")
        try:
            return jsonio.loads(resp.content)
        except ValueError:
            text = resp.content[:200].decode("utf-8", "replace")
            kind = (
                "an HTML page"
                if "html" in ctype or text.lstrip().startswith("<")
                else "malformed JSON"
            )
            failure = DeliveryError(
                f"server answered with {kind} ({ctype or 'no content type'})",
                server=self.base_url,
                request=label,
                status=resp.status_code,
            )
        raise failure

    # ------------------------------------------------------------------ capabilities

    def capabilities(self) -> dict[str, Any]:
        """The server's CapabilityStatement (read once per client)."""
        if self._capabilities is None:
            label = f"GET {self.url('metadata')}"
            resp = self.request("GET", "metadata")
            if resp.status_code != 200:
                raise DeliveryError(
                    f"the server answered {resp.status_code} {_phrase(resp.status_code)} instead "
                    "of its CapabilityStatement",
                    server=self.base_url,
                    request=label,
                    status=resp.status_code,
                )
            body = self.json(resp, label)
            if not isinstance(body, dict) or body.get("resourceType") != "CapabilityStatement":
                got = body.get("resourceType") if isinstance(body, dict) else type(body).__name__
                raise DeliveryError(
                    f"expected a CapabilityStatement at /metadata, got {got!r}",
                    server=self.base_url,
                    request=label,
                    status=resp.status_code,
                )
            self._capabilities = body
        return self._capabilities

    def _rest(self) -> dict[str, Any]:
        for rest in _objects(self.capabilities().get("rest")):
            if rest.get("mode", "server") == "server":
                return rest
        return {}

    def supports(self, interaction: str) -> bool:
        """Whether the server declares a system interaction (``transaction``, ``batch``)."""
        return any(i.get("code") == interaction for i in _objects(self._rest().get("interaction")))

    def resource_capability(self, resource_type: str) -> dict[str, Any]:
        """The CapabilityStatement entry of one resource type ({} if absent)."""
        for r in _objects(self._rest().get("resource")):
            if r.get("type") == resource_type:
                return r
        return {}

    def search_params(self, resource_type: str) -> set[str]:
        """The search parameters the server declares for a type."""
        return {
            p["name"]
            for p in _objects(self.resource_capability(resource_type).get("searchParam"))
            if isinstance(p.get("name"), str)
        }
