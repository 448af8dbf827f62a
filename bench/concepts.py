"""Benchmark: ``fhir-adapter concepts search`` as a whole process, against ``fhir-adapter --help``.

Runs each query as a new process (what a user waits for), ``--runs`` times, and prints best and
median wall time next to the same figures for ``fhir-adapter --help`` (the CLI's floor: Python
start-up and argument parsing) measured in the same run. Also checks that each query's first hit
is the expected code, so a fast wrong answer does not pass. Target: < 0.5 s per search.

Child processes run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed), as in an
installed package whose ``.pyc`` files exist; otherwise every run would recompile the sources.

Usage: python bench/concepts.py [--runs 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

#: (query arguments, expected first code)
QUERIES = [
    (["pneumonia"], "233604007"),
    (["chest pain", "--kind", "finding"], "29857009"),
    (["amoxicillin"], "723"),
    (["c reactive protein", "--kind", "lab"], "1988-5"),
    (["final", "--kind", "code"], "final"),
    (["mg/d"], "mg/d"),
]


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def wall(argv: list[str], runs: int) -> list[float]:
    """Wall times of ``runs`` runs of a process (after one warm-up run)."""
    subprocess.run(argv, check=False, capture_output=True, env=ENV)
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(argv, check=False, capture_output=True, env=ENV)
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="processes per measurement")
    args = parser.parse_args()
    cli = Path(sys.executable).with_name("fhir-adapter")
    print(
        f"machine: {platform.platform()}, {platform.machine()}, Python {platform.python_version()}"
    )
    base = wall([str(cli), "--help"], args.runs)
    print(
        f"baseline  fhir-adapter --help: best {min(base):.3f} s, median {statistics.median(base):.3f} s"
    )
    for query, expected in QUERIES:
        argv = [str(cli), "concepts", "search", *query, "--limit", "3"]
        first = json.loads(
            subprocess.run(
                [*argv, "--format", "json"], check=True, capture_output=True, env=ENV
            ).stdout
        )[0]["codes"][0]["code"]
        times = wall(argv, args.runs)
        ok = "ok" if first == expected else f"WRONG first hit {first} (expected {expected})"
        print(
            f"search {' '.join(query)!r:32} best {min(times):.3f} s, median "
            f"{statistics.median(times):.3f} s, {statistics.median(times) / statistics.median(base):.2f}x"
            f" --help; first hit {ok}"
        )


if __name__ == "__main__":
    main()
