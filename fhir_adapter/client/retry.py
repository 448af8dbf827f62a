"""Retry policy: urllib3's Retry (backoff with jitter, Retry-After) plus a total-time budget.

urllib3 cannot cap the total time spent retrying, so ``BudgetRetry`` adds a deadline carried
across its copies; everything else (which statuses, backoff, honouring Retry-After in seconds
or HTTP-date form) is urllib3's own behaviour, with three changes:

- a Retry-After that would end after the deadline stops the retries at once: the refused
  answer is returned (the client turns it into an error) instead of retrying immediately;
- a malformed Retry-After (``1.5``, ``-5``, ``soon``) is ignored: the usual backoff applies;
- every retry is logged in a list shared by the copies, so errors can say what was retried,
  and told as it happens to ``notify`` ("server busy (HTTP 503), retrying in 4 s (2/5)").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from urllib3.exceptions import InvalidHeader, MaxRetryError
from urllib3.util.retry import Retry

#: Statuses worth retrying: rate limiting and transient gateway/server unavailability (no other
#: status is retried: 400, 401, 403, 404, 409, 412, 422 mean the request itself must change).
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class PauseTooLong(Exception):
    """The shared pause outlasts this request's retry budget (``seconds`` left of it)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        super().__init__(f"paused for {seconds:.0f} s more")


class Pacer:
    """A pause shared by every request of one client: when the server answers 429 with
    Retry-After, the whole client waits, not only the request that was refused (with several
    workers the others would otherwise keep hitting the rate limit)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._until = 0.0

    def pause(self, seconds: float) -> None:
        """Hold new requests for ``seconds`` from now (a longer pause already set wins)."""
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self, deadline: float | None = None) -> None:
        """Sleep until the pause is over; PauseTooLong at once if it ends after ``deadline``."""
        with self._lock:
            until = self._until
        delay = until - time.monotonic()
        if delay <= 0:
            return
        if deadline is not None and until > deadline:
            raise PauseTooLong(delay)
        time.sleep(delay)


class BudgetRetry(Retry):
    """A Retry that also gives up once ``deadline`` (a ``time.monotonic()`` value) has passed,
    tells a shared ``pacer`` when the server asks for a pause (429 with Retry-After), and
    records each retry's cause in ``log``."""

    def __init__(
        self,
        *args: Any,
        deadline: float | None = None,
        pacer: Pacer | None = None,
        log: list[str] | None = None,
        notify: Callable[[str], None] | None = None,
        limit: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.pacer = pacer
        self.log = log if log is not None else []
        self.notify = notify
        self.limit = limit

    def new(self, **kw: Any) -> BudgetRetry:
        kw.setdefault("deadline", self.deadline)
        kw.setdefault("pacer", self.pacer)
        kw.setdefault("log", self.log)
        kw.setdefault("notify", self.notify)
        kw.setdefault("limit", self.limit)
        return super().new(**kw)

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            return float(super().parse_retry_after(retry_after))
        except InvalidHeader:
            return -1.0  # unreadable: see get_retry_after

    def get_retry_after(self, response: Any) -> float | None:
        seconds = super().get_retry_after(response)
        return None if seconds is None or seconds < 0 else seconds

    def is_exhausted(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return True
        return bool(super().is_exhausted())

    def increment(self, *args: Any, **kwargs: Any) -> BudgetRetry:
        response = kwargs.get("response")
        error = kwargs.get("error")
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and response.status == 429 and self.pacer is not None:
                self.pacer.pause(wait)  # every request of the client holds back
            if (
                wait is not None
                and self.deadline is not None
                and time.monotonic() + wait > self.deadline
            ):
                # The server asks for a longer pause than the budget allows: stop now and let
                # the caller report it (retrying at once would only be refused again).
                raise MaxRetryError(kwargs.get("_pool"), kwargs.get("url") or "", None)  # type: ignore[arg-type]
        new: BudgetRetry = super().increment(*args, **kwargs)
        self.log.append(f"HTTP {response.status}" if response is not None else type(error).__name__)
        if self.notify is not None:
            wait = self.get_retry_after(response) if response is not None else None
            self.notify(
                retry_message(
                    response.status if response is not None else None,
                    error,
                    new.get_backoff_time() if wait is None else wait,
                    len(self.log),
                    self.limit,
                )
            )
        return new


def retry_message(
    status: int | None, error: BaseException | None, wait: float, attempt: int, limit: int | None
) -> str:
    """``server busy (HTTP 503), retrying in 4 s (2/5)``: a retry in words, as it happens."""
    if status is not None:
        cause = f"server busy (HTTP {status})" if status in (429, 503) else f"HTTP {status}"
    else:
        from fhir_adapter.client.transport import describe_failure

        cause = describe_failure(error)[0] if error is not None else "request failed"
    of = f"/{limit}" if limit else ""
    when = "now" if wait < 0.05 else f"in {wait:.1f} s" if wait < 10 else f"in {wait:.0f} s"
    return f"{cause}, retrying {when} ({attempt}{of})"


def make_retry(
    *,
    attempts: int = 5,
    budget_s: float = 60.0,
    backoff: float = 0.5,
    idempotent: bool,
    pacer: Pacer | None = None,
    log: list[str] | None = None,
    notify: Callable[[str], None] | None = None,
) -> BudgetRetry:
    """The retry policy for one request.

    Connection errors (nothing reached the server) are always retried. Retrying after the server
    may have acted (read errors, 429/5xx answers) is allowed for POST only when ``idempotent``
    (conditional creates / PUTs), so a retry cannot create a duplicate. Redirects are never
    followed here (the client decides, see ``session``).
    """
    methods = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"} | ({"POST"} if idempotent else set())
    return BudgetRetry(
        total=attempts,
        connect=attempts,
        read=attempts if idempotent else 0,
        status=attempts,
        other=0,
        redirect=0,
        allowed_methods=frozenset(methods),
        status_forcelist=RETRY_STATUSES,
        backoff_factor=backoff,
        backoff_jitter=backoff / 2,
        backoff_max=30.0,
        respect_retry_after_header=True,
        raise_on_status=False,
        raise_on_redirect=False,
        deadline=time.monotonic() + budget_s,
        pacer=pacer,
        log=log,
        notify=notify,
        limit=attempts,
    )
