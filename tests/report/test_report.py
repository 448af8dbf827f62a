"""The HTML report without a browser: API, CLI, what the page holds, safety, layout."""

from __future__ import annotations

import json
import math
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from fhir_adapter.cli import main
from fhir_adapter.errors import InputError
from fhir_adapter.paths import FIXTURES_DIR
from fhir_adapter.report import render_html, write_html
from fhir_adapter.report.graph import SPACING, layout
from fhir_adapter.report.model import build_cards, system_name
from fhir_adapter.report.narrative import safe_narrative
from fhir_adapter.validation import validate


def resolvable_references(bundle: dict[str, Any]) -> int:
    """References between entries, counted straight from the JSON (the graph's edge count)."""
    urls = {e["fullUrl"] for e in bundle["entry"]}
    urls |= {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    found = 0

    def walk(node: Any) -> None:
        nonlocal found
        if isinstance(node, dict):
            if node.get("reference") in urls:
                found += 1
            for k, v in node.items():
                if k != "text":
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for e in bundle["entry"]:
        walk(e["resource"])
    return found


def test_page_holds_cards_graph_issues_and_counts(broken_bundle: dict[str, Any]) -> None:
    html = render_html(broken_bundle)
    n = len(broken_bundle["entry"])
    assert html.count('<article class="card') == n
    assert html.count('<g class="node"') == n
    assert html.count('<path class="edge"') == resolvable_references(broken_bundle) > n
    # the status error sits on the status row of entry 3's card
    card3 = html[html.index('id="c3"') : html.index('id="c4"')]
    row = card3[card3.index('data-path="status"') :]
    assert row.index("observation-status") < row.index("</dd>")
    assert 'data-severity="error"' in card3
    assert '<table id="by-type">' in html and '<table id="by-rule">' in html
    assert "SNOMED CT" in html and "LOINC" in html  # system names, not URIs
    assert 'class="box patient"' in html


def test_page_is_self_contained(broken_bundle: dict[str, Any]) -> None:
    html = render_html(broken_bundle)
    assert "<link" not in html and "<script src" not in html and "@import" not in html
    assert not re.search(r'\bsrc="', html)
    assert "default-src 'none'" in html  # the page may not load anything, even if asked to


def test_api_accepts_paths_text_and_reports(tmp_path: Path, broken_bundle: dict[str, Any]) -> None:
    src = tmp_path / "b.json"
    src.write_text(json.dumps(broken_bundle, indent=2))
    out = write_html(src, tmp_path / "deep" / "r.html")
    html = out.read_text()
    assert "invalid" in html
    assert re.search(r'class="pos">line \d+, col \d+<', html)  # positions from the file's text
    no_issues = render_html(broken_bundle, validate=False)
    assert "not validated" in no_issues and 'class="issue' not in no_issues
    mine = validate(broken_bundle)
    assert render_html(json.dumps(broken_bundle), report=mine).count('<li class="issue') == 2
    one = render_html(broken_bundle["entry"][3]["resource"])
    assert one.count('<article class="card') == 1 and "observation-status" in one


def test_narratives_are_made_safe() -> None:
    div = (
        '<div xmlns="http://www.w3.org/1999/xhtml"><p onclick="x()" style="background:url(http://e/x)">'
        'Hi <b>there</b></p><script>alert(1)</script><img src="http://e/p.png" alt="chart"/>'
        '<a href="javascript:alert(1)">x</a><a href="https://hl7.org">ok</a><unknown>t</unknown></div>'
    )
    out = safe_narrative(div)
    assert out.startswith("<p>Hi <b>there</b></p>")
    for bad in ("onclick", "style", "script", "alert", "src=", "javascript", "<unknown"):
        assert bad not in out
    assert "[chart]" in out and 'href="https://hl7.org"' in out and "t" in out


def test_system_names() -> None:
    assert system_name("http://snomed.info/sct") == "SNOMED CT"
    assert system_name("http://terminology.hl7.org/CodeSystem/v2-0074") == "HL7 v2-0074"
    assert system_name("urn:oid:1.2.3") == "urn:oid:1.2.3"


def test_layout_puts_the_patient_in_the_middle_and_keeps_nodes_apart(
    seed_bundle: dict[str, Any],
) -> None:
    cards = build_cards(seed_bundle)
    pos = layout(cards)
    assert len(pos) == len(cards) == 27
    assert pos[0] == (0.0, 0.0) and cards[0].resource_type == "Patient"
    pts = list(pos.values())
    closest = min(math.dist(a, b) for k, a in enumerate(pts) for b in pts[k + 1 :])
    assert closest >= SPACING * 0.95  # room for each node's label


def test_cli_report_convert_report_and_validate_html(
    tmp_path: Path, broken_bundle: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "broken.json"
    src.write_text(json.dumps(broken_bundle, indent=2))
    assert main(["report", str(src)]) == 1  # written, but the FHIR is invalid
    assert (tmp_path / "broken.html").read_text().count('<li class="issue') == 2
    assert main(["report", str(src), "--no-validate", "-o", str(tmp_path / "n.html")]) == 0
    assert main(["report", str(tmp_path / "missing.json")]) == 2
    nd = tmp_path / "x.ndjson"
    nd.write_text("{}\n")
    assert main(["report", str(nd)]) == 2
    assert "validate FILE.ndjson --format html" in capsys.readouterr().err

    assert (
        main(["convert", "-o", str(tmp_path / "c.json"), "--report", str(tmp_path / "c.html")]) == 0
    )
    assert (tmp_path / "c.html").read_text().count('<article class="card') == 27

    out = tmp_path / "out" / "v.html"
    assert (
        main(["validate", str(src), str(tmp_path / "c.json"), "--format", "html", "-o", str(out)])
        == 1
    )
    page = out.read_text()
    assert page.count('<tr class="file"') == 2
    assert 'href="../broken.json"' in page  # relative to the page
    for target in re.findall(r'href="#(f\d+-L\d+)"', page):
        assert f'id="{target}"' in page  # every issue links to its quoted line
    assert re.search(r"broken\.json:\d+:\d+", page)


def test_hostile_values_are_escaped() -> None:
    evil = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{evil}",
                "resource": {
                    "resourceType": "Patient",
                    "id": "p",
                    "name": [{"text": evil}],
                    evil: {"reference": "Patient/p", "display": evil},
                },
            },
            {
                "fullUrl": "urn:uuid:2",
                "resource": {
                    "resourceType": "Observation",
                    "status": evil,
                    "code": {"coding": [{"system": evil, "code": evil, "display": evil}]},
                    "subject": {"reference": "Patient/p"},
                },
            },
        ],
    }
    page = render_html(bundle)

    class Tags(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.handlers: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.tags.append(tag)
            self.handlers += [k for k, _ in attrs if k.startswith("on") or k == "src"]

    found = Tags()
    found.feed(page)
    assert found.tags.count("script") == 1  # the page's own
    assert "img" not in found.tags and found.handlers == []


def test_report_against_an_ig(tmp_path: Path, seed_bundle: dict[str, Any]) -> None:
    src = tmp_path / "seed.json"
    src.write_text(json.dumps(seed_bundle, indent=2))
    out = tmp_path / "us.html"
    patient = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-patient"
    assert main(["report", str(src), "-o", str(out)]) == 0
    assert main(["report", str(src), "--ig", "us-core", "--profile", patient, "-o", str(out)]) == 1
    page = out.read_text()
    assert "against R4, us-core, " + patient in page
    card0 = page[page.index('id="c0"') : page.index('id="c1"')]
    assert 'data-rule="profile-cardinality"' in card0  # on the Patient's card
    assert "against R4, us-core" in render_html(seed_bundle, igs=["us-core"])


@pytest.mark.parametrize(
    "case", sorted(FIXTURES_DIR.glob("*.case.yaml")), ids=lambda p: p.name.split(".")[0]
)
def test_every_fixture_reports_completely(case: Path) -> None:
    from fhir_adapter.convert import convert

    bundle = convert(case)
    html = render_html(bundle)
    n = len(bundle["entry"])
    assert html.count('<article class="card') == n == html.count('<g class="node"')
    assert html.count('<path class="edge"') == resolvable_references(bundle)


def test_layout_keeps_reports_beside_their_results(seed_bundle: dict[str, Any]) -> None:
    cards = build_cards(seed_bundle)
    pos = layout(cards)
    angle = {i: math.atan2(y, x) for i, (x, y) in pos.items() if i != 0}
    step = 2 * math.pi / len(angle)
    gaps = []
    for card in cards:
        if card.resource_type == "DiagnosticReport":
            for r in card.refs:
                if r.target not in (None, 0):
                    d = abs(angle[card.index] - angle[r.target])
                    gaps.append(min(d, 2 * math.pi - d) / step)
    assert len(gaps) >= 6 and max(gaps) <= 3.01  # neighbours on the ring, not across it


def _nested_bundle(levels: int) -> str:
    """A one-Patient bundle whose extension nests ``levels`` deep (JSON text)."""
    inner = '{"url": "http://x.example/e", "valueString": "v"}'
    nested = '{"url": "http://x.example/e", "extension": [' * levels + inner + "]}" * levels
    return (
        '{"resourceType": "Bundle", "type": "collection", "entry": [{"fullUrl": "urn:uuid:1", '
        f'"resource": {{"resourceType": "Patient", "id": "1", "extension": [{nested}]}}}}]}}'
    )


@pytest.mark.parametrize("levels", [300, 600, 5000])
def test_input_nested_too_deep_is_refused_clearly(
    levels: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "deep.json"
    path.write_text(_nested_bundle(levels))
    assert main(["report", str(path), "-o", str(tmp_path / "deep.html")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: nests more than 254 levels deep" in err and "Traceback" not in err
    assert not (tmp_path / "deep.html").exists()
    with pytest.raises(InputError, match="nests more than 254 levels"):
        render_html(_nested_bundle(levels), validate=False)


def test_a_deep_dict_is_refused_too() -> None:
    node: dict[str, Any] = {"reference": "Patient/1"}
    for _ in range(3000):
        node = {"extension": [{"url": "http://x.example/e", "valueReference": node}]}
    with pytest.raises(InputError, match="nests more than 254 levels"):
        render_html({"resourceType": "Patient", "id": "1", **node}, validate=False)


def test_wrong_shaped_values_are_shown_not_fatal(seed_bundle: dict[str, Any]) -> None:
    """A broken bundle is what a report is for: values of the wrong JSON type are shown as they
    are (and reported by the validator), never a crash."""
    bundle = json.loads(json.dumps(seed_bundle))
    bundle["entry"][1]["resource"]["code"]["coding"][0]["system"] = ["not", "a", "string"]
    bundle["entry"][2]["resource"]["code"]["coding"] = 5
    bundle["entry"][3]["resource"]["identifier"][0]["system"] = -1
    page = render_html(bundle)
    assert "[&#x27;not&#x27;, &#x27;a&#x27;, &#x27;string&#x27;]" in page  # the system, as it is
    assert page.count('<article class="card') == len(bundle["entry"])
