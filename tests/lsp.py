"""A minimal Language Server Protocol client over stdio, for testing editor support."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

#: Settings answered to the server's ``workspace/configuration`` requests.
YAML_SETTINGS = {
    "validate": True,
    "completion": True,
    "hover": True,
    "schemaStore": {"enable": False},
}


class LspClient:
    """Starts ``argv`` (a language server speaking LSP on stdio) and talks to it."""

    def __init__(self, argv: list[str], root: Path) -> None:
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self.inbox: queue.Queue[dict[str, Any]] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()
        rid = self.request(
            "initialize",
            {
                "processId": None,
                "rootUri": root.as_uri(),
                "capabilities": {"workspace": {"configuration": True}},
            },
        )
        self.wait(lambda m: m if m.get("id") == rid else None)
        self.notify("initialized", {})
        self.notify("workspace/didChangeConfiguration", {"settings": {"yaml": YAML_SETTINGS}})

    def _read(self) -> None:
        out = self.proc.stdout
        assert out is not None
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                text = line.decode().strip()
                if not text:
                    break
                name, value = text.split(":", 1)
                headers[name.lower()] = value.strip()
            self.inbox.put(json.loads(out.read(int(headers["content-length"]))))

    def _send(self, msg: dict[str, Any]) -> None:
        data = json.dumps({"jsonrpc": "2.0", **msg}).encode()
        assert self.proc.stdin is not None
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict[str, Any]) -> None:
        """Send a notification."""
        self._send({"method": method, "params": params})

    def request(self, method: str, params: dict[str, Any]) -> int:
        """Send a request; returns its id."""
        self.next_id += 1
        self._send({"id": self.next_id, "method": method, "params": params})
        return self.next_id

    def wait(self, pick: Callable[[dict[str, Any]], Any], timeout: float = 30) -> Any:
        """The first message ``pick`` accepts (server requests are answered meanwhile)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                msg = self.inbox.get(timeout=0.2)
            except queue.Empty:
                continue
            if msg.get("method") == "workspace/configuration":
                items = msg["params"]["items"]
                result = [YAML_SETTINGS if i.get("section") == "yaml" else {} for i in items]
                self._send({"id": msg["id"], "result": result})
            elif "id" in msg and "method" in msg:
                self._send({"id": msg["id"], "result": None})
            elif (found := pick(msg)) is not None:
                return found
        raise TimeoutError("the language server did not answer")

    def open(self, path: Path) -> list[dict[str, Any]]:
        """Open a document; returns the diagnostics the server publishes for it."""
        uri = path.resolve().as_uri()
        doc = {"uri": uri, "languageId": "yaml", "version": 1, "text": path.read_text()}
        self.notify("textDocument/didOpen", {"textDocument": doc})

        def diagnostics(m: dict[str, Any]) -> Any:
            if m.get("method") == "textDocument/publishDiagnostics" and m["params"]["uri"] == uri:
                return m["params"]["diagnostics"]
            return None

        result: list[dict[str, Any]] = self.wait(diagnostics)
        return result

    def complete(self, path: Path, line: int, character: int) -> list[str]:
        """Completion labels at a position of an open document."""
        rid = self.request(
            "textDocument/completion",
            {
                "textDocument": {"uri": path.resolve().as_uri()},
                "position": {"line": line, "character": character},
            },
        )
        result = self.wait(lambda m: m if m.get("id") == rid else None)["result"]
        items = result["items"] if isinstance(result, dict) else result
        return sorted(i["label"] for i in items)

    def close(self) -> None:
        """Stop the server."""
        self.proc.kill()
        self.proc.wait()
