"""``post()`` for bundles: deliver a Bundle (a dict) to a FHIR server; server resolution.

Server resolution: the ``server`` argument, else ``$FHIR_SERVER``, else ``server:`` in the config
file (``$FHIR_ADAPTER_CONFIG`` or ``./fhir-adapter.yaml``), else the public HAPI R4 test server.
Case files are the API layer's business (:func:`fhir_adapter.post`), not the client's.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from typing import Any

from fhir_adapter.client.auth import Auth
from fhir_adapter.client.delivery import send_bundle, send_each
from fhir_adapter.client.errors import (
    ConfigError,
    DeliveryError,
    InvalidBundle,
    PublicServerWarning,
)
from fhir_adapter.client.layers import send_layers
from fhir_adapter.client.plan import (
    MODES,
    STRATEGIES,
    Plan,
    check_bundle,
    choose_strategy,
    plan,
    strategy_reason,
)
from fhir_adapter.client.result import PostResult
from fhir_adapter.client.session import DEFAULT_SERVER, FhirClient
from fhir_adapter.client.verify import verify
from fhir_adapter.config import config_path, read_config


def _config() -> dict[str, Any]:
    return read_config(ConfigError)


def choose_server(server: str | None = None) -> tuple[str, str | None]:
    """The server base URL to use and who chose it: ``"argument"``, ``"$FHIR_SERVER"``, the
    settings file, or None for the public HAPI R4 default (nobody asked for a server).

    ConfigError for an empty ``server`` argument and for a ``server:`` setting that is not a
    URL string: a server asked for must never turn into the public one."""
    if server is not None:
        if not isinstance(server, str) or not server.strip():
            raise ConfigError(
                f"the server is empty ({server!r})",
                field="server",
                fix="give the FHIR base URL, e.g. --server https://ehr.example/fhir",
            )
        return server, "argument"
    env = os.environ.get("FHIR_SERVER")
    if env:
        return env, "$FHIR_SERVER"
    settings = _config()
    if "server" in settings:
        value = settings["server"]
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(
                f"must be the FHIR base URL, not {value!r}",
                file=str(config_path()),
                field="server",
                fix="e.g. server: https://ehr.example/fhir (or remove the key)",
            )
        return value, f"server: in {config_path()}"
    return DEFAULT_SERVER, None


def _caller_outside_package() -> int:
    """The ``stacklevel`` that points a warning issued by the calling function at the first
    caller outside fhir_adapter (the user's line)."""
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
    frame, level = sys._getframe(1), 1
    while frame.f_back is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


def public_server_notice(url: str) -> str:
    """What is said when the public default server is about to be used."""
    return (
        f"no --server, $FHIR_SERVER or server: in the settings file; using the public HAPI R4 "
        f"test server {url} (what is sent there is public)"
    )


def resolve_server(server: str | None = None) -> str:
    """The server base URL to use (argument, $FHIR_SERVER, config file, or public HAPI R4)."""
    return choose_server(server)[0]


def check_options(mode: Any, strategy: Any, workers: Any) -> None:
    """ConfigError for an unknown mode or strategy, or workers not 1-32 (above 1 only in
    ``each`` mode)."""
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
            fix="add --mode each, or drop --workers (transaction and batch requests go one at a time)",
        )


def _check_updates(client: FhirClient, steps: Plan) -> None:
    """Refuse, before sending, an ``each`` or ``batch`` post whose reference cycles need updates the server
    declares it does not offer; note how many resources are written twice."""
    assert steps.order is not None
    twice = steps.order.two_phase
    types = sorted({steps.steps[i].resource_type for i in twice})
    refused = []
    for t in types:
        declared = client.resource_capability(t).get("interaction")
        codes = (
            {i.get("code") for i in declared if isinstance(i, dict)}
            if isinstance(declared, list)
            else None
        )
        if codes and "update" not in codes:
            refused.append(t)
    if refused:
        raise DeliveryError(
            f"entries refer to each other in reference cycles, which {steps.mode} mode writes in two "
            f"steps (create, then update), and the server declares no update for "
            f"{', '.join(refused)} (CapabilityStatement); try --mode transaction",
            server=client.base_url,
            request="GET metadata",
        )
    if steps.mode != "each":
        return  # the plan's note on batches in layers says it
    steps.notes.append(
        f"{len(twice)} of {len(steps.steps)} entries ({', '.join(types)}) are in reference "
        "cycles: each is written first without the references that close the cycle, then "
        "updated with the whole resource once every entry exists"
    )


def post(
    bundle: dict[str, Any],
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
    """Send a transaction, batch or document Bundle to a FHIR server; returns every entry's
    outcome (a document is stored as one Bundle resource, see :mod:`fhir_adapter.client.plan`).

    The bundle is validated offline first and refused (:class:`InvalidBundle`) if invalid,
    unless ``validate=False``; a bundle that cannot be posted as asked is refused
    (:class:`ConfigError`) before anything is sent. ``mode`` is ``transaction`` (all or
    nothing), ``batch`` (independent entries) or ``each`` (one request per resource, references
    rewritten to server ids; reference cycles written in two phases, see
    :mod:`fhir_adapter.client.order`). Re-posting a bundle fhir-adapter made creates no duplicates (see
    :mod:`fhir_adapter.client.plan`); entries made elsewhere are sent as written. With
    ``verify_readback`` every resource is read back and differences are recorded. ``workers``
    (``each`` mode, 1-32) sends up to that many requests at once; ``progress(done, total)`` is
    called after each answered entry in ``each`` mode.
    """
    check_options(mode, strategy, workers)
    if not isinstance(bundle, dict):
        raise ConfigError(
            f"fhir_adapter.client.post takes a Bundle (a dict), not {type(bundle).__name__}",
            fix="use fhir_adapter.post for case files and paths",
        )
    check_bundle(bundle)
    if validate:
        from fhir_adapter.validation import validate as run_validation

        report = run_validation(bundle)
        if not report.ok:
            raise InvalidBundle(report)
    own = client is None
    if client is None:
        url, chooser = choose_server(server)
        if chooser is None:
            warnings.warn(
                public_server_notice(url), PublicServerWarning, stacklevel=_caller_outside_package()
            )
        client = FhirClient(url, auth=auth)
    try:
        document = bundle.get("type") == "document"  # one Bundle resource, whatever the mode
        if mode in ("transaction", "batch") and not document and not client.supports(mode):
            alt = "batch" if mode == "transaction" and client.supports("batch") else "each"
            raise DeliveryError(
                f"the server does not support {mode} (CapabilityStatement); try --mode {alt}",
                server=client.base_url,
                request="GET metadata",
            )
        chosen = choose_strategy(client, bundle, mode, strategy)
        steps = plan(bundle, mode, chosen)
        steps.notes.append(strategy_reason(client, bundle, strategy, chosen))
        if steps.order is not None and steps.order.two_phase:
            _check_updates(client, steps)
        if steps.mode == "each":
            result = send_each(client, steps, workers, progress)
        elif steps.mode == "batch":
            result = send_layers(client, steps)
        else:
            result = send_bundle(client, steps)
        if verify_readback:
            verify(client, steps, result, workers)
        return result
    finally:
        if own:
            client.close()
