"""``post()``: deliver a bundle or case to a FHIR server; server resolution.

Server resolution: the ``server`` argument, else ``$FHIR_SERVER``, else ``server:`` in the config
file (``$FHIR_ADAPTER_CONFIG`` or ``./fhir-adapter.yaml``), else the public HAPI R4 test server.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from fhir_adapter.client.auth import Auth
from fhir_adapter.client.delivery import (
    MODES,
    STRATEGIES,
    InvalidBundle,
    choose_strategy,
    load_bundle,
    prepare,
    verify,
)
from fhir_adapter.client.errors import ConfigError, DeliveryError
from fhir_adapter.client.result import PostResult
from fhir_adapter.client.session import DEFAULT_SERVER, FhirClient
from fhir_adapter.config import read_config


def _config() -> dict[str, Any]:
    return read_config(ConfigError)


def resolve_server(server: str | None = None) -> str:
    """The server base URL to use (argument, $FHIR_SERVER, config file, or public HAPI R4)."""
    return server or os.environ.get("FHIR_SERVER") or str(_config().get("server") or DEFAULT_SERVER)


def check_workers(workers: Any, mode: str) -> None:
    """Raise ConfigError unless ``workers`` is 1-32, and above 1 only in ``each`` mode."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 32:
        raise ConfigError(
            f"workers must be a number from 1 to 32, not {workers!r}",
            field="workers",
            fix="use --workers 4, for example",
        )
    if workers > 1 and mode != "each":
        raise ConfigError(
            f"workers applies to mode 'each' only (mode is {mode!r})",
            field="workers",
            fix="add --mode each, or drop --workers (a transaction or batch is one request)",
        )


def post(
    bundle_or_case: Any = None,
    server: str | None = None,
    mode: str = "transaction",
    *,
    client: FhirClient | None = None,
    auth: Auth | None = None,
    strategy: str = "auto",
    validate: bool = True,
    verify_readback: bool = False,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> PostResult:
    """Send a bundle (or a case, converted first) to a FHIR server; returns every entry's outcome.

    The bundle is validated offline first and refused (:class:`InvalidBundle`) if invalid,
    unless ``validate=False``. ``mode`` is ``transaction`` (all or nothing), ``batch``
    (independent entries) or ``each`` (one request per resource, references rewritten to
    server ids). Re-posting the same case creates no duplicates (see ``delivery`` strategies).
    With ``verify_readback`` every resource is read back and differences are recorded.
    ``workers`` (``each`` mode, 1-32) sends up to that many requests at once (and reads back
    as many at once); a resource is sent only after every entry it references has been answered.
    ``progress(done, total)`` is called after each answered entry in ``each`` mode.
    """
    if mode not in MODES:
        raise ConfigError(
            f"unknown mode {mode!r}", field="mode", fix=f"use one of: {', '.join(MODES)}"
        )
    if strategy not in STRATEGIES:
        raise ConfigError(
            f"unknown strategy {strategy!r}",
            field="strategy",
            fix=f"use one of: {', '.join(STRATEGIES)}",
        )
    check_workers(workers, mode)
    bundle = load_bundle(bundle_or_case)
    if validate:
        from fhir_adapter.validation import validate as run_validation

        report = run_validation(bundle)
        if not report.ok:
            raise InvalidBundle(report)
    own = client is None
    client = client or FhirClient(resolve_server(server), auth=auth)
    try:
        if mode in ("transaction", "batch") and not client.supports(mode):
            alt = "batch" if mode == "transaction" and client.supports("batch") else "each"
            raise DeliveryError(
                f"the server does not support {mode} (CapabilityStatement); try --mode {alt}",
                server=client.base_url,
                request="GET metadata",
            )
        chosen = choose_strategy(client, bundle, mode, strategy)
        from fhir_adapter.client.delivery import _send_bundle, _send_each

        if mode == "each":
            result = _send_each(
                client,
                prepare(bundle, "transaction", chosen) if chosen == "put" else bundle,
                chosen,
                workers,
                progress,
            )
        else:
            result = _send_bundle(client, prepare(bundle, mode, chosen), mode, chosen)
        if verify_readback:
            verify(client, bundle, result, workers)
        return result
    finally:
        if own:
            client.close()
