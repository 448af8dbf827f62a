"""Fixtures for delivery tests: a real local FHIR server (sekmet-fhir) and the internet marker."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-internet", action="store_true", help="run tests that need the public internet"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-internet"):
        return
    skip = pytest.mark.skip(reason="needs the internet; run with --run-internet")
    for item in items:
        if "internet" in item.keywords:
            item.add_marker(skip)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def fhir_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh sekmet-fhir R4 server on 127.0.0.1 (free port, temp data dir); yields its base URL."""
    exe = shutil.which("sekmet") or str(Path(sys.executable).with_name("sekmet"))
    if not Path(exe).exists():
        pytest.fail(
            "sekmet-fhir is not installed (it is in the 'test' extra: pip install -e '.[test]')"
        )
    tmp = tmp_path_factory.mktemp("fhir-server")
    port = _free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    (tmp / "settings.yaml").write_text(
        f"base_url: {base}\nhost: 127.0.0.1\nport: {port}\ndata_dir: {tmp / 'data'}\n"
        "log_inbound: false\nsimulator: {enabled: false}\nvalidation: {inbound: 'off'}\n"
        "server_auth: {types: ['none']}\n"
    )
    log = (tmp / "server.log").open("w")
    proc = subprocess.Popen(
        [exe, "serve", "-c", str(tmp / "settings.yaml")],
        cwd=tmp,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{base}/metadata", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"FHIR server did not start; log:\n{(tmp / 'server.log').read_text()[-2000:]}"
                )
            time.sleep(0.2)
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
