"""Agreement with the official HL7 validator on the R4 cases of HL7's fhir-test-cases suite.

    python bench/fhir_test_cases.py CHECKOUT [--json] [--show N]

CHECKOUT is a checkout of the public FHIR/fhir-test-cases repository (not part of this project).
Its ``validator/manifest.json`` lists test cases; ``validator/outcomes/java/`` holds the official
Java validator's OperationOutcome for each. We take the R4 (4.0) cases that validate one JSON
resource against the base specification, and skip (and count) those that need profiles, IGs or
packages, supporting files, a terminology server, logical models, or a non-JSON input. The
official verdict is "valid" when its outcome has no error/fatal issue; agreement is the share of
cases where fhir-adapter reaches the same verdict.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path
from typing import Any

# Cases that switch on non-default validator settings are skipped: we run defaults only.
SKIP_KEYS = (
    "allow-comments",
    "validateContains",
    "validateReference",
    "assumeValidRestReferences",
    "security-checks",
    "best-practice",
    "wrong-displays",
    "certificate",
    "noHtmlInMarkdown",
    "examples",
    "profile",
    "profiles",
    "supporting",
    "packages",
    "logical",
    "fetcher",
    "package-map",
    "matchetype",
    "supporting5",
)
SKIP_MODULES = (
    "tx",
    "profile",
    "questionnaire",
    "cdshooks",
    "sd",
    "matchetype",
    "logical",
    "shc",
    "cda",
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path)
    ap.add_argument("--json", action="store_true", help="print a machine-readable summary")
    ap.add_argument("--show", type=int, default=50, help="disagreements to list")
    args = ap.parse_args()

    from fhir_adapter.validation import Validator

    root = args.checkout / "validator"
    manifest = json.loads((root / "manifest.json").read_text())
    validator = Validator()
    skipped: collections.Counter[str] = collections.Counter()
    rows: list[dict[str, Any]] = []
    for case in manifest["test-cases"]:
        if not str(case.get("version", "")).startswith("4.0"):
            continue
        reason = next((k for k in SKIP_KEYS if k in case), None)
        if reason is None and case.get("module") in SKIP_MODULES:
            reason = f"module {case['module']}"
        if reason is None and case.get("use-test") is False:
            reason = "use-test false"
        if reason is None and not case["file"].endswith(".json"):
            reason = "not JSON"
        outcome_file = root / "outcomes" / str(case.get("java", ""))
        if reason is None and not outcome_file.is_file():
            reason = "no official outcome"
        if reason:
            skipped[reason] += 1
            continue
        outcome = json.loads(outcome_file.read_text())
        official_errors = [
            i for i in outcome.get("issue", []) if i.get("severity") in ("error", "fatal")
        ]
        try:
            text = (root / case["file"]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            skipped["unreadable input"] += 1
            continue
        report = validator.validate_text(text, source=case["file"])
        rows.append(
            {
                "case": case["name"],
                "official_valid": not official_errors,
                "ours_valid": report.ok,
                "official_first": (
                    official_errors[0].get("details", {}).get("text", "") if official_errors else ""
                ),
                "ours_first": str(report.errors[0]) if report.errors else "",
            }
        )
    agree = sum(r["official_valid"] == r["ours_valid"] for r in rows)
    fp = [r for r in rows if r["official_valid"] and not r["ours_valid"]]
    fn = [r for r in rows if not r["official_valid"] and r["ours_valid"]]
    summary = {
        "cases": len(rows),
        "agreement": round(100 * agree / max(len(rows), 1), 1),
        "false_positives": len(fp),
        "false_negatives": len(fn),
        "official_invalid": sum(not r["official_valid"] for r in rows),
        "skipped": dict(skipped),
    }
    if args.json:
        json.dump({"summary": summary, "disagreements": fp + fn}, sys.stdout, indent=2)
        return
    print(
        f"HL7 fhir-test-cases, R4 single-resource base-spec cases: {len(rows)} evaluated, {sum(skipped.values())} skipped"
    )
    print(f"  skipped: {dict(skipped)}")
    print(
        f"agreement with the official validator's verdict: {summary['agreement']}% ({agree}/{len(rows)})"
    )
    print(
        f"  false positives (we reject, HL7 accepts): {len(fp)}; false negatives (we accept, HL7 rejects): {len(fn)}"
    )
    print("  reference: pyfhircheck reports 92.1% on the R4 cases of this suite")
    for r in (fp + fn)[: args.show]:
        kind = "FP" if r in fp else "FN"
        print(
            f"  {kind} {r['case']}: ours: {r['ours_first'][:150]} | HL7: {r['official_first'][:150]}"
        )


if __name__ == "__main__":
    main()
