"""IPS output: the case as an International Patient Summary (IPS 1.1.0) ``document`` Bundle.

The Bundle (``Bundle-uv-ips``) starts with a Composition (``Composition-uv-ips``, LOINC 60591-5
"Patient summary Document") whose sections (declared in ``rules.yaml``) list every clinical
resource of the case; every other entry (the Patient, the author Device, ImagingStudies,
findings reported in a DiagnosticReport) is reached from the Composition by references.

- Required sections the case says nothing about (Problems, Allergies, Medications) hold the IPS
  "absent or unknown" statement (e.g. *No information about allergies*), never an empty list and
  never a made-up "no known allergies". Problems holds it too when its only conditions are
  differential diagnoses (no clinical status, so no Condition-uv-ips), listed after it.
- The author is a Device naming fhir-adapter and its version: the document is assembled by
  software from the case, and the narrative says that no clinician wrote or attested it.
- ``Bundle.timestamp`` and ``Composition.date`` follow :mod:`fhir_adapter.profiled.timestamp`
  (case ``source.date``, else ``SOURCE_DATE_EPOCH``, else an error; never the clock).
- Facts the profiles require and the case lacks (Patient name and birth date, dates and
  performers of results, effective periods of medications) carry ``data-absent-reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fhir_adapter.bundle import dependency_order, references
from fhir_adapter.errors import ProfileError
from fhir_adapter.ids import business_identifier
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.profiled import adjust, ips_text
from fhir_adapter.profiled.rules import Matcher, package, rules
from fhir_adapter.profiled.timestamp import document_time
from fhir_adapter.version import __version__

if TYPE_CHECKING:  # pragma: no cover
    from fhir_adapter.case import Case
    from fhir_adapter.profiled.modes import ProfileMode
    from fhir_adapter.terminology import Terminology

SOFTWARE = "fhir-adapter"
#: Resource fields holding the patient reference, by resource type (absent statements).
_SUBJECT = {"AllergyIntolerance": "patient"}


class _Doc:
    """The document being assembled: its case, mode, terminology and resources by fullUrl."""

    def __init__(self, case: Case, mode: ProfileMode, term: Terminology) -> None:
        self.case, self.mode, self.term = case, mode, term
        self.by_url: dict[str, dict[str, Any]] = {}
        self.unknown = term.concept("hl7", "data_absent_unknown").to_codeable_concept()
        # identities and resource heads as the mappers make them
        context = MappingContext(case, term)
        self.uuid = context.uuid
        self.head = context.base

    def add(self, r: dict[str, Any]) -> str:
        url = f"urn:uuid:{r['id']}"
        self.by_url[url] = r
        return url


def _absent_statement(
    doc: _Doc, when_empty: dict[str, Any], patient: str, beside: list[dict[str, Any]]
) -> dict[str, Any]:
    """The IPS 'no information about ...' resource of a required section; ``beside``: the
    section's other entries, none of which the IPS accepts in the section's required slice."""
    rtype, key = when_empty["type"], when_empty["code"]
    concept = doc.term.concept("ips", key)
    why = "the case gives no information on this; nothing is known either way"
    if beside:
        names = "; ".join(ips_text.cc_text(r.get("code")) for r in beside)
        beside_rule = when_empty["beside"]
        why = f"{beside_rule['none']}; listed beside it: {beside_rule['what']}: {names}"
    r = doc.head(rtype, f"ips-{key}", concept.text, [("Statement", concept.text), ("Why", why)])
    if rtype == "MedicationStatement":
        r["status"] = "unknown"
        r["medicationCodeableConcept"] = concept.to_codeable_concept()
        # as in the IPS package's own 'no information' example: a period does not apply
        r["_effectiveDateTime"] = {"extension": [adjust.dar("not-applicable")]}
    elif rtype == "AllergyIntolerance":
        # ait-1 needs a clinical status; the IPS package's own "no information about allergies"
        # example (Bundle-bundle-no-info-required-sections) says "active", and so do we
        active = doc.term.concept("hl7", "allergy_clinical_active")
        r["clinicalStatus"] = active.to_codeable_concept()
        r["code"] = concept.to_codeable_concept()
    else:
        r["clinicalStatus"] = doc.term.concept("hl7", "clinical_active").to_codeable_concept()
        r["code"] = concept.to_codeable_concept()
    r[_SUBJECT.get(rtype, "subject")] = {"reference": patient}
    return r


def _author(doc: _Doc) -> dict[str, Any]:
    rows = [
        ("Software", f"{SOFTWARE} {__version__}"),
        (
            "Role",
            "assembled this patient summary from a case file; it is not a clinician and "
            "attests nothing",
        ),
    ]
    r = doc.head("Device", SOFTWARE, "Device", rows)
    r["deviceName"] = [{"name": SOFTWARE, "type": "manufacturer-name"}]
    r["version"] = [{"value": __version__}]
    return r


@dataclass
class _Section:
    rule: dict[str, Any]
    entries: list[dict[str, Any]]
    absent: bool = False  # entries[0] is the IPS "no information" statement


def _unfilled(doc: _Doc, rule: dict[str, Any], entries: list[dict[str, Any]]) -> list[str]:
    """What the Composition profile requires of the section and ``entries`` lack: its
    required entry slices no entry claims a profile of (e.g. ``problem``: Condition-uv-ips),
    and ``entry`` when there are too few entries."""
    comp = Matcher([]).claim("ips", doc.mode.version, {"resourceType": "Composition"})
    if comp is None:  # pragma: no cover - rules.yaml always gives the Composition a profile
        return []
    spec = package("ips", doc.mode.version)["profiles"][comp.id]["sections"][rule["slice"]]
    claimed = {p.split("|")[0] for r in entries for p in r.get("meta", {}).get("profile", [])}
    missing = [k for k, urls in spec["required_slices"].items() if not claimed & set(urls)]
    return missing + (["entry"] if len(entries) < spec["entry_min"] else [])


def _sections(doc: _Doc, resources: list[dict[str, Any]], patient: str) -> list[_Section]:
    """The document's sections in order. A required section whose entries do not fill what
    the Composition profile requires of it (none at all, or only diagnoses the problem slice
    refuses) starts with the IPS "no information" statement."""
    matcher = Matcher(resources)
    taken: set[str] = set()
    out = []
    for rule in rules()["ips"]["sections"]:
        entries = [
            r
            for r in resources
            if r["id"] not in taken and any(matcher.matches(t, r) for t in rule["takes"])
        ]
        taken.update(r["id"] for r in entries)
        if not entries and "when_empty" not in rule:
            continue
        section = _Section(rule, entries)
        # the statement goes beside other entries only where rules.yaml says what they are
        if _unfilled(doc, rule, entries) and (
            not entries or "beside" in rule.get("when_empty", {})
        ):
            statement = _absent_statement(doc, rule["when_empty"], patient, entries)
            claim = Matcher([statement]).claim("ips", doc.mode.version, statement)
            statement = adjust.apply_claim(statement, claim, doc.unknown)
            section = _Section(rule, [statement, *entries], absent=True)
        missing = _unfilled(doc, rule, section.entries)
        if missing:
            raise ProfileError(
                f"the IPS section '{rule['title']}' would lack the Composition profile's "
                f"required entry slices ({', '.join(missing)})",
                file="fhir_adapter/profiled/rules.yaml",
                fix=f"review ips.sections {rule['key']}: its takes, when_empty and beside",
            )
        out.append(section)
    return out


def _reach(doc: _Doc, roots: list[str]) -> list[tuple[str, str]]:
    """Drop what no section reaches and ``leave_out`` allows; returns (reason, what) for each.

    Every entry of a document must be reachable from its Composition; anything else no section
    reaches is a gap in ``rules.yaml`` and raises."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        url = todo.pop()
        if url in seen or url not in doc.by_url:
            continue
        seen.add(url)
        todo.extend(references(doc.by_url[url]))
    matcher = Matcher(doc.by_url.values())
    dropped, lost = [], []
    for url, r in list(doc.by_url.items()):
        if url in seen:
            continue
        rule = next((x for x in rules()["ips"]["leave_out"] if matcher.matches(x["when"], r)), None)
        if rule is None:
            lost.append(f"{r['resourceType']}/{r['id']}")
            continue
        del doc.by_url[url]
        dropped.append((rule["reason"], _label(r)))
    if lost:
        raise ProfileError(
            f"no IPS section takes {', '.join(sorted(lost))}, and no section entry refers to them",
            file="fhir_adapter/profiled/rules.yaml",
            fix="add a section rule (ips.sections) that takes these resources",
        )
    return sorted(dropped)


def _label(r: dict[str, Any]) -> str:
    """What a resource is, for a narrative: its code or type, else its class, and its type."""
    what = ips_text.cc_text(r.get("code")) or ips_text.cc_text(r.get("type"))
    if not what and isinstance(r.get("class"), dict):
        what = str(r["class"].get("display") or r["class"].get("code") or "")
    return f"{r['resourceType']} {what}".strip()


def _section_div(s: _Section, lookup: ips_text.Lookup) -> str:
    """A section's narrative: its table, after the "no information" statement if it has one."""
    if not s.absent:
        return ips_text.section_div(s.rule["columns"], s.entries, lookup)
    statement, *beside = s.entries
    if not beside:
        return ips_text.absent_div(statement)
    what = ips_text.cc_text(statement["code"])
    beside_rule = s.rule["when_empty"]["beside"]
    note = f"{what}: {beside_rule['none']}. Listed below: {beside_rule['what']}."
    return ips_text.section_div(s.rule["columns"], beside, lookup, note=note)


def _section_line(s: _Section) -> str:
    """A section in the Composition's summary: its title and what it holds."""
    if not s.absent:
        return f"{s.rule['title']} ({len(s.entries)})"
    if len(s.entries) == 1:
        return f"{s.rule['title']}: no information"
    beside = s.rule["when_empty"]["beside"]["what"]
    return f"{s.rule['title']}: no information; beside it ({len(s.entries) - 1}): {beside}"


def _patient_line(doc: _Doc, patient: dict[str, Any]) -> str:
    """Sex, age and what is unknown about the patient, read from the resources."""
    parts = [str(patient.get("gender", "unknown sex"))]
    age = doc.by_url.get(f"urn:uuid:{doc.uuid('Observation', 'patient-age')}")
    if age is not None:
        parts.append(f"age {ips_text.value_text(age)}")
    unknown = [
        label
        for key, label in (("name", "name"), ("_birthDate", "birth date"))
        if adjust.marked_unknown(patient.get(key))
    ]
    if unknown:
        parts.append(f"{' and '.join(unknown)} not given in the case (marked unknown)")
    return "; ".join(parts)


def build(
    case: Case, resources: list[dict[str, Any]], mode: ProfileMode, term: Terminology
) -> dict[str, Any]:
    """The IPS document Bundle of ``case``."""
    date, timestamp = document_time(case)
    doc = _Doc(case, mode, term)
    profiled = adjust.reshape(resources, mode, doc.unknown)
    patients = [r for r in profiled if r["resourceType"] == "Patient"]
    if len(patients) != 1:
        raise ProfileError(
            f"an IPS needs exactly one Patient, the case gives {len(patients)}",
            file=getattr(case, "path", None),
            field="patient",
            fix="an IPS summarises one patient: convert a case with its patient section",
        )
    patient = f"urn:uuid:{patients[0]['id']}"
    author = _author(doc)
    for r in (*profiled, author):
        doc.add(r)
    sections = _sections(doc, profiled, patient)
    for section in sections:
        for r in section.entries:
            doc.add(r)
    author_url = f"urn:uuid:{author['id']}"
    roots = [patient, author_url, *(f"urn:uuid:{r['id']}" for s in sections for r in s.entries)]
    dropped = _reach(doc, roots)

    def lookup(ref: str) -> dict[str, Any] | None:
        return doc.by_url.get(ref)

    comp_sections = [
        {
            "title": s.rule["title"],
            "code": term.concept("ips", s.rule["code"]).to_codeable_concept(),
            "text": {"status": "generated", "div": _section_div(s, lookup)},
            "entry": [{"reference": f"urn:uuid:{r['id']}"} for r in s.entries],
        }
        for s in sections
    ]
    source = case.source or {}
    contents = [_section_line(s) for s in sections]
    items = [
        ("Patient", _patient_line(doc, patients[0])),
        ("Source", "; ".join(str(source[k]) for k in ("kind", "reference") if source.get(k))),
        ("Sections", "; ".join(contents)),
        ("Not in this summary", "; ".join(f"{what}: {reason}" for reason, what in dropped)),
        (
            "Produced by",
            f"{SOFTWARE} {__version__} from case '{case.id}'; not written or attested by a "
            "clinician; facts the case does not give are marked unknown",
        ),
    ]
    title = f"Patient summary: {case.title}"
    uid = doc.uuid("Composition", f"ips@{mode.version}")
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "id": uid,
        "text": {
            "status": "generated",
            "div": ips_text.document_div(title, [case.summary or ""], items),
        },
        "identifier": business_identifier(uid),
        "status": "final",
        "type": term.concept("ips", "patient_summary_document").to_codeable_concept(),
        "subject": {"reference": patient},
        "date": date,
        "author": [{"reference": author_url}],
        "title": title,
        "section": comp_sections,
    }
    composition = adjust.apply_claim(
        composition, Matcher([]).claim("ips", mode.version, composition), doc.unknown
    )
    ordered = dependency_order([r for r in doc.by_url.values()])
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": doc.uuid("Bundle", f"ips@{mode.version}"),
        "identifier": business_identifier(doc.uuid("Bundle", f"ips@{mode.version}")),
        "type": "document",
        "timestamp": timestamp,
        "entry": [
            {"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in [composition, *ordered]
        ],
    }
    claim = Matcher([]).claim("ips", mode.version, bundle)
    return adjust.apply_claim(bundle, claim, doc.unknown)
