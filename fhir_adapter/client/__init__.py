"""Delivery to FHIR servers and EHR sandboxes: ``post()`` and :class:`FhirClient`.

Names are imported on first use so that ``fhir-adapter --help`` does not load ``requests``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fhir_adapter.lazy import lazy_attributes

_LAZY = {
    "post": "fhir_adapter.client.api",
    "resolve_server": "fhir_adapter.client.api",
    "FhirClient": "fhir_adapter.client.session",
    "DEFAULT_SERVER": "fhir_adapter.client.session",
    "PostResult": "fhir_adapter.client.result",
    "EntryResult": "fhir_adapter.client.result",
    "Auth": "fhir_adapter.client.auth",
    "BasicAuth": "fhir_adapter.client.auth",
    "BearerToken": "fhir_adapter.client.auth",
    "SmartBackendAuth": "fhir_adapter.client.auth",
    "ConfigError": "fhir_adapter.client.errors",
    "DeliveryError": "fhir_adapter.client.errors",
    "InvalidBundle": "fhir_adapter.client.errors",
    "PublicServerWarning": "fhir_adapter.client.errors",
    "ServerUnreachable": "fhir_adapter.client.errors",
}

if TYPE_CHECKING:  # pragma: no cover
    from fhir_adapter.client.api import post, resolve_server
    from fhir_adapter.client.auth import Auth, BasicAuth, BearerToken, SmartBackendAuth
    from fhir_adapter.client.errors import (
        ConfigError,
        DeliveryError,
        InvalidBundle,
        PublicServerWarning,
        ServerUnreachable,
    )
    from fhir_adapter.client.result import EntryResult, PostResult
    from fhir_adapter.client.session import DEFAULT_SERVER, FhirClient

__all__ = [
    "DEFAULT_SERVER",
    "Auth",
    "BasicAuth",
    "BearerToken",
    "ConfigError",
    "DeliveryError",
    "EntryResult",
    "FhirClient",
    "InvalidBundle",
    "PostResult",
    "PublicServerWarning",
    "ServerUnreachable",
    "SmartBackendAuth",
    "post",
    "resolve_server",
]


__getattr__ = lazy_attributes(__name__, _LAZY, globals())
