"""FhirClient: one pooled ``requests`` Session per server, with timeouts, retries, auth, and
clear errors naming the server and request."""

from __future__ import annotations

import ipaddress
import os
import threading
import time
from typing import Any
from urllib.parse import SplitResult, urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from urllib3.util.retry import Retry

from fhir_adapter import __version__, jsonio
from fhir_adapter.client.auth import Auth
from fhir_adapter.client.errors import ConfigError, DeliveryError
from fhir_adapter.client.retry import Pacer, make_retry

FHIR_JSON = "application/fhir+json"
DEFAULT_SERVER = "https://hapi.fhir.org/baseR4"


class _PerRequestRetryAdapter(HTTPAdapter):
    """An HTTPAdapter whose retry policy is set per request and per thread, so one pooled
    session can serve concurrent requests with different policies (idempotent or not)."""

    def __init__(self, **kwargs: Any) -> None:
        self._local = threading.local()
        super().__init__(**kwargs)

    def use(self, retry: Retry) -> None:
        """The policy for this thread's next requests."""
        self._local.retry = retry

    @property
    def max_retries(self) -> Retry:
        retry: Retry = getattr(self._local, "retry", None) or self._default_retry
        return retry

    @max_retries.setter
    def max_retries(self, value: Retry) -> None:  # HTTPAdapter.__init__ sets its default
        self._default_retry = value


def _connection_failure(err: Exception, elapsed: float) -> str:
    """Why a connection failed, in words (never the URL, which could carry credentials)."""
    from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError

    cause: Any = err.args[0] if err.args else None
    retried = isinstance(cause, MaxRetryError)
    if retried:
        cause = cause.reason
    if isinstance(cause, NameResolutionError):
        why = "host name not found"
    elif isinstance(cause, NewConnectionError):
        why = "connection refused" if "refused" in str(cause).lower() else "could not connect"
    elif "reset" in str(cause).lower() or "aborted" in str(cause).lower():
        why = "connection reset by the server"
    else:
        why = f"connection failed ({type(cause or err).__name__})"
    return f"{why}; gave up after retrying for {elapsed:.1f} s" if retried else why


def check_server_url(base_url: str) -> SplitResult:
    """The parts of a usable server base URL; ConfigError (never echoing a password) if not."""
    parts = urlsplit(base_url)
    if parts.username is not None or parts.password is not None:
        shown = f"{parts.scheme}://***@{parts.hostname or ''}{parts.path}"
        raise ConfigError(
            f"the server URL carries credentials ({shown}); they would end up in logs and errors",
            field="server",
            fix="drop user:password@ from the URL and use --basic-user with $FHIR_PASSWORD, or a token",
        )
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"{base_url!r} is not an http(s) URL",
            field="server",
            fix="e.g. https://hapi.fhir.org/baseR4",
        )
    return parts


def _objects(value: Any) -> list[dict[str, Any]]:
    """The JSON objects of an array in a server's answer (anything else is ignored)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class FhirClient:
    """A FHIR R4 REST client for one server base URL.

    ``timeout`` is (connect, read) seconds for every request; ``retries`` and ``retry_budget``
    bound attempts and total time; ``verify`` is TLS verification (True, or a CA bundle path).
    Credentials are refused over plain ``http://`` except to a loopback address.
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
    ) -> None:
        parts = check_server_url(base_url)
        if auth is not None and parts.scheme == "http" and not _is_loopback(parts.hostname):
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
        self.session = requests.Session()
        # The environment (HTTPS_PROXY/NO_PROXY, REQUESTS_CA_BUNDLE) is read once, here: with
        # trust_env requests rescans os.environ on every request (~0.4 ms each, a third of the
        # client's time in ``each`` mode), and would also pick up .netrc credentials unasked.
        self.session.trust_env = False
        self.session.proxies.update(get_environ_proxies(self.base_url))
        env_ca = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self.session.verify = env_ca if verify is True and env_ca else verify
        self.session.headers.update(
            {
                "Accept": FHIR_JSON,
                "Accept-Encoding": "gzip",
                "User-Agent": f"fhir-adapter/{__version__}",
            }
        )
        self._adapter = _PerRequestRetryAdapter(pool_connections=4, pool_maxsize=16)
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
        label = f"{method} {url}"
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
        for attempt in (1, 2):
            self._pacer.wait(deadline=started + self.retry_budget)  # a 429 pauses every request
            self._adapter.use(
                make_retry(
                    attempts=self.retries,
                    budget_s=self.retry_budget,
                    backoff=self.backoff,
                    idempotent=idempotent,
                    pacer=self._pacer,
                )
            )
            try:
                resp = self.session.request(
                    method, url, data=data, headers=h, auth=self.auth, timeout=self.timeout
                )
            except requests.exceptions.SSLError:
                raise DeliveryError(
                    "TLS verification failed", server=self.base_url, request=label
                ) from None
            except requests.exceptions.Timeout:
                raise DeliveryError(
                    f"timed out (connect {self.timeout[0]} s, read {self.timeout[1]} s)",
                    server=self.base_url,
                    request=label,
                ) from None
            except requests.exceptions.ConnectionError as err:
                raise DeliveryError(
                    _connection_failure(err, time.monotonic() - started),
                    server=self.base_url,
                    request=label,
                ) from None
            except requests.exceptions.RequestException as err:
                raise DeliveryError(
                    f"request failed ({type(err).__name__})", server=self.base_url, request=label
                ) from None
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

    def json(self, resp: requests.Response, label: str) -> Any:
        """The response body as JSON; a clear DeliveryError for HTML pages or truncated JSON."""
        ctype = resp.headers.get("Content-Type", "")
        try:
            return jsonio.loads(resp.content)
        except ValueError:
            kind = (
                "an HTML page"
                if "html" in ctype or resp.text.lstrip().startswith("<")
                else "malformed JSON"
            )
            raise DeliveryError(
                f"server answered with {kind} ({ctype or 'no content type'})",
                server=self.base_url,
                request=label,
                status=resp.status_code,
            ) from None

    # ------------------------------------------------------------------ capabilities

    def capabilities(self) -> dict[str, Any]:
        """The server's CapabilityStatement (read once per client)."""
        if self._capabilities is None:
            resp = self.request("GET", "metadata")
            body = self.json(resp, f"GET {self.url('metadata')}")
            if (
                resp.status_code != 200
                or not isinstance(body, dict)
                or body.get("resourceType") != "CapabilityStatement"
            ):
                raise DeliveryError(
                    "no CapabilityStatement at /metadata",
                    server=self.base_url,
                    request=f"GET {self.url('metadata')}",
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
