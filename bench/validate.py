"""Benchmark: full offline validation vs fhir.resources' structural parse, same data, same run.

Generates a deterministic transaction bundle of N resources of mixed types (Patient, Observation
with several value types, Condition, MedicationStatement, Encounter, Procedure, DiagnosticReport),
all valid and linked by urn:uuid references. Prints json.loads (the floor), fhir.resources R4B
Bundle.model_validate, and fhir-adapter validation with every layer, as resources/s and ratios;
the validator's issue counts on the bundle (it must be valid); peak memory while validating a
streamed NDJSON file; and the wall time of `fhir-adapter validate` on one resource.

Profile run (``--profiles``, on by default): a generated transaction bundle of the same size whose
resources claim US Core 6.1.0 profiles (``bench/us_core_bundle.py``), validated with base R4 +
US Core against fhir.resources' parse of the same bundle; and ``fhir-adapter validate --ig
us-core one.json`` as a whole process.

Usage: python bench/validate.py [--resources 10000] [--ndjson-mb 100] [--repeat 3] [--no-profiles]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any


def make_bundle(n: int, seed: int = 7) -> dict[str, Any]:
    """A valid transaction bundle of about ``n`` resources (deterministic for a seed)."""
    rnd = random.Random(seed)
    entries: list[dict[str, Any]] = []

    def add(r: dict[str, Any]) -> str:
        u = str(uuid.UUID(int=rnd.getrandbits(128), version=4))
        r["id"] = u
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

    loinc = [
        ("8867-4", "Heart rate", "/min"),
        ("8310-5", "Body temperature", "Cel"),
        ("29463-7", "Body weight", "kg"),
    ]
    while len(entries) < n:
        pat = add(
            {
                "resourceType": "Patient",
                "identifier": [
                    {
                        "system": "urn:oid:1.2.36.146.595.217.0.1",
                        "value": str(rnd.randint(1, 10**8)),
                    }
                ],
                "name": [{"family": rnd.choice(["Chalmers", "Windsor", "Ng"]), "given": ["Pat"]}],
                "gender": rnd.choice(["female", "male", "other", "unknown"]),
                "birthDate": f"19{rnd.randint(30, 99)}-0{rnd.randint(1, 9)}-1{rnd.randint(0, 9)}",
            }
        )
        enc = add(
            {
                "resourceType": "Encounter",
                "status": "finished",
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                    "display": "ambulatory",
                },
                "subject": {"reference": pat},
                "period": {"start": "2024-05-01T09:00:00Z", "end": "2024-05-01T09:30:00Z"},
            }
        )
        for code, text, unit in loinc:
            add(
                {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                    "code": "vital-signs",
                                }
                            ]
                        }
                    ],
                    "code": {
                        "coding": [{"system": "http://loinc.org", "code": code, "display": text}]
                    },
                    "subject": {"reference": pat},
                    "encounter": {"reference": enc},
                    "effectiveDateTime": "2024-05-01T09:10:00+02:00",
                    "valueQuantity": {
                        "value": round(rnd.uniform(30, 120), 1),
                        "unit": unit,
                        "system": "http://unitsofmeasure.org",
                        "code": unit,
                    },
                }
            )
        add(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "Smoking status"},
                "subject": {"reference": pat},
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": "266919005",
                            "display": "Never smoked tobacco",
                        }
                    ]
                },
            }
        )
        cond = add(
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
                "code": {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": "44054006",
                            "display": "Diabetes mellitus type 2",
                        }
                    ]
                },
                "subject": {"reference": pat},
                "onsetDateTime": "2019-03",
            }
        )
        add(
            {
                "resourceType": "MedicationStatement",
                "status": "active",
                "medicationCodeableConcept": {
                    "coding": [
                        {
                            "system": "http://www.nlm.nih.gov/research/umls/rxnorm",
                            "code": "6809",
                            "display": "metformin",
                        }
                    ]
                },
                "subject": {"reference": pat},
                "reasonReference": [{"reference": cond}],
                "dosage": [
                    {
                        "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                        "doseAndRate": [
                            {
                                "doseQuantity": {
                                    "value": 500,
                                    "unit": "mg",
                                    "system": "http://unitsofmeasure.org",
                                    "code": "mg",
                                }
                            }
                        ],
                    }
                ],
            }
        )
        add(
            {
                "resourceType": "Procedure",
                "status": "completed",
                "code": {
                    "coding": [
                        {
                            "system": "http://snomed.info/sct",
                            "code": "80146002",
                            "display": "Appendectomy",
                        }
                    ]
                },
                "subject": {"reference": pat},
                "performedDateTime": "2010-06-01",
            }
        )
        add(
            {
                "resourceType": "DiagnosticReport",
                "status": "final",
                "code": {
                    "coding": [
                        {
                            "system": "http://loinc.org",
                            "code": "18748-4",
                            "display": "Diagnostic imaging study",
                        }
                    ]
                },
                "subject": {"reference": pat},
                "conclusion": "No acute findings.",
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries[:n]}


def best(fn: Any, texts: list[str]) -> float:
    """Fastest of one run per text: every run sees a bundle it has not seen before (the
    validator memoises values that passed, so re-validating the same bundle would flatter it)."""
    times = []
    for text in texts:
        t0 = time.perf_counter()
        fn(text)
        times.append(time.perf_counter() - t0)
    return min(times)


def path_vs_dict(validator: Any, n: int, repeat: int, broken: int) -> list[float]:
    """Ratios of ``validate(path)`` to ``validate(json.loads(path.read_text()))``, one per pair
    of runs taken back to back (the machine's load drifts less within a pair), each run on a
    bundle file it has not seen; each bundle has ``broken`` resources carrying an unknown
    element (issues need their line and column, which only text input has)."""
    tmp = Path(tempfile.mkdtemp())

    def write(seed: int) -> Path:
        bundle = make_bundle(n, seed=seed)
        for e in bundle["entry"][:: max(1, n // broken)] if broken else ():
            e["resource"]["unknownElement"] = True
        path = tmp / f"b{seed}.json"
        path.write_text(json.dumps(bundle, indent=2))
        return path

    ratios = []
    for k in range(repeat):
        as_dict = best(
            lambda p: validator.validate(json.loads(p.read_text(encoding="utf-8"))),
            [write(300 + k)],
        )
        as_path = best(validator.validate, [write(400 + k)])
        ratios.append(as_path / as_dict)
    return sorted(ratios)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resources", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--ndjson-mb",
        type=float,
        default=0,
        help="also validate a streamed NDJSON file of this size",
    )
    ap.add_argument("--no-profiles", action="store_true", help="skip the US Core profile run")
    args = ap.parse_args()

    from fhir.resources.R4B.bundle import Bundle

    from fhir_adapter.validation import Validator

    bundle = make_bundle(args.resources)
    n = len(bundle["entry"])
    text = json.dumps(bundle)
    texts = [json.dumps(make_bundle(args.resources, seed=100 + k)) for k in range(args.repeat)]
    validator = Validator()
    report = validator.validate_resource(bundle)  # warm-up: tables load, expressions compile
    t_json = best(json.loads, texts)
    t_fr = best(lambda t: Bundle.model_validate(json.loads(t)), texts)
    t_val = best(lambda t: validator.validate_resource(json.loads(t)), texts)
    texts = [json.dumps(make_bundle(args.resources, seed=200 + k)) for k in range(args.repeat)]
    t_val_text = best(validator.validate_text, texts)

    print(
        f"machine: {platform.platform()}, {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    )
    print(
        f"data: generated transaction bundle, {n} resources of 8 types, {len(text) / 1e6:.1f} MB JSON"
    )
    print(
        f"correctness: validator found {len(report.errors)} errors, {len(report.warnings)} warnings (expected 0/0)"
    )
    print(
        f"floor     json.loads                                 {t_json:7.3f} s  {n / t_json:>10,.0f} resources/s"
    )
    print(
        f"baseline  json.loads + fhir.resources R4B Bundle.model_validate {t_fr:7.3f} s  {n / t_fr:>10,.0f} resources/s"
    )
    print(
        f"fhir-adapter  json.loads + validate (all layers)     {t_val:7.3f} s  {n / t_val:>10,.0f} resources/s"
    )
    print(
        f"fhir-adapter  validate_text (strict parse + all layers) {t_val_text:7.3f} s  {n / t_val_text:>10,.0f} resources/s"
    )
    print(
        f"ratio     validator speed / fhir.resources speed      {t_fr / t_val:7.2f}x  (target >= 1.0)"
    )
    for broken in (0, 100):
        ratios = path_vs_dict(validator, args.resources, max(args.repeat, 5), broken)
        print(
            f"path      validate(path) / validate(json.loads(file text)), {broken:3d} issues: "
            f"median {ratios[len(ratios) // 2]:.2f}x, range {ratios[0]:.2f}-{ratios[-1]:.2f}x "
            f"over {len(ratios)} back-to-back pairs (target about 1.0)"
        )

    if args.ndjson_mb:
        with tempfile.NamedTemporaryFile("w", suffix=".ndjson", delete=False) as fh:
            lines = [json.dumps(e["resource"]) for e in bundle["entry"]]
            size = 0
            while size < args.ndjson_mb * 1e6:
                for line in lines:
                    fh.write(line + "\n")
                    size += len(line) + 1
            name = fh.name
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        count = errors = 0
        for _, rep in validator.iter_ndjson(Path(name)):
            count += 1
            errors += len(rep.errors)
        dt = time.perf_counter() - t0
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        os.unlink(name)
        print(
            f"ndjson    {size / 1e6:.0f} MB, {count:,} resources streamed in {dt:.1f} s ({count / dt:,.0f}/s), "
            f"{errors} errors; peak RSS {rss1 / 1024:.0f} MB (before: {rss0 / 1024:.0f} MB)"
        )

    one = Path(tempfile.mkdtemp()) / "one.json"
    one.write_text(json.dumps(bundle["entry"][0]["resource"]))
    print(
        f"cli       fhir-adapter validate one.json (whole process): best {cli_time([str(one)]):.3f} s (target < 1 s)"
    )
    if not args.no_profiles:
        profile_run(args.resources, args.repeat)


def cli_time(argv: list[str]) -> float:
    """Best wall time of five ``fhir-adapter validate ARGV`` processes."""
    cli = Path(sys.executable).with_name("fhir-adapter")
    walls = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([str(cli), "validate", *argv], capture_output=True, check=False)
        walls.append(time.perf_counter() - t0)
    return min(walls)


def profile_run(size: int, repeat: int) -> None:
    """Base R4 + US Core 6.1.0 on a bundle claiming US Core profiles, vs fhir.resources."""
    from fhir.resources.R4B.bundle import Bundle

    from fhir_adapter.validation import Validator

    sys.path.insert(0, str(Path(__file__).parent))
    from us_core_bundle import make_us_core_bundle

    bundle = make_us_core_bundle(size)
    n = len(bundle["entry"])
    texts = [json.dumps(make_us_core_bundle(size, seed=300 + k)) for k in range(repeat)]
    t0 = time.perf_counter()
    validator = Validator(igs=["us-core"])
    t_load = time.perf_counter() - t0
    base = Validator()
    report = validator.validate_resource(bundle)  # warm-up
    base.validate_resource(bundle)
    t_fr = best(lambda t: Bundle.model_validate(json.loads(t)), texts)
    t_base = best(lambda t: base.validate_resource(json.loads(t)), texts)
    t_prof = best(lambda t: validator.validate_resource(json.loads(t)), texts)
    unchecked = sum(i.rule == "terminology-unchecked" for i in report.issues)
    print(
        f"profiles  data: generated transaction bundle claiming US Core 6.1.0 profiles, {n} resources"
    )
    print(
        f"profiles  correctness: {len(report.errors)} errors, {len(report.warnings)} warnings "
        f"(expected 0 errors; {unchecked} warnings are race/ethnicity codes whose VSAC value sets "
        "cannot be checked offline)"
    )
    print(f"profiles  Validator(igs=['us-core']) construction: {t_load:.3f} s")
    print(
        f"baseline  json.loads + fhir.resources R4B Bundle.model_validate {t_fr:7.3f} s  {n / t_fr:>10,.0f} resources/s"
    )
    print(
        f"fhir-adapter  json.loads + validate, base R4 only      {t_base:7.3f} s  {n / t_base:>10,.0f} resources/s"
    )
    print(
        f"fhir-adapter  json.loads + validate, base + US Core    {t_prof:7.3f} s  {n / t_prof:>10,.0f} resources/s"
    )
    print(
        f"ratio     base+US Core speed / fhir.resources speed   {t_fr / t_prof:7.2f}x  (target >= 1.0)"
    )
    one = Path(tempfile.mkdtemp()) / "one.json"
    one.write_text(json.dumps(bundle["entry"][0]["resource"]))
    print(
        f"cli       fhir-adapter validate --ig us-core one.json (whole process): best "
        f"{cli_time(['--ig', 'us-core', str(one)]):.3f} s (target < 1 s)"
    )


if __name__ == "__main__":
    main()
