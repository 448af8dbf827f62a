"""Fixtures for delivery tests: a real local FHIR server (sekmet-fhir), hostile scripted
servers, and the internet marker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fhir_adapter.testing import local_fhir_server


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-internet"):
        return
    skip = pytest.mark.skip(reason="needs the internet; run with --run-internet")
    for item in items:
        if "internet" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def fhir_server() -> Iterator[str]:
    """A fresh local FHIR R4 server for the session; yields its base URL."""
    try:
        with local_fhir_server() as base:
            yield base
    except RuntimeError as err:
        pytest.fail(str(err))


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A self-signed certificate for the host name ``other.example`` (cert file, key file)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other.example")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("other.example")]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("tls")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(d / "cert.pem"), str(d / "key.pem")
