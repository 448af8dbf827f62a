"""Retry policy: urllib3's Retry (backoff with jitter, Retry-After) plus a total-time budget.

urllib3 cannot cap the total time spent retrying, so ``BudgetRetry`` adds a deadline carried
across its copies; everything else (which statuses, backoff, honouring Retry-After in seconds
or HTTP-date form) is urllib3's own behaviour.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from urllib3.util.retry import Retry

#: Statuses worth retrying: rate limiting and transient gateway/server unavailability.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
#: Never retried: the request itself is wrong or forbidden, or a precondition failed.
NEVER_RETRY = frozenset({400, 401, 403, 404, 409, 410, 412, 422})


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
        """Sleep until the pause is over (never past ``deadline``)."""
        while True:
            with self._lock:
                delay = self._until - time.monotonic()
            if deadline is not None:
                delay = min(delay, deadline - time.monotonic())
            if delay <= 0:
                return
            time.sleep(delay)


class BudgetRetry(Retry):
    """A Retry that also gives up once ``deadline`` (a ``time.monotonic()`` value) has passed,
    and tells a shared ``pacer`` when the server asks for a pause (429 with Retry-After)."""

    def __init__(
        self,
        *args: Any,
        deadline: float | None = None,
        pacer: Pacer | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline
        self.pacer = pacer

    def new(self, **kw: Any) -> BudgetRetry:
        kw.setdefault("deadline", self.deadline)
        kw.setdefault("pacer", self.pacer)
        return super().new(**kw)

    def is_exhausted(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            return True
        return bool(super().is_exhausted())

    def sleep_for_retry(self, response: Any = None) -> bool:
        retry_after = self.get_retry_after(response) if response is not None else None
        if retry_after is not None and self.pacer is not None and response.status == 429:
            self.pacer.pause(retry_after)
        if (
            retry_after is not None
            and self.deadline is not None
            and time.monotonic() + retry_after > self.deadline
        ):
            self.total = 0  # the server asks us to wait longer than the budget allows
            return False
        return bool(super().sleep_for_retry(response))


def make_retry(
    *,
    attempts: int = 5,
    budget_s: float = 60.0,
    backoff: float = 0.5,
    idempotent: bool,
    pacer: Pacer | None = None,
) -> BudgetRetry:
    """The retry policy for one request.

    Connection errors (nothing reached the server) are always retried. Retrying after the server
    may have acted (read errors, 429/5xx answers) is allowed for POST only when ``idempotent``
    (conditional creates / PUTs), so a retry cannot create a duplicate.
    """
    methods = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"} | ({"POST"} if idempotent else set())
    return BudgetRetry(
        total=attempts,
        connect=attempts,
        read=attempts if idempotent else 0,
        status=attempts,
        other=0,
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
    )
