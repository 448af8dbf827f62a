"""Three-valued value-set membership, offline: a code is a member, not a member, or the question
cannot be decided without a terminology server (``None``, with the reason).

Value sets come from the loaded packages' tables (R4 core included); code systems from the
packages and from the complete HL7/DICOM code systems of the R4 definitions. Undecidable: a value
set that is not loaded (VSAC shells, packages not available offline), a filter other than is-a /
descendent-of / = over a known hierarchy, a whole-system include or filter over a system whose
codes are not all known offline (SNOMED CT, LOINC, RxNorm, ...), nesting deeper than 8.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.validation.tables import displays

Verdict = "bool | None"


class Terminology:
    """Membership tests over the value sets and code systems of a ProfileSet."""

    def __init__(
        self, valuesets: dict[str, dict[str, Any]], codesystems: dict[str, dict[str, Any]]
    ) -> None:
        self.valuesets = valuesets
        self.codesystems = codesystems
        self._codes: dict[str, frozenset[str] | None] = {}
        self._memo: dict[tuple[str, str | None, str], tuple[bool | None, str]] = {}

    def system_codes(self, system: str) -> frozenset[str] | None:
        """Every code of a code system known completely offline, else None."""
        if system in self._codes:
            return self._codes[system]
        got: frozenset[str] | None = None
        cs = self.codesystems.get(system)
        if cs is not None and cs.get("content") == "complete" and cs.get("codes"):
            got = frozenset(cs["codes"])
        elif system in displays():
            got = frozenset(displays()[system])
        self._codes[system] = got
        return got

    def member(self, vs_url: str, system: str | None, code: str) -> tuple[bool | None, str]:
        """(True / False / None, reason when None) for ``system|code`` in value set ``vs_url``.
        ``system`` None means a bare ``code`` element (any system of the value set will do)."""
        key = (vs_url, system, code)
        got = self._memo.get(key)
        if got is None:
            got = self._memo[key] = self._member(vs_url, system, code, 0)
        return got

    def _member(
        self, url: str, system: str | None, code: str, depth: int
    ) -> tuple[bool | None, str]:
        vs = self.valuesets.get(url.split("|")[0])
        if vs is None:
            return (
                None,
                f"value set {url} is not loaded (it is defined outside the loaded packages)",
            )
        if depth > 8:
            return None, f"value set {url} nests too deeply"
        if not vs.get("inc"):
            return None, f"value set {url} has no content offline (e.g. a VSAC shell)"
        unknown = ""
        found: bool | None = False
        for rule in vs["inc"]:
            r, why = self._rule(rule, system, code, depth)
            if r is True:
                found = True
                break
            if r is None:
                unknown = why
        if found is not True:
            return (None, unknown) if unknown else (False, "")
        for rule in vs.get("exc", []):
            r, why = self._rule(rule, system, code, depth)
            if r is True:
                return False, ""
            if r is None:
                return None, why
        return True, ""

    def _rule(
        self, rule: dict[str, Any], system: str | None, code: str, depth: int
    ) -> tuple[bool | None, str]:
        rs = rule.get("s")
        if rs is not None and system is not None and rs != system:
            return False, ""
        verdict: bool | None = True
        why = ""
        if "c" in rule:
            verdict = code in rule["c"]
        elif rs is not None:
            codes = self.system_codes(rs)
            if "f" in rule:
                verdict, why = self._filters(rs, rule["f"], code, codes)
            elif codes is None:
                verdict, why = (
                    None,
                    f"it includes all of {rs}, whose codes are not all known offline",
                )
            else:
                verdict = code in codes
        if verdict is False:
            return False, ""
        for other in rule.get("vs", []):
            r, w = self._member(other, system if rs is None else rs, code, depth + 1)
            if r is False:
                return False, ""
            if r is None:
                verdict, why = None, w
        return verdict, why

    def _filters(
        self, system: str, filters: list[list[Any]], code: str, codes: frozenset[str] | None
    ) -> tuple[bool | None, str]:
        parents = (self.codesystems.get(system) or {}).get("parents")
        for prop, op, value in filters:
            if codes is None or prop != "concept" or op not in ("is-a", "descendent-of", "="):
                return None, f"it filters {system} by {prop} {op} {value}, not decidable offline"
            if code not in codes:
                return False, ""
            ancestors = (parents or {}).get(code, [])
            if op == "=":
                ok = code == value
            elif op == "is-a":
                ok = code == value or value in ancestors
            else:
                ok = value in ancestors
            if not ok:
                return False, ""
        return True, ""
