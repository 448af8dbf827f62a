"""Authentication for FHIR servers: bearer token, HTTP basic, SMART Backend Services.

Secrets live only inside these objects; ``repr()`` and ``describe()`` never show them.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from fhir_adapter.client import transport
from fhir_adapter.client.errors import ConfigError, DeliveryError
from fhir_adapter.client.urls import safe_for_secrets, shown, unsafe_proxy


def check_secret(value: str, what: str, *, allow_space: bool = False) -> str:
    """``value`` if it can travel in an HTTP header; ConfigError (never echoing it) if not."""
    for i, ch in enumerate(value):
        if ord(ch) < 0x20 or ord(ch) == 0x7F or (ch == " " and not allow_space):
            kind = "a line break" if ch in "\r\n" else "a control character or space"
            raise ConfigError(
                f"the {what} contains {kind} at character {i + 1}",
                field=what,
                fix="store it without line breaks or spaces (a token file holds it on its first line)",
            )
        if ord(ch) > 0x7E:
            raise ConfigError(
                f"the {what} contains a non-ASCII character at character {i + 1}",
                field=what,
                fix="check that the right value was given (tokens are ASCII)",
            )
    return value


class Auth(requests.auth.AuthBase):
    """Base: adds credentials to a request; may be refreshed once after a 401."""

    refreshable = False

    def refresh(self, session: requests.Session, *, only_if_needed: bool = False) -> None:
        """Get fresh credentials (only meaningful when ``refreshable``); with
        ``only_if_needed``, skip it when another thread has just done it."""

    def describe(self) -> str:
        """A redacted description for logs and dry runs."""
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.describe()}>"


class BearerToken(Auth):
    """A static bearer token (from a value, an environment variable, or a file)."""

    def __init__(self, token: str) -> None:
        if not isinstance(token, str) or not token.strip():
            raise ConfigError("empty bearer token", fix="set the token variable or file")
        self._token = check_secret(token.strip(), "bearer token")

    @classmethod
    def from_env(cls, name: str) -> BearerToken:
        """The token in environment variable ``name``."""
        value = os.environ.get(name)
        if not value:
            raise ConfigError(
                f"environment variable {name} is not set", field="token", fix=f"export {name}=..."
            )
        return cls(value)

    @classmethod
    def from_file(cls, path: str | Path) -> BearerToken:
        """The token stored in a file (first line)."""
        try:
            return cls(Path(path).read_text(encoding="utf-8").splitlines()[0])
        except (OSError, IndexError):
            raise ConfigError(
                "cannot read the token file", file=str(path), fix="check the path"
            ) from None

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        r.headers["Authorization"] = f"Bearer {self._token}"
        return r

    def describe(self) -> str:
        return "Bearer token (redacted)"


class BasicAuth(Auth):
    """HTTP basic authentication."""

    def __init__(self, user: str, password: str) -> None:
        if ":" in user:
            raise ConfigError(
                "the basic-auth user name contains ':'",
                field="user",
                fix="HTTP basic (RFC 7617) user names cannot hold ':'; check the user name",
            )
        for value, what in ((user, "basic-auth user name"), (password, "basic-auth password")):
            if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
                raise ConfigError(
                    f"the {what} contains a control character or line break",
                    field=what,
                    fix="check the value (a trailing newline from a file or a paste counts)",
                )
        # RFC 7617: user-id and password as UTF-8 (requests alone would use Latin-1 and fail
        # on anything else).
        self._inner = requests.auth.HTTPBasicAuth(user.encode(), password.encode())
        self._user = user

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        result: requests.PreparedRequest = self._inner(r)
        return result

    def describe(self) -> str:
        return f"HTTP basic as {self._user!r} (password redacted)"


class SmartBackendAuth(Auth):
    """SMART Backend Services: client-credentials grant with a signed JWT assertion.

    The token endpoint comes from ``{base}/.well-known/smart-configuration``; tokens are cached
    until shortly before they expire and refreshed once after a 401.
    """

    refreshable = True

    def __init__(
        self,
        base_url: str,
        client_id: str,
        private_key_pem: str,
        *,
        kid: str | None = None,
        alg: str = "RS384",
        scope: str = "system/*.write system/*.read",
        token_url: str | None = None,
    ) -> None:
        if alg not in ("RS384", "ES384"):
            raise ConfigError(f"unsupported JWT algorithm {alg}", fix="use RS384 or ES384")
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self._key = private_key_pem
        self.kid = kid
        self.alg = alg
        self.scope = scope
        if token_url is not None and not safe_for_secrets(token_url):
            raise ConfigError(
                "the token URL must be https (or http to a loopback address)",
                field="token_url",
                fix="use the server's https token endpoint",
            )
        self.token_url = token_url
        self._token: str | None = None
        self._expires = 0.0
        self._lock = threading.Lock()

    def describe(self) -> str:
        return f"SMART Backend Services as client {self.client_id!r} ({self.alg}, key redacted)"

    def _assertion(self, audience: str) -> str:
        import jwt

        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": audience,
            "exp": now + 300,
            "jti": str(uuid.uuid4()),
        }
        headers = {"kid": self.kid} if self.kid else None
        return str(jwt.encode(claims, self._key, algorithm=self.alg, headers=headers))

    def _fetch(
        self, session: requests.Session, method: str, url: str, what: str, **kw: Any
    ) -> requests.Response:
        """One discovery or token request: no redirects, bounded time and size."""
        failure = None
        try:
            resp = transport.fetch(
                session, method, url, timeout=(5.0, 30.0), max_bytes=1024 * 1024, **kw
            )
        except (requests.RequestException, transport.TooLarge, OSError) as err:
            failure = f"{what}: {transport.describe_failure(err)[0]}"
        if failure is not None:  # raised outside ``except``: no context holding the request
            raise DeliveryError(failure, server=self.base_url, request=f"{method} {url}")
        if 300 <= resp.status_code < 400:
            raise DeliveryError(
                f"{what}: the server redirects to {resp.headers.get('Location', '?')!r}; SMART "
                "discovery and token requests never follow redirects",
                server=self.base_url,
                request=f"{method} {url}",
                status=resp.status_code,
            )
        return resp

    def _discover(self, session: requests.Session) -> str:
        if self.token_url:
            return self.token_url
        url = f"{self.base_url}/.well-known/smart-configuration"
        resp = self._fetch(
            session, "GET", url, "SMART discovery", headers={"Accept": "application/json"}
        )
        endpoint = None
        if resp.status_code == 200:
            try:
                endpoint = resp.json().get("token_endpoint")
            except (ValueError, AttributeError):
                endpoint = None
        if endpoint is None:
            raise DeliveryError(
                "no token_endpoint in the SMART configuration"
                + ("" if resp.status_code == 200 else f" (HTTP {resp.status_code})"),
                server=self.base_url,
                request=f"GET {url}",
                status=resp.status_code,
            )
        if not isinstance(endpoint, str) or not safe_for_secrets(endpoint):
            raise DeliveryError(
                "the SMART token_endpoint is not an https URL (the signed assertion would travel "
                "in clear text)",
                server=self.base_url,
                request=f"GET {url}",
            )
        self.token_url = endpoint
        return endpoint

    def refresh(self, session: requests.Session, *, only_if_needed: bool = False) -> None:
        """Fetch a new access token (one thread at a time)."""
        with self._lock:
            if only_if_needed and not self.needs_refresh():
                return  # another request refreshed it while this one waited
            token_url = self._discover(session)
            proxy = unsafe_proxy(token_url, dict(session.proxies))
            if proxy:
                raise DeliveryError(
                    f"refusing to send the signed assertion through the plain-http proxy "
                    f"{shown(proxy)}",
                    server=self.base_url,
                    request=f"POST {token_url}",
                )
            data = {
                "grant_type": "client_credentials",
                "scope": self.scope,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self._assertion(token_url),
            }
            resp = self._fetch(session, "POST", token_url, "token request", data=data, auth=None)
            if resp.status_code != 200:
                raise DeliveryError(
                    "token request refused",
                    server=self.base_url,
                    request=f"POST {token_url}",
                    status=resp.status_code,
                )
            try:
                body: dict[str, Any] = resp.json()
                self._token = str(body["access_token"])
            except (ValueError, KeyError, TypeError):
                raise DeliveryError(
                    "token response has no access_token",
                    server=self.base_url,
                    request=f"POST {token_url}",
                ) from None
            lifetime = body.get("expires_in", 300)
            if isinstance(lifetime, bool) or not isinstance(lifetime, (int, float, str)):
                lifetime = 300
            try:
                seconds = float(lifetime)
            except ValueError:
                seconds = 300.0  # an unreadable lifetime: assume the common 5 minutes
            self._expires = time.time() + seconds - 30

    def needs_refresh(self) -> bool:
        """Whether there is no cached token or it is about to expire."""
        return self._token is None or time.time() >= self._expires

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token:
            r.headers["Authorization"] = f"Bearer {self._token}"
        return r
