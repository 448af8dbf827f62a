"""Offline checks of external code systems: check digits, code shapes and canonical URIs.

These are syntactic checks only (a code of the right shape may still not exist); they catch
typos and system mix-ups without a terminology server. Hand-written because they are a few lines
each and no maintained Python library provides SNOMED/LOINC check digits.
"""

from __future__ import annotations

import re

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
DICOM = "http://dicom.nema.org/resources/ontology/DCM"
ATC = "http://www.whocc.no/atc"

#: Non-canonical spellings of code-system URIs seen in the wild -> the canonical R4 URI.
NON_CANONICAL = {
    "http://snomed.info/sct/": SNOMED,
    "https://snomed.info/sct": SNOMED,
    "urn:oid:2.16.840.1.113883.6.96": SNOMED,
    "http://loinc.org/": LOINC,
    "https://loinc.org": LOINC,
    "urn:oid:2.16.840.1.113883.6.1": LOINC,
    "urn:oid:2.16.840.1.113883.6.90": ICD10CM,
    "http://hl7.org/fhir/sid/icd-10-cm/": ICD10CM,
    "urn:oid:2.16.840.1.113883.6.88": RXNORM,
    "http://www.nlm.nih.gov/research/umls/rxnorm/": RXNORM,
    "urn:oid:2.16.840.1.113883.6.8": UCUM,
    "http://unitsofmeasure.org/": UCUM,
    "urn:oid:1.2.840.10008.2.16.4": DICOM,
}

# Verhoeff dihedral-group tables (the algorithm SNOMED CT uses for its check digit).
_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]

_SCTID = re.compile(r"^[1-9][0-9]{5,17}$")
_LOINC = re.compile(r"^([0-9]{1,7})-([0-9])$")
_LOINC_PART = re.compile(r"^L[PAG][0-9]{1,8}-[0-9]$")
_ICD10CM = re.compile(r"^[A-Z][0-9][0-9AB](\.[0-9A-TV-Z]{1,4})?$")


def verhoeff_ok(digits: str) -> bool:
    """Whether a digit string ends with a valid Verhoeff check digit."""
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _D[c][_P[i % 8][ord(ch) - 48]]
    return c == 0


def snomed_ok(code: str) -> bool:
    """A SNOMED CT concept id: 6-18 digits, no leading zero, a concept partition (``00`` core,
    ``10`` extension: description and relationship ids are not codes), valid Verhoeff digit."""
    return bool(_SCTID.match(code)) and code[-3:-1] in ("00", "10") and verhoeff_ok(code)


def loinc_ok(code: str) -> bool:
    """A LOINC code ``NNNNN-C`` with a valid mod-10 check digit (part/answer codes by shape)."""
    m = _LOINC.match(code)
    if not m:
        return bool(_LOINC_PART.match(code))
    body, check = m.group(1), int(m.group(2))
    # LOINC mod 10: from the right, double every other digit starting with the rightmost.
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d // 10 + d % 10
    return (10 - total % 10) % 10 == check


def icd10cm_ok(code: str) -> bool:
    """An ICD-10-CM code shape: letter, two characters, optional dot and 1-4 more (e.g. M32.9)."""
    return bool(_ICD10CM.match(code))


CHECKS = {SNOMED: snomed_ok, LOINC: loinc_ok, ICD10CM: icd10cm_ok}
