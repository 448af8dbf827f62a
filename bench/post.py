"""Benchmark: posting a 1,000+ resource bundle to a local FHIR server in each mode.

Starts a throw-away local server (fhir_adapter.testing.local_fhir_server), generates a valid
transaction bundle (bench/validate.py's generator), and for transaction, batch and each mode
prints resources/s and the client's own share of the time, measured in the same run: offline
validation, preparing + serialising the request, and parsing the response into a PostResult.
Target: client overhead < 10% of the total.

Usage: python bench/post.py [--resources 1000]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate import make_bundle


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=1000)
    args = ap.parse_args()

    from fhir_adapter import jsonio
    from fhir_adapter.client import FhirClient, post
    from fhir_adapter.client import delivery as d
    from fhir_adapter.testing import local_fhir_server
    from fhir_adapter.validation import Validator

    bundle = make_bundle(args.resources, seed=11)
    n = len(bundle["entry"])
    validator = Validator()
    validator.validate_resource(bundle)  # warm: tables load, expressions compile

    print(
        f"machine: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"data: generated transaction bundle of {n} resources (8 types); server: sekmet-fhir on 127.0.0.1"
    )
    with local_fhir_server() as base:
        for mode in ("transaction", "batch", "each"):
            captured: list[Any] = []
            with FhirClient(base) as client:
                original = client.json

                def spy(
                    resp: Any, label: str, _orig: Any = original, _seen: list[Any] = captured
                ) -> Any:
                    _seen.append(resp)
                    return _orig(resp, label)

                client.json = spy  # type: ignore[method-assign]
                t0 = time.perf_counter()
                result = post(bundle, mode=mode, client=client)
                total = time.perf_counter() - t0
            assert result.ok, result.to_table()[-500:]
            # The client's own work, re-measured on the same data in the same run.
            t = time.perf_counter()
            validator.validate_resource(bundle)
            t_val = time.perf_counter() - t
            t = time.perf_counter()
            prepared = d.prepare(bundle, "transaction" if mode == "each" else mode, result.strategy)
            if mode == "each":
                for e in prepared["entry"]:
                    jsonio.dumps(e["resource"])
            else:
                jsonio.dumps(prepared)
            t_ser = time.perf_counter() - t
            t = time.perf_counter()
            for resp in captured:
                if resp.content:
                    jsonio.loads(resp.content)
            t_parse = time.perf_counter() - t
            client_s = t_val + t_ser + t_parse
            print(
                f"{mode:11} {n / total:8,.0f} resources/s  total {total:6.2f} s  client {client_s:5.2f} s "
                f"({100 * client_s / total:4.1f}%: validate {t_val:.2f} s, serialise {t_ser:.2f} s, parse {t_parse:.2f} s)"
                f"  strategy {result.strategy}, {sum(e.created for e in result.entries)} created"
            )


if __name__ == "__main__":
    main()
