"""A generated transaction bundle whose resources claim (and meet) US Core 6.1.0 profiles.

``make_us_core_bundle(n, seed)``: per patient, a US Core Patient (race and ethnicity
extensions), an Encounter, heart-rate / body-temperature / body-weight / blood-pressure vital
signs, a smoking status, a problem-list Condition, a MedicationRequest, a Procedure and a
DiagnosticReport note, linked by urn:uuid references. Deterministic for a seed; used by
``bench/validate.py`` (the profile run) and checked valid by the test suite.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

US = "http://hl7.org/fhir/us/core/StructureDefinition/"
LOINC = "http://loinc.org"
SCT = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
VS_CAT = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs",
        }
    ]
}


def _q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def make_us_core_bundle(n: int, seed: int = 11) -> dict[str, Any]:
    """A valid US Core 6.1.0 transaction bundle of about ``n`` resources."""
    rnd = random.Random(seed)
    entries: list[dict[str, Any]] = []

    def add(profile: str, r: dict[str, Any]) -> str:
        u = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        r["id"] = u
        r["meta"] = {"profile": [US + profile]}
        r["text"] = {
            "status": "generated",
            "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{r["resourceType"]} {len(entries)}</div>',
        }
        entries.append(
            {
                "fullUrl": f"urn:uuid:{u}",
                "resource": r,
                "request": {"method": "POST", "url": r["resourceType"]},
            }
        )
        return f"urn:uuid:{u}"

    def vital(pat: str, enc: str, profile: str, code: str, value: dict[str, Any]) -> None:
        add(
            profile,
            {
                "resourceType": "Observation",
                "status": "final",
                "category": [VS_CAT],
                "code": {"coding": [{"system": LOINC, "code": code}]},
                "subject": {"reference": pat},
                "encounter": {"reference": enc},
                "effectiveDateTime": f"2024-05-{rnd.randint(10, 28)}T09:10:00+02:00",
                **value,
            },
        )

    while len(entries) < n:
        pat = add(
            "us-core-patient",
            {
                "resourceType": "Patient",
                "extension": [
                    {
                        "url": US + "us-core-race",
                        "extension": [
                            {
                                "url": "ombCategory",
                                "valueCoding": {
                                    "system": "urn:oid:2.16.840.1.113883.6.238",
                                    "code": "2106-3",
                                    "display": "White",
                                },
                            },
                            {"url": "text", "valueString": "White"},
                        ],
                    },
                    {
                        "url": US + "us-core-ethnicity",
                        "extension": [
                            {
                                "url": "ombCategory",
                                "valueCoding": {
                                    "system": "urn:oid:2.16.840.1.113883.6.238",
                                    "code": "2186-5",
                                    "display": "Not Hispanic or Latino",
                                },
                            },
                            {"url": "text", "valueString": "Not Hispanic or Latino"},
                        ],
                    },
                ],
                "identifier": [
                    {
                        "system": "urn:oid:1.2.36.146.595.217.0.1",
                        "value": str(rnd.randint(1, 10**8)),
                    }
                ],
                "name": [{"family": rnd.choice(["Chalmers", "Windsor", "Ng"]), "given": ["Pat"]}],
                "gender": rnd.choice(["female", "male", "other", "unknown"]),
                "birthDate": f"19{rnd.randint(30, 99)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
            },
        )
        enc = add(
            "us-core-encounter",
            {
                "resourceType": "Encounter",
                "identifier": [
                    {
                        "system": "urn:ietf:rfc:3986",
                        "value": f"urn:uuid:{uuid.UUID(int=rnd.getrandbits(128), version=4)}",
                    }
                ],
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                    "display": "ambulatory",
                },
                "type": [{"coding": [{"system": SCT, "code": "185349003"}], "text": "Check-up"}],
                "subject": {"reference": pat},
                "period": {"start": "2024-05-01T09:00:00Z", "end": "2024-05-01T09:30:00Z"},
            },
        )
        vital(
            pat,
            enc,
            "us-core-heart-rate",
            "8867-4",
            {"valueQuantity": _q(rnd.randint(50, 110), "/min")},
        )
        vital(
            pat,
            enc,
            "us-core-body-temperature",
            "8310-5",
            {"valueQuantity": _q(round(rnd.uniform(36, 39), 1), "Cel")},
        )
        vital(
            pat,
            enc,
            "us-core-body-weight",
            "29463-7",
            {"valueQuantity": _q(round(rnd.uniform(40, 120), 1), "kg")},
        )
        vital(
            pat,
            enc,
            "us-core-blood-pressure",
            "85354-9",
            {
                "component": [
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                        "valueQuantity": _q(rnd.randint(100, 160), "mm[Hg]"),
                    },
                    {
                        "code": {"coding": [{"system": LOINC, "code": "8462-4"}]},
                        "valueQuantity": _q(rnd.randint(60, 100), "mm[Hg]"),
                    },
                ]
            },
        )
        add(
            "us-core-smokingstatus",
            {
                "resourceType": "Observation",
                "status": "final",
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                "code": "social-history",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": LOINC, "code": "72166-2"}]},
                "subject": {"reference": pat},
                "effectiveDateTime": "2024-05-01T09:12:00Z",
                "valueCodeableConcept": {"coding": [{"system": SCT, "code": "266919005"}]},
            },
        )
        cond = add(
            "us-core-condition-problems-health-concerns",
            {
                "resourceType": "Condition",
                "clinicalStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                            "code": "active",
                        }
                    ]
                },
                "verificationStatus": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
                            "code": "confirmed",
                        }
                    ]
                },
                "category": [
                    {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                                "code": "problem-list-item",
                            }
                        ]
                    }
                ],
                "code": {"coding": [{"system": SCT, "code": "44054006"}]},
                "subject": {"reference": pat},
                "onsetDateTime": "2019-03",
            },
        )
        add(
            "us-core-medicationrequest",
            {
                "resourceType": "MedicationRequest",
                "status": "active",
                "intent": "order",
                "medicationCodeableConcept": {
                    "coding": [
                        {"system": "http://www.nlm.nih.gov/research/umls/rxnorm", "code": "860975"}
                    ]
                },
                "subject": {"reference": pat},
                "encounter": {"reference": enc},
                "authoredOn": "2024-05-01",
                "requester": {"reference": pat},
                "reasonReference": [{"reference": cond}],
            },
        )
        add(
            "us-core-procedure",
            {
                "resourceType": "Procedure",
                "status": "completed",
                "code": {"coding": [{"system": SCT, "code": "80146002"}]},
                "subject": {"reference": pat},
                "performedDateTime": "2010-06-01",
            },
        )
        add(
            "us-core-diagnosticreport-note",
            {
                "resourceType": "DiagnosticReport",
                "status": "final",
                "category": [{"coding": [{"system": LOINC, "code": "LP29684-5"}]}],
                "code": {"coding": [{"system": LOINC, "code": "18748-4"}]},
                "subject": {"reference": pat},
                "encounter": {"reference": enc},
                "effectiveDateTime": "2024-05-01T10:00:00Z",
                "issued": "2024-05-01T11:00:00Z",
                "conclusion": "No acute findings.",
            },
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries[:n]}
