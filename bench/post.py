"""Benchmark: posting a 1,000+ resource bundle to a local FHIR server in each mode.

Starts a throw-away local server (fhir_adapter.testing.local_fhir_server), generates a valid
transaction bundle (bench/validate.py's generator), and for transaction, batch and each mode
prints resources/s and the client's own share of the time, measured in the same run: offline
validation, preparing + serialising the request, and parsing the response into a PostResult.
Target: client overhead < 10% of the total.

With --latency-ms N the client talks to the server through a loopback proxy that adds N ms to
every request, as a remote EHR sandbox would (this is where ``each`` mode's --workers pays).

Usage: python bench/post.py [--resources 1000] [--rounds 3] [--workers 4] [--latency-ms 0]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate import make_bundle as make_foreign_bundle


def make_bundle(n: int, seed: int = 7) -> dict[str, Any]:
    """bench/validate.py's bundle with its entries in fhir-adapter's own form (conditional create
    on the business identifier derived from each id), so strategies apply as to converted cases;
    entries written otherwise would be sent as written."""
    from fhir_adapter.ids import URI_SYSTEM, business_identifier

    bundle = make_foreign_bundle(n, seed)
    for e in bundle["entry"]:
        ident = business_identifier(e["resource"]["id"])
        e["request"]["ifNoneExist"] = f"identifier={URI_SYSTEM}|{ident['value']}"
    return bundle


@contextlib.contextmanager
def delayed(upstream: str, latency_s: float) -> Iterator[str]:
    """A loopback proxy in front of ``upstream`` that waits ``latency_s`` before each request."""
    import http.server
    import threading

    import requests

    session = requests.Session()

    class Proxy(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # no delayed-ACK stalls between header and body writes

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(latency_s)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host",)}
            up = upstream.split("/fhir")[0]
            resp = session.request(self.command, up + self.path, data=body, headers=headers)
            content = resp.content.replace(upstream.encode(), base.encode())
            self.send_response(resp.status_code)
            for k, v in resp.headers.items():
                if k.lower() not in (
                    "content-length",
                    "content-encoding",
                    "transfer-encoding",
                    "connection",
                ):
                    self.send_header(k, v.replace(upstream, base))
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = _forward

        def log_message(self, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    base = f"http://127.0.0.1:{srv.server_address[1]}/fhir"
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        yield base
    finally:
        srv.shutdown()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=4, help="for the concurrent each-mode run")
    ap.add_argument("--latency-ms", type=float, default=0, help="added to every request")
    args = ap.parse_args()

    from fhir_adapter import jsonio
    from fhir_adapter.client import FhirClient, post, tree
    from fhir_adapter.client import delivery as d
    from fhir_adapter.client.plan import plan
    from fhir_adapter.testing import local_fhir_server
    from fhir_adapter.validation import Validator

    n = len(make_bundle(args.resources, seed=11)["entry"])
    first = make_bundle(args.resources, seed=11)
    t = time.perf_counter()
    validator = Validator()
    validator.validate_resource(first)  # warms: tables, per-type plans, compiled expressions
    cold = time.perf_counter() - t

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"data: generated transaction bundle of {n} resources (8 types); server: sekmet-fhir on 127.0.0.1"
    )
    print(
        f"method: {args.rounds} rounds per mode, each posting a fresh bundle (new ids, so every "
        "entry is a create); total = median round; client work = fastest of 5 repeats of each "
        "part, validation timed on 5 bundles it has not validated before"
    )

    def fastest(fn: Any) -> float:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    print(f"cold start: first validation in this process {cold:.3f} s (tables, plans, expressions)")
    if args.latency_ms:
        print(f"latency: {args.latency_ms:g} ms added to every request by a loopback proxy")
    with (
        local_fhir_server() as server,
        (
            delayed(server, args.latency_ms / 1000)
            if args.latency_ms
            else contextlib.nullcontext(server)
        ) as base,
    ):
        runs = [("transaction", 1), ("batch", 1), ("each", 1), ("each", args.workers)]
        for m, (mode, workers) in enumerate(runs):
            label = mode if workers == 1 else f"{mode} x{workers}"
            totals: list[float] = []
            cpus: list[float] = []
            for r in range(args.rounds):
                bundle = make_bundle(args.resources, seed=100 + 10 * m + r)
                captured: list[Any] = []
                with FhirClient(base) as client:
                    original = client.json

                    def spy(
                        resp: Any, label: str, _orig: Any = original, _seen: list[Any] = captured
                    ) -> Any:
                        _seen.append(resp)
                        return _orig(resp, label)

                    client.json = spy  # type: ignore[method-assign]
                    t0, c0 = time.perf_counter(), time.process_time()
                    result = post(bundle, mode=mode, client=client, workers=workers)
                    totals.append(time.perf_counter() - t0)
                    cpus.append(time.process_time() - c0)  # the server is another process
                assert result.ok, result.to_table()[-500:]
                assert sum(e.created for e in result.entries) == n, "every entry is a create"
            total = statistics.median(totals)
            # The client's own work, re-measured on the last round's data in the same run.
            fresh = iter([make_bundle(args.resources, seed=5000 + 10 * m + k) for k in range(5)])
            t_val = fastest(lambda f=fresh: validator.validate_resource(next(f)))

            def serialise(
                b: Any = bundle,
                mode: str = mode,
                how: str = result.strategy,
                ids: dict[str, str] = result.ids,
            ) -> None:
                steps = plan(b, mode, how)
                if mode == "each":  # as send_each: rewrite references, check, encode
                    for s in steps.steps:
                        body = tree.rewrite_refs(s.body, ids)
                        [r for r in tree.references(body) if r.startswith("urn:uuid:")]
                        jsonio.dumps(body)
                else:
                    jsonio.dumps(steps.bundle())

            t_ser = fastest(serialise)
            answers = [(r.status_code, r.content) for r in captured if r.content]

            def parse(
                b: Any = bundle,
                mode: str = mode,
                how: str = result.strategy,
                answers: list[tuple[int, bytes]] = answers,
            ) -> None:
                # JSON decoding plus building the PostResult, as the client does
                steps = plan(b, mode, how)
                if mode == "each":
                    for s, (status, content) in zip(
                        steps.steps, answers[-len(steps.steps) :], strict=True
                    ):
                        d._entry_result(s, {"status": str(status)}, jsonio.loads(content), "")
                else:
                    status, content = answers[-1]
                    d.read_bundle_response("", "", status, jsonio.loads(content), steps)

            t_parse = fastest(parse) - fastest(
                lambda b=bundle, mode=mode, how=result.strategy: plan(b, mode, how)
            )
            client_s = t_val + t_ser + t_parse
            cpu = statistics.median(cpus)
            print(
                f"{label:11} {n / total:8,.0f} resources/s  total {total:5.2f} s "
                f"(rounds {min(totals):.2f}-{max(totals):.2f})  client {client_s:5.3f} s "
                f"({100 * client_s / total:4.1f}%: validate {t_val:.3f} s, serialise {t_ser:.3f} s, "
                f"parse {t_parse:.3f} s)  all client-process CPU incl. HTTP stack {cpu:.3f} s "
                f"({100 * cpu / total:.1f}%)  strategy {result.strategy}"
            )


if __name__ == "__main__":
    main()
