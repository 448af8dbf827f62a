"""The guarded HTTP layer under :class:`~fhir_adapter.client.session.FhirClient` and SMART auth.

What ``requests`` and urllib3 do not do, done here:

- a wall-clock deadline per response: a read timeout restarts with every byte, so a server
  that trickles a byte a second would hold a request for ever. Each attempt arms a timer (one
  watchdog thread serves them all); when it fires, the socket is shut down and the request
  fails. (urllib3 has no hook for this; the connection classes below note which socket an
  attempt uses.)
- a cap on the decoded size of a body, read as a stream (a 1 MB gzip answer can decode to 1 GB);
- no redirects: every 3xx comes back to the caller, which decides;
- a per-thread retry policy on one pooled session.
"""

from __future__ import annotations

import contextlib
import heapq
import socket
import threading
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.util.retry import Retry

#: The largest decoded response body accepted by default (bytes).
MAX_BODY = 256 * 1024 * 1024

_local = threading.local()


class _Watchdog:
    """One daemon thread for the whole process that fires expired :class:`Watch` timers (a
    thread per request would cost more than the rest of the client's work per request)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._count = 0
        self._thread: threading.Thread | None = None

    def add(self, at: float, watch: Watch) -> None:
        with self._cond:
            self._count += 1
            heapq.heappush(self._heap, (at, self._count, watch))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="fhir-adapter-watchdog", daemon=True
                )
                self._thread.start()
            elif self._heap[0][2] is watch:
                self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap:
                    self._cond.wait()
                at, _, watch = self._heap[0]
                delay = at - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
            watch.fire(at)


_WATCHDOG = _Watchdog()


class Watch:
    """A wall-clock limit on each attempt of one request, from sending to the last byte."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.expired = False
        self._conn: Any = None
        self._at: float | None = None  # when the current attempt expires; None when stopped

    def arm(self, conn: Any) -> None:
        """A new attempt starts on ``conn``: restart the clock for it."""
        self._conn = conn
        self._at = time.monotonic() + self.seconds
        _WATCHDOG.add(self._at, self)

    def fire(self, at: float) -> None:
        """Called by the watchdog: shut the socket if the attempt armed at ``at`` still runs."""
        if self._at != at:
            return  # stopped, or a later attempt has its own time
        self.expired = True
        sock = getattr(self._conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def cancel(self) -> None:
        """Stop the clock."""
        self._at = None

    def __enter__(self) -> Watch:
        _local.watch = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()
        _local.watch = None


def _arm(conn: Any) -> None:
    watch: Watch | None = getattr(_local, "watch", None)
    if watch is not None:
        watch.arm(conn)


class _WatchedHTTPConnection(HTTPConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _arm(self)
        super().request(*args, **kwargs)


class _WatchedHTTPSConnection(HTTPSConnection):
    def request(self, *args: Any, **kwargs: Any) -> None:
        _arm(self)
        super().request(*args, **kwargs)


class _Pool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _TLSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_POOLS = {"http": _Pool, "https": _TLSPool}


class GuardedAdapter(HTTPAdapter):
    """An HTTPAdapter whose connections obey :class:`Watch` and whose retry policy is set per
    request and per thread, so one pooled session serves concurrent requests with different
    policies (idempotent or not)."""

    def __init__(self, **kwargs: Any) -> None:
        self._local = threading.local()
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager

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


class TooLarge(Exception):
    """The body exceeds the size limit (``size`` bytes read or announced so far)."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"more than {limit} bytes")


def read_body(resp: requests.Response, max_bytes: int = MAX_BODY) -> bytes:
    """Read a streamed response's body, decoded, refusing more than ``max_bytes``; the result is
    also kept as ``resp.content``."""
    announced = resp.headers.get("Content-Length", "")
    encoded = resp.headers.get("Content-Encoding", "identity").lower() not in ("", "identity")
    if announced.isdigit() and int(announced) > max_bytes and not encoded:
        resp.close()
        raise TooLarge(int(announced), max_bytes)
    chunks: list[bytes] = []
    size = 0
    for chunk in resp.raw.stream(64 * 1024, decode_content=True):
        size += len(chunk)
        if size > max_bytes:
            resp.close()
            raise TooLarge(size, max_bytes)
        chunks.append(chunk)
    body = b"".join(chunks)
    resp._content = body
    resp._content_consumed = True  # type: ignore[attr-defined]
    return body


def fetch(
    session: requests.Session,
    method: str,
    url: str,
    *,
    timeout: tuple[float, float],
    max_bytes: int = MAX_BODY,
    **kwargs: Any,
) -> requests.Response:
    """One request without redirects, the whole answer read within ``timeout[1]`` seconds per
    attempt and at most ``max_bytes`` decoded. Raises what ``requests`` raises, TooLarge, or
    ``requests.Timeout`` when the deadline cut the answer short."""
    with Watch(timeout[1]) as watch:
        try:
            resp = session.request(
                method, url, timeout=timeout, allow_redirects=False, stream=True, **kwargs
            )
            read_body(resp, max_bytes)
        except (requests.RequestException, OSError, ValueError) as err:
            if watch.expired:
                raise DeadlineExceeded(watch.seconds) from None
            if isinstance(err, requests.RequestException):
                raise
            raise requests.exceptions.ConnectionError(err) from None
        except Exception as err:
            if watch.expired and not isinstance(err, TooLarge):
                raise DeadlineExceeded(watch.seconds) from None
            raise
    return resp


class DeadlineExceeded(requests.exceptions.Timeout):
    """The answer did not arrive in full within the per-response deadline."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"no complete answer within {seconds:g} s")


def _causes(err: BaseException) -> list[BaseException]:
    """``err`` and every exception it wraps (args, ``reason``, cause, context), outermost first."""
    out: list[BaseException] = []
    todo: list[Any] = [err]
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or any(e is o for o in out) or len(out) > 20:
            continue
        out.append(e)
        todo.extend([e.__context__, e.__cause__, getattr(e, "reason", None), *reversed(e.args[:1])])
    return out


def unreachable(err: BaseException) -> bool:
    """True when the server could not be reached at all: its name not found, the connection
    refused or not made in time, or the proxy unusable (not a TLS or answer problem)."""
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, ProxyError

    kinds = tuple(type(c) for c in _causes(err))
    return any(
        issubclass(k, (NameResolutionError, ConnectTimeoutError, ProxyError))
        or issubclass(k, (requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError))
        for k in kinds
    ) or (
        isinstance(err, requests.exceptions.ConnectionError)
        and describe_failure(err)[0] in ("connection refused", "could not connect")
    )


def describe_failure(err: BaseException) -> tuple[str, bool]:
    """Why a request failed, in words (never a URL or header, which could carry secrets), and
    whether the request may have reached the server."""
    import ssl

    from urllib3.exceptions import (
        ConnectTimeoutError,
        NameResolutionError,
        NewConnectionError,
        ProxyError,
    )

    causes = _causes(err)
    kinds = tuple(type(c) for c in causes)

    def has(*types: type) -> bool:
        return any(issubclass(k, types) for k in kinds)

    if isinstance(err, DeadlineExceeded):
        return (
            f"no complete answer within {err.seconds:g} s (the server was still sending; "
            "the per-response deadline is the read timeout, --timeout)",
            True,
        )
    if isinstance(err, TooLarge):
        return (f"the answer is larger than {err.limit:,} bytes once decoded; refused", True)
    tls = next((c for c in causes if isinstance(c, ssl.SSLError)), None)
    if tls is not None or isinstance(err, requests.exceptions.SSLError):
        reason = str(getattr(tls, "reason", "") or "")
        detail = str(getattr(tls, "verify_message", "") or "")
        text = f"{reason} {detail} {tls or err}".lower()
        if (
            "wrong_version_number" in text
            or "wrong version number" in text
            or ("record layer" in text)
        ):
            return ("the server does not speak TLS on this port (a plain-http server?)", False)
        if "mismatch" in text or "doesn't match" in text:
            return (f"TLS: the server's certificate is for another host name ({detail})", False)
        if "certificate_verify_failed" in text or "certificate verify failed" in text:
            return (
                f"TLS verification failed: {detail or 'untrusted certificate'} "
                "(--ca-bundle FILE names the CA that signed it)",
                False,
            )
        return (f"TLS handshake failed ({reason or type(tls or err).__name__})", False)
    if has(ProxyError, requests.exceptions.ProxyError):
        return ("the proxy (from $HTTPS_PROXY/$HTTP_PROXY) could not be used", False)
    if has(NameResolutionError):
        return ("host name not found", False)
    if has(NewConnectionError):  # a subclass of ConnectTimeoutError: test it first
        refused = any("refused" in str(c).lower() for c in causes)
        return ("connection refused" if refused else "could not connect", False)
    if has(ConnectTimeoutError, requests.exceptions.ConnectTimeout):
        return ("could not connect in time (connect timeout)", False)
    if isinstance(err, requests.exceptions.Timeout):
        return ("no answer in time (read timeout)", True)
    text = " ".join(str(c).lower() for c in causes)
    if (
        "reset" in text
        or "aborted" in text
        or "remotedisconnected" in text
        or has(ConnectionResetError, BrokenPipeError)
    ):
        return ("the server dropped the connection", True)
    if "remote end closed" in text or "incomplete" in text or "protocol" in text:
        return ("the server dropped the connection", True)
    return (f"request failed ({type(err).__name__})", True)
