"""Benchmark: case -> bundle conversion speed against fhir.resources parsing the same bundle.

Prints cases/s and resources/s for converting the seed case repeatedly (load + map + bundle, and
map + bundle alone), the time ``fhir.resources`` (R4B) takes to parse the produced bundle, measured
in the same run, as a ratio; and the wall time of the ``fhir-adapter convert`` CLI process.
Target: end-to-end conversion <= 2x the parse; CLI process < 0.5 s.

Usage: python bench/convert.py [--seconds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def rate(fn: Callable[[], Any], seconds: float) -> tuple[float, int]:
    """Best-of-batches mean seconds per call, and the number of calls made."""
    fn()  # warm up (caches, lazy imports)
    calls, best, deadline = 0, float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        for _ in range(10):
            fn()
        best = min(best, (time.perf_counter() - t0) / 10)
        calls += 10
    return best, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time budget per measurement")
    args = parser.parse_args()

    from fhir.resources.R4B.bundle import Bundle

    from fhir_adapter.case import load_case
    from fhir_adapter.convert import convert, to_resources
    from fhir_adapter.paths import SEED_CASE

    case = load_case(SEED_CASE)
    bundle = convert(case)
    n = len(bundle["entry"])
    text = json.dumps(bundle)

    t_e2e, k1 = rate(lambda: convert(load_case(SEED_CASE)), args.seconds)
    t_map, k2 = rate(lambda: convert(case), args.seconds)
    t_parse, k3 = rate(lambda: Bundle.model_validate(bundle), args.seconds)
    t_parse_json, _ = rate(lambda: Bundle.model_validate_json(text), args.seconds)
    assert len(to_resources(case)) == n

    cli = Path(sys.executable).with_name("fhir-adapter")
    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([str(cli), "convert", "-o", os.devnull], check=True, capture_output=True)
        walls.append(time.perf_counter() - t0)

    print(
        f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"data: seed case {SEED_CASE.name} -> transaction bundle of {n} resources "
        f"({len(text):,} bytes JSON)"
    )
    print(
        f"baseline  fhir.resources R4B Bundle.model_validate(dict): {t_parse * 1e3:8.2f} ms/bundle "
        f"({n / t_parse:,.0f} resources/s, {k3} runs)"
    )
    print(
        f"          fhir.resources R4B Bundle.model_validate_json   : {t_parse_json * 1e3:8.2f} ms/bundle"
    )
    print(
        f"convert   end to end (read+check case, map, bundle)      : {t_e2e * 1e3:8.2f} ms/case "
        f"({1 / t_e2e:,.0f} cases/s, {n / t_e2e:,.0f} resources/s, {k1} runs)"
    )
    print(
        f"convert   map + bundle from a loaded Case                : {t_map * 1e3:8.2f} ms/case "
        f"({1 / t_map:,.0f} cases/s, {n / t_map:,.0f} resources/s, {k2} runs)"
    )
    print(
        f"ratio     end-to-end convert / fhir.resources parse       : {t_e2e / t_parse:8.2f}x  (target <= 2.0)"
    )
    print(f"ratio     map+bundle / fhir.resources parse              : {t_map / t_parse:8.2f}x")
    print(
        f"cli       fhir-adapter convert (process, incl. validation): best {min(walls):.3f} s, "
        f"median {sorted(walls)[2]:.3f} s  (target < 0.5 s)"
    )


if __name__ == "__main__":
    main()
