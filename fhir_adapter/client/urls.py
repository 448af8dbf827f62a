"""URL rules of the client: usable server URLs, loopback, same origin, and where secrets may go."""

from __future__ import annotations

import ipaddress
from urllib.parse import SplitResult, urljoin, urlsplit

from fhir_adapter.client.errors import ConfigError


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


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` is this machine (localhost, 127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def safe_for_secrets(url: str) -> bool:
    """Whether a secret may travel to ``url``: https, or http to this machine only."""
    parts = urlsplit(url)
    return bool(parts.netloc) and (
        parts.scheme == "https" or (parts.scheme == "http" and is_loopback(parts.hostname))
    )


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with default ports made explicit."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


def same_base(a: str, b: str) -> bool:
    """Whether two base URLs name the same endpoint: the same origin (scheme and host in any
    letter case, a default port written or not) and the same path (a trailing slash aside)."""
    return origin(a) == origin(b) and urlsplit(a).path.rstrip("/") == urlsplit(b).path.rstrip("/")


def resolve(base: str, location: str) -> str:
    """``location`` (absolute or relative, as in a Location header) made absolute."""
    return urljoin(base if base.endswith("/") else base + "/", location)


def unsafe_proxy(url: str, proxies: dict[str, str]) -> str | None:
    """The proxy that would see a request to ``url`` in clear text (a plain-http request through
    a proxy that is not on this machine), or None. An https request through any proxy is a
    CONNECT tunnel: the proxy sees only the host name."""
    scheme = urlsplit(url).scheme
    if scheme != "http":
        return None
    proxy = (
        proxies.get(f"http://{urlsplit(url).hostname}") or proxies.get("http") or proxies.get("all")
    )
    if not proxy:
        return None
    return None if is_loopback(urlsplit(proxy).hostname) else proxy


def shown(proxy: str) -> str:
    """A proxy URL without any user:password."""
    parts = urlsplit(proxy)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
