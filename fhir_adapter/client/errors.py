"""Every error the client raises: each names the server and the request, never a credential."""

from __future__ import annotations

from typing import Any

from fhir_adapter.errors import EXIT_INVALID, EXIT_UNREACHABLE, FhirAdapterError, InputError


class DeliveryError(FhirAdapterError):
    """The server could not be reached, refused the request, or answered something unusable."""

    exit_code = EXIT_INVALID

    def __init__(
        self, message: str, *, server: str, request: str, status: int | None = None
    ) -> None:
        self.server = server
        self.request = request
        self.status = status
        #: In ``each`` mode, what the server had already done when the error stopped the post
        #: (a PostResult, entries never sent included), so nothing it created goes unreported.
        self.partial: Any = None
        where = f"{request} -> HTTP {status}" if status else request
        super().__init__(f"{server}: {where}: {message}")


class ServerUnreachable(DeliveryError):
    """The server could not be reached at all, after every retry (name not found, connection
    refused or timed out, proxy unusable): the request was not delivered. Exit code 3."""

    exit_code = EXIT_UNREACHABLE


class ConfigError(InputError):
    """Bad delivery settings or input: server URL, credentials, mode, strategy, or a bundle
    that cannot be posted as asked."""


class PublicServerWarning(UserWarning):
    """``post`` is about to send to the public HAPI R4 test server because no server was given
    (no ``server`` argument, ``$FHIR_SERVER`` or ``server:`` setting): what is sent is public.
    Make it an error with ``warnings.simplefilter("error", PublicServerWarning)``."""


class InvalidBundle(FhirAdapterError):
    """The bundle failed local validation and was not sent."""

    exit_code = EXIT_INVALID

    def __init__(self, report: Any) -> None:
        self.report = report
        super().__init__("the bundle is invalid; nothing was sent\n" + report.to_text())
