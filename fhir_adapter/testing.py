"""Test helpers: a real FHIR R4 server on loopback for integration tests and benchmarks, and
large bundles made from small ones.

``local_fhir_server()`` starts sekmet-fhir (installed with the ``test`` extra) on 127.0.0.1 on a
free port with a temporary data directory, waits until ``/metadata`` answers, yields the base
URL, and stops the server (by process group) on exit.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class ServerNotInstalled(RuntimeError):
    """sekmet-fhir (the ``test`` extra) is not installed."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def local_fhir_server(startup_timeout: float = 60.0) -> Iterator[str]:
    """Run a throw-away sekmet-fhir server; yields its base URL (``http://127.0.0.1:PORT/fhir``)."""
    import requests

    exe = shutil.which("sekmet") or str(Path(sys.executable).with_name("sekmet"))
    if not Path(exe).exists():
        raise ServerNotInstalled("sekmet-fhir is not installed (pip install 'fhir-adapter[test]')")
    with tempfile.TemporaryDirectory(prefix="fhir-server-") as tmp_dir:
        tmp = Path(tmp_dir)
        port = free_port()
        base = f"http://127.0.0.1:{port}/fhir"
        # No simulator, no inbound traffic log, no auth, no inbound validation: a plain store.
        (tmp / "settings.yaml").write_text(
            f"base_url: {base}\nhost: 127.0.0.1\nport: {port}\ndata_dir: {tmp / 'data'}\n"
            "log_inbound: false\nsimulator: {enabled: false}\nvalidation: {inbound: 'off'}\n"
            "server_auth: {types: ['none']}\n"
        )
        with (tmp / "server.log").open("w") as log:
            proc = subprocess.Popen(
                [exe, "serve", "-c", str(tmp / "settings.yaml")],
                cwd=tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + startup_timeout
                while True:
                    try:
                        if requests.get(f"{base}/metadata", timeout=2).status_code == 200:
                            break
                    except requests.RequestException:
                        pass
                    if proc.poll() is not None or time.monotonic() > deadline:
                        tail = (tmp / "server.log").read_text()[-2000:]
                        raise RuntimeError(f"FHIR server did not start; log:\n{tail}")
                    time.sleep(0.2)
                yield base
            finally:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def scaled_bundle(bundle: dict[str, Any], n: int) -> dict[str, Any]:
    """A bundle of ``n`` resources for the first entry's resource (the patient): the other
    entries repeated with fresh ids (uuid5 of the copy number and the old id; references
    between copies rewritten), so every copy is as linked as the original."""
    import json
    import uuid

    first, *rest = bundle["entry"]
    entries = [json.loads(json.dumps(first))]
    ids = [e["fullUrl"].rsplit(":", 1)[-1].rsplit("/", 1)[-1] for e in rest]
    copy = 0
    while len(entries) < n and rest:
        text = json.dumps(rest)
        for old in ids:
            text = text.replace(old, str(uuid.uuid5(uuid.NAMESPACE_URL, f"{copy}/{old}")))
        entries.extend(json.loads(text)[: n - len(entries)])
        copy += 1
    return {**bundle, "entry": entries}
