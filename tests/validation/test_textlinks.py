"""textLink extensions on narratives: the html id must be in the xhtml, the data reference must
name an id in the resource or its document (HL7 fhir-test-cases ips-link, officially invalid)."""

from __future__ import annotations

from typing import Any

from fhir_adapter.validation import validate

LINK = "http://hl7.org/fhir/StructureDefinition/textLink"


def patient(htmlid: str, data: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "text": {
            "status": "generated",
            "div": '<div xmlns="http://www.w3.org/1999/xhtml"><span id="n1">Jo</span></div>',
            "extension": [
                {
                    "url": LINK,
                    "extension": [
                        {"url": "htmlid", "valueString": htmlid},
                        {"url": "data", "valueUri": data},
                    ],
                }
            ],
        },
        "name": [{"id": "name1", "text": "Jo"}],
    }


def links(report: Any) -> list[str]:
    return [i.message for i in report.errors if i.rule == "text-link"]


def test_good_links_pass() -> None:
    assert links(validate(patient("n1", "#name1"))) == []
    assert links(validate(patient("n1", "#p1"))) == []  # the resource's own id


def test_bad_html_id_and_bad_data_target() -> None:
    (msg,) = links(validate(patient("n9", "#name1")))
    assert "'n9'" in msg and "xhtml" in msg
    (msg,) = links(validate(patient("n1", "#nowhere")))
    assert "'#nowhere'" in msg


def test_data_may_name_an_id_elsewhere_in_the_document() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:6f1d1c8e-0b6f-4b8e-9a53-3e4c1e2b7a10",
                "resource": patient("n1", "#other"),
            },
            {
                "fullUrl": "urn:uuid:7a2e2d9f-1c7a-4c9f-8b64-4f5d2f3c8b21",
                "resource": {"resourceType": "Basic", "id": "other", "code": {"text": "x"}},
            },
        ],
    }
    assert links(validate(bundle)) == []
