"""The HTML report in a real browser (headless Chromium): what it renders, that it loads
nothing from the network, that filters and links work, and how long a large bundle takes.
Screenshots are written to build/test-artifacts/."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.cli import main
from fhir_adapter.report import write_html
from fhir_adapter.testing import scaled_bundle

from .conftest import ARTIFACTS
from .test_report import resolvable_references


def expect(locator: Any) -> Any:
    """Playwright's retrying assertions (a card scrolled into view is laid out a frame later)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def open_page(page: Any, path: Path) -> None:
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")


def test_report_renders_cards_graph_and_issues_in_place(
    browser_page: Any, tmp_path: Path, broken_bundle: dict[str, Any]
) -> None:
    page = browser_page
    html = write_html(broken_bundle, tmp_path / "report.html")
    open_page(page, html)
    n = len(broken_bundle["entry"])
    assert page.locator("article.card").count() == n
    assert page.locator("#graph g.node").count() == n
    assert page.locator("#graph path.edge").count() == resolvable_references(broken_bundle)
    # every node and edge is drawn inside the SVG's box
    box = page.locator("#graph").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 300
    # the issues sit on the right cards, beside the element they concern
    # cards off screen are not laid out (content-visibility), so look at each as a reader would
    page.locator("#c3").scroll_into_view_if_needed()
    status_issue = page.locator('#c3 .row[data-path="status"] li.issue.sev-error')
    assert status_issue.count() == 1
    expect(status_issue).to_contain_text("observation-status", use_inner_text=True)
    page.locator("#c1").scroll_into_view_if_needed()
    system_issue = page.locator('#c1 .row[data-path="code"] li.issue.sev-error')
    assert system_issue.count() == 1
    expect(system_issue).to_contain_text("absolute URI", use_inner_text=True)
    assert page.locator("li.issue").count() == 2 + page.locator("#by-rule li.issue").count()
    assert page.locator("#c0 li.issue").count() == 0
    # a card shows codes with their system's name and display
    page.locator("#c3").scroll_into_view_if_needed()
    code_row = page.locator('#c3 .row[data-path="code"]')
    expect(code_row).to_contain_text("SNOMED CT", use_inner_text=True)
    expect(code_row).to_contain_text("Skin ulcer", use_inner_text=True)
    # the patient summary names the patient's record
    expect(page.locator("#summary .patient")).to_contain_text("Patient", use_inner_text=True)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=False)
    page.locator("#graph").screenshot(path=str(ARTIFACTS / "report-graph.png"))
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    # nothing but the file itself was requested
    assert all(u.startswith(("file:", "data:", "about:")) for u in page.requests), page.requests


def test_filters_and_links(
    browser_page: Any, tmp_path: Path, broken_bundle: dict[str, Any]
) -> None:
    page = browser_page
    open_page(page, write_html(broken_bundle, tmp_path / "report.html"))
    issue = page.locator("#c3 li.issue")
    assert issue.is_visible()
    page.locator('input[data-sev="error"]').uncheck()
    assert not issue.is_visible()
    page.locator('input[data-sev="error"]').check()
    assert issue.is_visible()
    page.locator("#only-issues").check()
    assert not page.locator("#c0").is_visible() and page.locator("#c3").is_visible()
    page.locator("#only-issues").uncheck()
    # a graph node and a reference link lead to their cards
    page.locator('#graph g.node[data-card="c17"] circle').click()
    assert page.evaluate("location.hash") == "#c17"
    # highlighting follows the hashchange event: wait for it rather than race it
    expect(page.locator('#graph path.edge.hl[data-from="c17"]').first).to_be_attached()
    page.locator('#c3 .row[data-path="subject"] a.ref').click()
    assert page.evaluate("location.hash") == "#c0"


def test_validation_page(browser_page: Any, tmp_path: Path, broken_bundle: dict[str, Any]) -> None:
    page = browser_page
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(broken_bundle, indent=2))
    nd = tmp_path / "lines.ndjson"
    nd.write_text("\n".join(json.dumps(e["resource"]) for e in broken_bundle["entry"][:5]) + "\n")
    out = tmp_path / "results.html"
    assert main(["validate", str(bad), str(nd), "--format", "html", "-o", str(out)]) == 1
    open_page(page, out)
    assert page.locator("tr.file").count() == 2
    assert page.locator("details.rule").count() == 2  # binding, code-system
    link = page.locator("details.rule li.issue a.at").first
    target = link.get_attribute("href")
    assert target and target.startswith("#f")
    link.click()
    assert page.locator(f"{target}").is_visible() and page.locator(f"{target}.hit").count() == 1
    page.screenshot(path=str(ARTIFACTS / "validation.png"))
    assert all(u.startswith(("file:", "data:", "about:")) for u in page.requests)


def test_a_1000_resource_bundle_renders_quickly(
    browser_page: Any, tmp_path: Path, seed_bundle: dict[str, Any]
) -> None:
    big = scaled_bundle(seed_bundle, 1000)
    assert len(big["entry"]) == 1000
    t = time.perf_counter()
    html = write_html(big, tmp_path / "big.html")
    generated = time.perf_counter() - t
    page = browser_page
    open_page(page, html)
    # time to the first frame painted after load, from navigation start (the browser's clock)
    rendered_ms = page.evaluate(
        "new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(performance.now()))))"
    )
    assert page.locator("article.card").count() == 1000
    assert page.locator("#graph g.node").count() == 1000
    assert page.locator("#graph path.edge").count() == resolvable_references(big)
    page.screenshot(path=str(ARTIFACTS / "report-1000.png"))
    print(
        f"1,000 resources: HTML generated in {generated:.2f} s, rendered in {rendered_ms / 1000:.2f} s"
    )
    # generous bounds (targets are 1 s and 2 s; bench/report.py measures): a shared machine
    # must not make this flaky, but an order-of-magnitude regression fails
    assert generated < 10 and rendered_ms < 20_000


@pytest.mark.parametrize("flag", ["--no-sandbox"])
def test_chromium_flags_are_the_documented_ones(flag: str) -> None:
    from fhir_adapter.testing import CHROMIUM_FLAGS

    assert flag in CHROMIUM_FLAGS and "--disable-background-networking" in CHROMIUM_FLAGS
