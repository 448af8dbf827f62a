"""Test helpers: real FHIR R4 servers on loopback for integration tests and benchmarks, a
hostile scripted server for testing clients, and large bundles made from small ones.

``local_fhir_server()`` starts sekmet-fhir (installed with the ``test`` extra) on 127.0.0.1 on a
free port with a temporary data directory, waits until ``/metadata`` answers, yields the base
URL, and stops the server (by process group) on exit. :class:`HostileServer` answers each
request from a script (redirects, trickles, decompression bombs, odd headers, 429s).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
        command = [exe, "serve", "-c", str(tmp / "settings.yaml")]
        with _running(command, tmp, f"{base}/metadata", startup_timeout):
            yield base


class NodeNotInstalled(ServerNotInstalled):
    """Node.js (``node`` and ``npm``) is not on PATH."""


#: Where the second test server (Medplum's FHIR engine) is installed: npm packages pinned by
#: ``fhir_adapter/_servers/medplum/package-lock.json``.
MEDPLUM_DIR = Path(__file__).parent / "_servers" / "medplum"


def medplum_server_dir() -> Path:
    """A directory with the Medplum test server and its npm packages installed (``npm ci`` into
    ``$FHIR_ADAPTER_CACHE``, default ``~/.cache/fhir-adapter``, when missing or outdated)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise NodeNotInstalled("Node.js is not installed (node and npm are needed)")
    lock = (MEDPLUM_DIR / "package-lock.json").read_bytes()
    cache = Path(os.environ.get("FHIR_ADAPTER_CACHE") or Path.home() / ".cache" / "fhir-adapter")
    target = cache / "medplum-server"
    stamp = target / "node_modules" / ".fhir-adapter-lock"
    if not stamp.is_file() or stamp.read_bytes() != lock:
        target.mkdir(parents=True, exist_ok=True)
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(MEDPLUM_DIR / name, target / name)
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=target,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            raise ServerNotInstalled(f"npm ci failed in {target}:\n{done.stderr[-2000:]}")
        stamp.write_bytes(lock)
    shutil.copyfile(MEDPLUM_DIR / "server.mjs", target / "server.mjs")
    return target


@contextmanager
def medplum_fhir_server(
    startup_timeout: float = 90.0, check_references: bool = False, transactions: bool = False
) -> Iterator[str]:
    """Run Medplum's FHIR engine (``@medplum/fhir-router``, in memory) on a free loopback port;
    yields its base URL (``http://127.0.0.1:PORT/fhir/R4``). Its transaction processor rewrites
    ``fullUrl`` strings as Medplum's server does, and its CapabilityStatement declares what
    Medplum's does (no update-as-create; conditional create). With ``check_references`` every
    create and update whose literal references (``Type/id``) name no stored resource is refused
    (400), as Medplum's server does with ``checkReferencesOnWrite`` and HAPI does by default.
    Without ``transactions`` a transaction Bundle is processed with batch semantics (entries
    independent, those that succeed kept), as on a Medplum project without the
    ``transaction-bundles`` feature (the default); with it, all or nothing, with Medplum's caps
    (at most 50 updates; at most 8 entries when any is a conditional create).
    Needs Node.js (``npm ci`` on first use)."""

    where = medplum_server_dir()
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir/R4"
    command = [shutil.which("node") or "node", "server.mjs", str(port)]
    if check_references:
        command.append("--check-references")
    if transactions:
        command.append("--transactions")
    with _running(command, where, f"{base}/metadata", startup_timeout):
        yield base


@contextmanager
def _running(command: list[str], cwd: Path, ready_url: str, timeout: float) -> Iterator[None]:
    """Run a server ``command`` in its own session for the block, once ``ready_url`` answers
    200 (RuntimeError with the end of its log if it does not within ``timeout`` seconds)."""
    import requests

    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_until_up(ready_url, proc, timeout, log, requests)
            yield
        finally:
            _stop(proc)


def _wait_until_up(url: str, proc: Any, timeout: float, log: Any, requests: Any) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            log.seek(0)
            raise RuntimeError(f"FHIR server did not start; log:\n{log.read()[-2000:]}")
        time.sleep(0.2)


def _stop(proc: Any) -> None:
    """Stop a server started in its own session, by its process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
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


def capability_statement(
    update_create: bool = True,
    conditional: bool = True,
    interactions: tuple[str, ...] = ("transaction", "batch"),
    types: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """A minimal CapabilityStatement declaring these features for every type in ``types``
    (default: every type fhir-adapter's mappers produce)."""
    from fhir_adapter.bundle import RESOURCE_TYPES

    declared = RESOURCE_TYPES if types is None else types
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "interaction": [{"code": c} for c in interactions],
                "resource": [
                    {
                        "type": t,
                        "updateCreate": update_create,
                        "conditionalCreate": conditional,
                        "searchParam": [{"name": "identifier", "type": "token"}],
                    }
                    for t in declared
                ],
            }
        ],
    }


@dataclass
class Answer:
    """One scripted answer of :class:`HostileServer`.

    ``status``/``headers``/``body`` are sent as given (``Content-Length`` is added unless
    ``headers`` has one or ``chunked``); ``gzip`` compresses the body and says so; ``trickle``
    sends the body one byte per that many seconds; ``delay`` waits before answering; ``reset``
    closes the connection without answering; ``raw`` is sent byte for byte instead of an HTTP
    answer (for malformed status lines and headers).
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | str | dict[str, Any] | list[Any] = b""
    gzip: bool = False
    trickle: float = 0.0
    delay: float = 0.0
    reset: bool = False
    raw: bytes | None = None


@dataclass
class Seen:
    """A request :class:`HostileServer` received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


Script = Callable[[Seen], "Answer"]


class HostileServer:
    """A loopback HTTP/1.1 server that answers from a script, for testing clients against
    redirects, trickled or truncated bodies, decompression bombs, odd headers and rate limits.

    ``script`` is a list of :class:`Answer` (one per request, in order; the last one repeats) or
    a function of the :class:`Seen` request. ``requests`` lists what arrived. Use as a context
    manager; ``base`` is ``http://127.0.0.1:PORT/fhir`` (``https`` with ``tls=(certfile,
    keyfile)``). Only 127.0.0.1 is ever bound.
    """

    def __init__(
        self, script: list[Answer] | Script, *, tls: tuple[str, str] | None = None
    ) -> None:
        import http.server
        import threading

        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        self._script = script
        self._stop = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY every answer on
            # a kept-alive connection waits ~40 ms for the client's delayed ACK.
            disable_nagle_algorithm = True

            def _any(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                seen = Seen(
                    self.command, self.path, dict(self.headers.items()), body, time.monotonic()
                )
                owner._answer(self, owner._next(seen))

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _any

            def log_message(self, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        if tls is not None:
            import ssl

            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self._server.socket = ctx.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self.origin = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        self.base = f"{self.origin}/fhir"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _next(self, seen: Seen) -> Answer:
        with self._lock:
            self.requests.append(seen)
            if callable(self._script):
                return self._script(seen)
            index = min(len(self.requests), len(self._script)) - 1
            return self._script[index]

    def _answer(self, handler: Any, a: Answer) -> None:
        import gzip as gz
        import json as js

        if a.delay and self._stop.wait(a.delay):
            return
        if a.reset:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if a.raw is not None:
            handler.close_connection = True
            self._write(handler, a.raw, a.trickle)
            return
        body = a.body
        if isinstance(body, (dict, list)):
            body = js.dumps(body).encode()
        elif isinstance(body, str):
            body = body.encode()
        headers = dict(a.headers)
        if a.gzip:
            body = gz.compress(body, compresslevel=9)
            headers.setdefault("Content-Encoding", "gzip")
        if body and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/fhir+json"
        if not any(k.lower() == "content-length" for k in headers):
            headers["Content-Length"] = str(len(body))
        handler.send_response(a.status)
        for k, v in headers.items():
            handler.send_header(k, v)
        handler.end_headers()
        if handler.command != "HEAD":
            self._write(handler, body, a.trickle)

    def _write(self, handler: Any, data: bytes, trickle: float) -> None:
        try:
            if not trickle:
                handler.wfile.write(data)
                return
            for i in range(len(data)):
                if self._stop.wait(trickle):
                    return
                handler.wfile.write(data[i : i + 1])
                handler.wfile.flush()
        except OSError:
            handler.close_connection = True  # the client gave up: what the test wants

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


#: Flags for Debian's headless Chromium on these machines (root, no GPU, closed network): the
#: background-networking ones stop it from reaching out at start.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_path() -> str | None:
    """Debian's Chromium (``/usr/bin/chromium``), one named by ``$CHROMIUM``, or None."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def launch_chromium(playwright: Any, profile: str | Path, executable: str) -> Any:
    """A headless Chromium context with a fresh ``profile`` directory, started by Playwright
    (``sync_playwright()``) from ``executable`` with :data:`CHROMIUM_FLAGS`, 1400x1000."""
    return playwright.chromium.launch_persistent_context(
        str(profile),
        executable_path=executable,
        args=list(CHROMIUM_FLAGS),
        headless=True,
        viewport={"width": 1400, "height": 1000},
    )
