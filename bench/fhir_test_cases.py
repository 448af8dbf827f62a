"""Agreement with the official HL7 validator on every R4 case of HL7's fhir-test-cases suite.

    python bench/fhir_test_cases.py CHECKOUT [--json] [--show N] [--group a|b]

CHECKOUT is a checkout of the public FHIR/fhir-test-cases repository (not part of this project):
``git clone --depth 1 https://github.com/FHIR/fhir-test-cases``. Its ``validator/manifest.json``
lists the test cases; the official Java validator's verdict for each is recorded in
``validator/outcomes/java/`` (or inline, for older cases).

Population: every case of the manifest. A case is scored when it is an R4 (4.0) case with a
recorded official outcome of its base validation; every other case is dropped and counted under
the first reason that applies (``DROP_REASONS`` below, in order). Scored cases fall into groups:

(a) default settings, no packages: the official run loads nothing beyond R4 core and uses the
    test harness's defaults; fhir-adapter validates with ``Validator()``.
(b) cases that load US Core or IPS packages that are available offline (``OFFLINE_PACKAGES``):
    fhir-adapter validates with those packages loaded (see ``group_b_validator``).

The official verdict is "invalid" when its outcome has an error or fatal issue. Agreement is the
share of a group's cases where fhir-adapter reaches the same verdict; a false positive is a case
the official validator accepts and fhir-adapter rejects.

"Needs a terminology server": every error in the official outcome is a terminology finding about
a code system that the R4 definitions do not hold (SNOMED CT, LOINC, CVX, ...): a wrong display,
an unknown code, an invalid SNOMED CT expression constraint, as the official validator learnt
from its terminology server. "Needs digital signature verification": every official error is a
finding of its signature check. A case whose official errors include anything else stays in its
group.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: packages available offline (the official packages in ../shared/igs, and IPS 2.0.0 from npm)
OFFLINE_PACKAGES = frozenset(
    {
        "hl7.fhir.us.core#3.1.1",
        "hl7.fhir.us.core#6.1.0",
        "hl7.fhir.us.core#7.0.0",
        "hl7.fhir.uv.ips#1.1.0",
        "hl7.fhir.uv.ips#2.0.0",
    }
)

#: manifest keys that do not change the base validation run of the official test harness
#: (documentation, other validators' outcomes, debugging, and the separate profile/matchetype/
#: scoring runs, which are not part of the base verdict)
INERT_KEYS = frozenset(
    {
        "name",
        "file",
        "version",
        "module",
        "java",
        "description",
        "explanation",
        "documentation",
        "tags",
        "firely-sdk-current",
        "firely-sdk-wip",
        "brianpos",
        "dotnet-brianpos",
        "debug",
        "txLog",
        "crumb-trail",
        "ids-in-errors",
        "generate-shapshot",
        "profile",
        "scoring",
    }
)

#: harness settings whose value equals the harness default (ValidationTests in
#: hapifhir/org.hl7.fhir.core): the key is present but changes nothing
HARNESS_DEFAULTS: dict[str, Any] = {
    "use-test": True,
    "examples": True,
    "assumeValidRestReferences": False,
    "validateContains": "CHECK_VALID",
    "validateReference": "IGNORE",
    "enforceAggregationOutsideBundles": False,
}

#: keys that load conformance content beyond R4 core
LOADING_KEYS = ("packages", "ips", "supporting", "profiles", "supporting5", "package-map")

# Drop reasons, in the order they are tried.
OTHER_VERSION = "other FHIR version"
NO_OUTCOME = "no official outcome recorded"
DISABLED = "disabled in the suite (use-test: false)"
NOT_JSON = "not JSON (XML, text or JWT input)"
NO_INPUT = "input file absent from the checkout"
LOGICAL = "logical model (no base validation run)"
NO_PACKAGE = "needs a package not available offline"
TEST_PACKAGE = "loads a test package shipped with the suite (not US Core / IPS)"
SUITE_RESOURCES = "needs the suite's own conformance resources (not a package)"
SETTING = "non-default validator setting"
TERMINOLOGY = "needs a terminology server"
SIGNATURE = "needs digital signature verification (not implemented)"
DROP_REASONS = (
    OTHER_VERSION,
    NO_OUTCOME,
    DISABLED,
    NOT_JSON,
    NO_INPUT,
    LOGICAL,
    NO_PACKAGE,
    TEST_PACKAGE,
    SUITE_RESOURCES,
    SETTING,
    TERMINOLOGY,
    SIGNATURE,
)

_TX_FINDING = re.compile(
    r"Wrong Display Name .* for (?P<a>\S+?)#"
    r"|Unknown code '.*' in the CodeSystem '(?P<b>[^']+)'"
    r"|is not valid in the system (?P<c>\S+)"
    r"|is not declared in the base CodeSystem (?P<d>\S+)"
    r"|must be a valid code from the system '(?P<e>[^']+)'"
    r"|is not allowed for property '.*' in system '(?P<f>[^']+)'"
    # SNOMED CT expression constraints: the official validator sends them to the terminology
    # server (SnomedCTChecker.checkFilterValue) and reports its answer
    r"|for the filter constraint is invalid: Invalid (?P<ecl>ECL)"
)
_SNOMED = "http://snomed.info/sct"
#: the official validator's digital-signature findings (BUNDLE_SIGNATURE_* messages)
_SIGNATURE_FINDING = re.compile(
    r"^(The signature |The digital signature |The digest value |Error verifying the signature"
    r"|Error parsing the digital signature|Didn't find a provided)"
)


@dataclass
class Case:
    """One manifest entry with its official verdict and what it needs."""

    name: str
    file: str
    entry: dict[str, Any]
    official_errors: list[str] = field(default_factory=list)
    tx_errors: int = 0
    group: str = ""
    detail: str = ""

    @property
    def official_valid(self) -> bool:
        return not self.official_errors


def _official_outcome(root: Path, entry: dict[str, Any]) -> list[dict[str, Any]] | None:
    """Error/fatal issues of the recorded official base outcome, or None if none is recorded."""
    java = entry.get("java")
    if isinstance(java, str):
        path = root / "outcomes" / java
        if not path.is_file():
            return None
        outcome = json.loads(path.read_text(encoding="utf-8"))
        return [i for i in outcome.get("issue", []) if i.get("severity") in ("error", "fatal")]
    if isinstance(java, dict) and "errorCount" in java:
        lines = [x for x in java.get("output", []) if x.startswith(("ERROR", "FATAL"))]
        return [{"details": {"text": x}} for x in lines] or (
            [{"details": {"text": "(error count only)"}}] * int(java["errorCount"])
        )
    return None


def _held_systems() -> frozenset[str]:
    from fhir_adapter.validation.tables import displays

    return frozenset(displays())


def _tx_dependent(issue: dict[str, Any], held: frozenset[str]) -> bool:
    """An official error that only a terminology server could decide: a code or display in a
    code system that the R4 definitions do not hold."""
    m = _TX_FINDING.search(issue.get("details", {}).get("text", ""))
    if not m:
        return False
    system = _SNOMED if m.group("ecl") else next(g for g in m.groups() if g)
    return system.split("|")[0] not in held


def _packages(entry: dict[str, Any]) -> list[str]:
    pkgs = [str(p) for p in entry.get("packages", [])]
    if entry.get("ips") == "uv":
        pkgs.append("hl7.fhir.uv.ips#1.1.0")
    elif "ips" in entry:
        pkgs.append(f"ips:{entry['ips']}")
    return pkgs


def classify(root: Path, entry: dict[str, Any], held: frozenset[str]) -> Case:
    """Group ("a", "b") or drop reason of one manifest entry."""
    case = Case(str(entry.get("name")), str(entry.get("file", "")), entry)

    def drop(reason: str, detail: str = "") -> Case:
        case.group, case.detail = reason, detail
        return case

    version = str(entry.get("version", "5.0 (default)"))
    if not version.startswith("4.0"):
        return drop(OTHER_VERSION, version)
    errors = _official_outcome(root, entry)
    if errors is None:
        return drop(NO_OUTCOME)
    case.official_errors = [i.get("details", {}).get("text", "") for i in errors]
    if entry.get("use-test") is False:
        return drop(DISABLED)
    if not case.file.endswith(".json"):
        return drop(NOT_JSON, case.file.rsplit(".", 1)[-1])
    if not (root / case.file).is_file():
        return drop(NO_INPUT, case.file)
    if "logical" in entry:
        return drop(LOGICAL)
    packages = _packages(entry)
    missing = [p for p in packages if p not in OFFLINE_PACKAGES and not p.endswith(".tgz")]
    if missing:
        return drop(NO_PACKAGE, ", ".join(missing))
    shipped = [p for p in packages if p.endswith(".tgz")]
    if shipped:
        return drop(TEST_PACKAGE, ", ".join(shipped))
    loads = [k for k in LOADING_KEYS if k in entry and k not in ("packages", "ips")]
    if loads:
        return drop(SUITE_RESOURCES, ", ".join(loads))
    settings = sorted(
        k
        for k in entry
        if k not in INERT_KEYS
        and k not in LOADING_KEYS
        and not (k in HARNESS_DEFAULTS and entry[k] == HARNESS_DEFAULTS[k])
        and not (k == "matchetype" and isinstance(entry[k], dict))  # a separate comparison
    )
    if settings:
        return drop(SETTING, ", ".join(settings))
    case.tx_errors = sum(_tx_dependent(i, held) for i in errors)
    if errors and case.tx_errors == len(errors):
        return drop(TERMINOLOGY)
    texts = case.official_errors
    if texts and all(_SIGNATURE_FINDING.match(t) for t in texts):
        return drop(SIGNATURE)
    case.group = "b" if packages else "a"
    case.detail = ", ".join(packages)
    return case


def group_a_validator() -> Callable[[str, str], Any]:
    """Group (a): fhir-adapter's default validator."""
    from fhir_adapter.validation import Validator

    validator = Validator()
    return lambda text, source: validator.validate_text(text, source=source)


#: ``"ips": "uv"`` cases: the Java harness also validates the bundle against the IPS Bundle profile
IPS_BUNDLE = "http://hl7.org/fhir/uv/ips/StructureDefinition/Bundle-uv-ips"


def group_b_validator(case: Case) -> Callable[[str, str], Any] | None:
    """Group (b): a validator with the case's packages loaded (and, for an ``ips: uv`` case, the
    IPS Bundle profile requested, as the official harness does)."""
    from fhir_adapter.validation import Validator

    packages = _packages(case.entry)
    profiles = [IPS_BUNDLE] if case.entry.get("ips") == "uv" else []
    validator = Validator(igs=packages, profiles=profiles)
    return lambda text, source: validator.validate_text(text, source=source)


def score(root: Path, cases: list[Case]) -> list[dict[str, Any]]:
    """Validate every grouped case; one row per case scored."""
    default = group_a_validator()
    rows = []
    for case in cases:
        if case.group == "a":
            run = default
        elif case.group == "b":
            maybe = group_b_validator(case)
            if maybe is None:
                continue
            run = maybe
        else:
            continue
        text = (root / case.file).read_text(encoding="utf-8")
        report = run(text, case.file)
        rows.append(
            {
                "group": case.group,
                "case": case.name,
                "official_valid": case.official_valid,
                "ours_valid": report.ok,
                "official_first": case.official_errors[0] if case.official_errors else "",
                "ours_first": str(report.errors[0]) if report.errors else "",
            }
        )
    return rows


def summarise(rows: list[dict[str, Any]], group: str) -> dict[str, Any]:
    mine = [r for r in rows if r["group"] == group]
    agree = sum(r["official_valid"] == r["ours_valid"] for r in mine)
    return {
        "cases": len(mine),
        "agreement": round(100 * agree / len(mine), 1) if mine else None,
        "agree": agree,
        "false_positives": sum(r["official_valid"] and not r["ours_valid"] for r in mine),
        "false_negatives": sum(not r["official_valid"] and r["ours_valid"] for r in mine),
        "official_invalid": sum(not r["official_valid"] for r in mine),
    }


def _commit(checkout: Path) -> str:
    try:
        out = subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown commit"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkout", type=Path)
    ap.add_argument("--json", action="store_true", help="print a machine-readable summary")
    ap.add_argument("--show", type=int, default=50, help="disagreements to list")
    ap.add_argument("--dropped", action="store_true", help="list every dropped case and why")
    args = ap.parse_args()

    root = args.checkout / "validator"
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    held = _held_systems()
    cases = [classify(root, entry, held) for entry in manifest["test-cases"]]
    rows = score(root, cases)
    dropped = collections.Counter(c.group for c in cases if c.group not in ("a", "b"))
    groups = {g: summarise(rows, g) for g in ("a", "b")}
    listed_b = sum(c.group == "b" for c in cases)
    disagreements = [r for r in rows if r["official_valid"] != r["ours_valid"]]

    if args.json:
        summary = {
            "cases_in_manifest": len(cases),
            "dropped": {r: dropped[r] for r in DROP_REASONS if dropped[r]},
            "groups": groups,
            "group_b_listed": listed_b,
        }
        json.dump({"summary": summary, "disagreements": disagreements}, sys.stdout, indent=2)
        return

    r4 = [c for c in cases if c.group != OTHER_VERSION]
    print(f"HL7 fhir-test-cases ({_commit(args.checkout)}): {len(cases)} cases in the manifest")
    print(
        f"  R4 cases: {len(r4)}; with a recorded official outcome: "
        f"{sum(c.group != NO_OUTCOME for c in r4)}"
    )
    print("dropped, by first reason that applies:")
    for reason in DROP_REASONS:
        if dropped[reason]:
            print(f"  {dropped[reason]:4d}  {reason}")
    for g, label in (("a", "default settings, no packages"), ("b", "US Core / IPS packages")):
        s = groups[g]
        if not s["cases"]:
            note = (
                f"{listed_b} cases, not scored: the validator cannot load packages yet"
                if g == "b" and listed_b
                else "no cases"
            )
            print(f"group ({g}) {label}: {note}")
            continue
        print(
            f"group ({g}) {label}: {s['cases']} cases ({s['official_invalid']} officially "
            f"invalid); agreement {s['agreement']}% ({s['agree']}/{s['cases']}); "
            f"false positives {s['false_positives']}, false negatives {s['false_negatives']}"
        )
    for r in disagreements[: args.show]:
        kind = "FP" if r["official_valid"] else "FN"
        print(
            f"  ({r['group']}) {kind} {r['case']}: ours: {r['ours_first'][:160]} "
            f"| HL7: {r['official_first'][:160]}"
        )
    if args.dropped:
        for c in cases:
            if c.group not in ("a", "b", OTHER_VERSION):
                print(f"  dropped {c.name}: {c.group} {c.detail}")


if __name__ == "__main__":
    main()
