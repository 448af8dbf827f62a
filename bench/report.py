"""Benchmark: HTML report generation and browser rendering, each against a baseline measured in
the same run on the same data.

Data: the seed bundle scaled to N resources for its one patient (its 26 other resources
repeated with fresh ids, references rewritten: ``fhir_adapter.testing.scaled_bundle``), and the
many-patient bundle of ``bench/validate.py`` (N resources, 8 types).

- Generation: ``render_html(bundle, report=...)`` (validation timed apart) against
  ``json.dumps(bundle, indent=2)`` of the same bundle (the floor of writing it out at all), and
  against validating it.
- Rendering in headless Chromium (Debian's, via Playwright): from navigation start to the first
  frame painted after the load event, against a page of the same size showing the bundle's JSON
  in a ``<pre>``. Skipped when Chromium or Playwright is missing.
- Correctness: cards, graph nodes and edges counted in the rendered page, against the bundle.

Usage: python bench/report.py [--resources 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import html
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from validate import make_bundle  # bench/validate.py

from fhir_adapter.convert import convert
from fhir_adapter.report import render_html
from fhir_adapter.testing import chromium_path, launch_chromium, scaled_bundle
from fhir_adapter.validation import Validator

FIRST_FRAME = "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"


def timed(fn: Any, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def fmt(xs: list[float]) -> str:
    return f"best {min(xs) * 1000:.0f} ms, median {statistics.median(xs) * 1000:.0f} ms"


def generation(name: str, bundle: dict[str, Any], repeat: int) -> str:
    validator = Validator()
    text = json.dumps(bundle, indent=2)
    v = timed(lambda: Validator().validate(text), 1)  # a fresh validator: no memoised values
    report = validator.validate(text)
    page = render_html(bundle, report=report)
    r = timed(lambda: render_html(bundle, report=report), repeat)
    d = timed(lambda: json.dumps(bundle, indent=2), repeat)
    print(
        f"{name}: {len(bundle['entry'])} resources, {len(report.issues)} issues, HTML "
        f"{len(page) / 1e6:.1f} MB\n"
        f"  render_html: {fmt(r)}  (target < 1 s)\n"
        f"  json.dumps(indent=2) of the bundle: {fmt(d)}; render/dumps {min(r) / min(d):.1f}x\n"
        f"  validation of the same bundle (fresh validator): {v[0] * 1000:.0f} ms; "
        f"render/validate {min(r) / v[0]:.2f}x"
    )
    return page


def browser(pages: dict[str, tuple[str, dict[str, Any]]], repeat: int) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser: skipped (playwright is not installed)")
        return
    exe = chromium_path()
    if exe is None:
        print("browser: skipped (no Chromium; apt-get install chromium)")
        return
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        ctx = launch_chromium(p, Path(tmp) / "profile", exe)
        version = ctx.browser.version if ctx.browser else "?"
        print(f"browser: Chromium {version}, headless, viewport 1400x1000")
        for name, (page_html, bundle) in pages.items():
            report_file = Path(tmp) / f"{name}.html"
            report_file.write_text(page_html, encoding="utf-8")
            # baseline: the same bundle as JSON text in a <pre>, padded to the report's size
            pre = html.escape(json.dumps(bundle, indent=2))
            pad = " " * max(len(page_html) - len(pre), 0)
            base_file = Path(tmp) / f"{name}-baseline.html"
            base_file.write_text(
                f"<!DOCTYPE html><html><body><pre>{pre}</pre><!--{pad}--></body></html>",
                encoding="utf-8",
            )
            times: dict[str, list[float]] = {"report": [], "baseline": []}
            for _ in range(repeat):
                for kind, f in (("report", report_file), ("baseline", base_file)):
                    page = ctx.new_page()
                    page.goto(f.as_uri())
                    page.wait_for_load_state("load")
                    times[kind].append(page.evaluate(FIRST_FRAME) / 1000)
                    if kind == "report":
                        counts = page.evaluate(
                            "[document.querySelectorAll('article.card').length,"
                            " document.querySelectorAll('#graph g.node').length,"
                            " document.querySelectorAll('#graph path.edge').length]"
                        )
                    page.close()
            cards, nodes, edges = counts
            ok = cards == nodes == len(bundle["entry"])
            print(
                f"  {name}: first frame after load {fmt(times['report'])} (target < 2 s); "
                f"JSON-in-<pre> page of the same size {fmt(times['baseline'])}; "
                f"ratio {min(times['report']) / min(times['baseline']):.2f}x; "
                f"rendered {cards} cards, {nodes} nodes, {edges} edges ({'ok' if ok else 'MISMATCH'})"
            )
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    print(
        f"machine: {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    one = scaled_bundle(convert(), args.resources)
    many = make_bundle(args.resources)
    pages = {
        "one-patient": (generation("one patient (scaled seed)", one, args.repeat), one),
        "many-patients": (generation("many patients (bench/validate.py)", many, args.repeat), many),
    }
    browser(pages, args.repeat)


if __name__ == "__main__":
    main()
