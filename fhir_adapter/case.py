"""The case model: a clinical case read from a case file (YAML or JSON, ``fhir-adapter-case/1``).

:func:`load_case` reads a file, checks it against ``schemas/case-1.schema.json``, checks that
every key it refers to exists (case keys and ``mappings/`` concepts, UCUM units), and returns
an immutable :class:`Case`. Any problem raises :class:`~fhir_adapter.errors.CaseError` naming the
file, the line, the field path and the fix.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from fhir_adapter.errors import CaseError, InputError
from fhir_adapter.paths import SEED_CASE
from fhir_adapter.terminology import Terminology, default_terminology

CASE_FORMAT = "fhir-adapter-case/1"
_SCHEMA_PATH = Path(__file__).with_name("schemas") / "case-1.schema.json"

# --------------------------------------------------------------------------- model


@dataclass(frozen=True, slots=True)
class DateSpec:
    """A date of known precision (year, month or day), possibly approximate."""

    date: str
    approximate: bool = False
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Quantity:
    """A positive amount with a UCUM unit code."""

    value: float | int
    unit: str


@dataclass(frozen=True, slots=True)
class Age:
    """The patient's age in a stated context (no birth date is ever derived from it)."""

    value: float | int
    unit: str
    context: str | None = None


@dataclass(frozen=True, slots=True)
class Patient:
    """The patient: administrative sex and, if reported, age."""

    sex: str
    age: Age | None = None


@dataclass(frozen=True, slots=True)
class Condition:
    """A diagnosis."""

    key: str
    concept: str
    clinical_status: str = "active"
    verification: str = "confirmed"
    category: str = "problem-list-item"
    diagnosed: DateSpec | None = None
    onset: DateSpec | None = None
    body_sites: tuple[str, ...] = ()
    due_to: tuple[str, ...] = ()
    associated_with: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Finding:
    """A clinical, imaging or pathology finding (becomes an Observation)."""

    key: str
    concept: str
    category: str
    description: str
    body_sites: tuple[str, ...] = ()
    focus: str | None = None


@dataclass(frozen=True, slots=True)
class Lab:
    """A laboratory result: a quantity, or a qualitative result concept such as 'normal'."""

    key: str
    concept: str
    quantity: Quantity | None = None
    qualitative: str | None = None
    interpretation: str | None = None
    date: DateSpec | None = None
    description: str | None = None


@dataclass(frozen=True, slots=True)
class Imaging:
    """An imaging study with its findings; one series per imaged region."""

    key: str
    modality: str
    report_code: str
    findings: tuple[str, ...]
    regions: tuple[str, ...] = ()
    description: str | None = None
    conclusion: str | None = None
    conclusion_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Pathology:
    """A pathology examination with its findings."""

    key: str
    report_code: str
    findings: tuple[str, ...]
    specimen_site: str | None = None
    conclusion: str | None = None
    conclusion_codes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Frequency:
    """``times`` administrations per ``period`` ``unit``."""

    times: int
    period: float | int
    unit: str


@dataclass(frozen=True, slots=True)
class Duration:
    """How long a treatment lasted; ``comparator`` for 'more than a year' and the like."""

    value: float | int
    unit: str
    comparator: str | None = None


@dataclass(frozen=True, slots=True)
class Medication:
    """A medication the patient took, with what is known of its dosage."""

    key: str
    concept: str
    status: str
    route: str | None = None
    dose: Quantity | None = None
    daily_dose: Quantity | None = None
    frequency: Frequency | None = None
    duration: Duration | None = None
    reasons: tuple[str, ...] = ()
    description: str | None = None


@dataclass(frozen=True)
class Case:
    """A whole case: the patient and every fact about them, as read from one case file."""

    id: str
    title: str
    patient: Patient
    summary: str | None = None
    source: dict[str, str] = field(default_factory=dict)
    conditions: tuple[Condition, ...] = ()
    findings: tuple[Finding, ...] = ()
    labs: tuple[Lab, ...] = ()
    imaging: tuple[Imaging, ...] = ()
    pathology: tuple[Pathology, ...] = ()
    medications: tuple[Medication, ...] = ()
    path: str | None = None

    def condition(self, key: str) -> Condition:
        """The condition with ``key``."""
        return next(c for c in self.conditions if c.key == key)

    def finding(self, key: str) -> Finding:
        """The finding with ``key``."""
        return next(f for f in self.findings if f.key == key)


# --------------------------------------------------------------------------- loading


def load_case(path: str | Path | None = None, *, terminology: Terminology | None = None) -> Case:
    """Read and check a case file (YAML or JSON); the built-in seed case when ``path`` is None."""
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"load_case() takes a case file path (str or Path) or None, not {type(path).__name__}"
            " (for case text use parse_case)"
        )
    file = Path(path) if path is not None else SEED_CASE
    if file.is_dir():
        raise CaseError(
            "is a directory",
            file=str(file),
            fix="give one case file, e.g. fixtures/<name>.case.yaml",
        )
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CaseError("file not found", file=str(file), fix="check the path") from None
    except (OSError, UnicodeDecodeError) as err:
        raise CaseError(f"cannot read file: {err}", file=str(file)) from None
    return parse_case(text, source=str(file), terminology=terminology)


def parse_case(
    text: str, *, source: str = "<case>", terminology: Terminology | None = None
) -> Case:
    """Check case-file text and build the :class:`Case` (see :func:`load_case`)."""
    data, lines = _parse_with_lines(text, source)
    _check_schema(data, lines, source)
    case = _build(data, source)
    _check_semantics(case, lines, source, terminology or default_terminology())
    return case


# YAML 1.1 would turn 2010-02-30 into a date (and fail obscurely) and "no" into False in some
# places; case files keep dates as text so we can check and report them ourselves.
def _loader_class() -> type:
    import yaml

    base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's parser when installed

    class _CaseLoader(base):  # type: ignore[misc,valid-type]
        pass

    _CaseLoader.yaml_implicit_resolvers = {
        ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for ch, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    return _CaseLoader


_LOADER = cache(_loader_class)


def _parse_with_lines(text: str, source: str) -> tuple[Any, dict[tuple[Any, ...], int]]:
    """Parse YAML/JSON text into plain data plus a map from field path to 1-based line."""
    import yaml

    loader = _LOADER()(text)
    lines: dict[tuple[Any, ...], int] = {}
    try:
        node = loader.get_single_node()
        if node is None:
            raise CaseError("file is empty", file=source, fix="start from fixtures/README.md")

        def build(n: Any, path: tuple[Any, ...]) -> Any:
            lines[path] = n.start_mark.line + 1
            if isinstance(n, yaml.MappingNode):
                out: dict[str, Any] = {}
                for k_node, v_node in n.value:
                    key = loader.construct_object(k_node, deep=True)
                    if not isinstance(key, str):
                        raise CaseError(
                            f"key {key!r} is not text",
                            file=source,
                            line=k_node.start_mark.line + 1,
                            field=_dotted(path),
                            fix="quote the key",
                        )
                    if key in out:
                        raise CaseError(
                            f"duplicate key {key!r}",
                            file=source,
                            line=k_node.start_mark.line + 1,
                            field=_dotted((*path, key)),
                            fix="keep one of the two entries",
                        )
                    out[key] = build(v_node, (*path, key))
                return out
            if isinstance(n, yaml.SequenceNode):
                return [build(item, (*path, i)) for i, item in enumerate(n.value)]
            return loader.construct_object(n, deep=True)

        data = build(node, ())
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        raise CaseError(
            f"malformed YAML/JSON: {err.problem or err.context}",
            file=source,
            line=mark.line + 1 if mark else None,
            fix="fix the syntax at that line",
        ) from None
    except yaml.YAMLError as err:
        raise CaseError(f"malformed YAML/JSON: {err}", file=source) from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise CaseError(
            "a case file must hold a mapping at the top",
            file=source,
            line=1,
            fix="see fixtures/README.md",
        )
    return data, lines


def _dotted(path: tuple[Any, ...]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _line(lines: dict[tuple[Any, ...], int], path: tuple[Any, ...]) -> int | None:
    while path and path not in lines:
        path = path[:-1]
    return lines.get(path)


@cache
def _schema_validator() -> Any:
    from jsonschema import Draft202012Validator

    schema = json.loads(_SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def case_schema() -> dict[str, Any]:
    """The JSON Schema of the case format."""
    schema: dict[str, Any] = _schema_validator().schema
    return schema


_JSON_TYPES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    for t, name in ((str, "text"), (int, "a whole number"), (float, "a number")):
        if isinstance(value, t):
            return name
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return "nothing" if value is None else type(value).__name__


def _check_schema(data: Any, lines: dict[tuple[Any, ...], int], source: str) -> None:
    from fhir_adapter.schemas.case1_check import JsonSchemaValueException, check

    try:
        check(data)  # generated from the same schema; fast, no jsonschema import
        return
    except JsonSchemaValueException:
        pass  # invalid: let jsonschema find and explain every problem
    validator = _schema_validator()
    errors = sorted(validator.iter_errors(data), key=lambda e: _line(lines, tuple(e.path)) or 0)
    problems: list[InputError] = []
    for err in errors:
        problems.extend(_explain(err, lines, source))
    if problems:
        raise CaseError.collect(problems)


def _explain(err: Any, lines: dict[tuple[Any, ...], int], source: str) -> list[InputError]:
    path = tuple(err.path)
    v, inst, schema = err.validator, err.instance, err.schema
    if v == "oneOf" and isinstance(inst, dict):
        # Report the branch that fits best rather than jsonschema's generic oneOf text.
        best = min(err.context, key=lambda e: len(list(e.path)), default=None)
        if best is not None:
            return _explain(best, lines, source)
    if v == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        return [
            CaseError(
                f"unknown key {k!r}",
                file=source,
                line=_line(lines, (*path, k)),
                field=_dotted((*path, k)),
                fix=f"remove it or use one of: {', '.join(allowed)}",
            )
            for k in sorted(set(inst) - set(allowed))
        ]
    if v == "required":
        missing = [k for k in schema["required"] if k not in inst]
        return [
            CaseError(
                f"missing required field {k!r}",
                file=source,
                line=_line(lines, path),
                field=_dotted((*path, k)),
                fix=f"add '{k}:' here (see fixtures/README.md)",
            )
            for k in missing
        ]
    if v == "type":
        want = err.validator_value
        wants = [want] if isinstance(want, str) else list(want)
        msg = f"expected {' or '.join(_JSON_TYPES.get(w, w) for w in wants)}, got {_describe(inst)}"
        fix = "change the value's type"
    elif v in ("exclusiveMinimum", "minimum"):
        bound = err.validator_value
        msg = f"{inst!r} is too small: must be {'>' if v == 'exclusiveMinimum' else '>='} {bound}"
        fix = "use a positive value (amounts, doses and durations cannot be zero or negative)"
    elif v == "enum":
        msg = f"{inst!r} is not allowed"
        fix = f"use one of: {', '.join(map(str, err.validator_value))}"
    elif v == "const":
        msg = f"{inst!r} is not supported"
        fix = f"use {err.validator_value!r}"
    elif v == "pattern":
        msg = f"{inst!r} has the wrong form"
        fix = (
            "use lower-case letters, digits and '_' (keys) or '-' (case id), starting with a letter"
        )
    elif v == "uniqueItems":
        msg = "list has the same item twice"
        fix = "remove the repeated item"
    elif v == "minLength":
        msg = "must not be empty"
        fix = "write the text or remove the key"
    else:
        msg = err.message
        fix = None
    return [CaseError(msg, file=source, line=_line(lines, path), field=_dotted(path), fix=fix)]


def _date(raw: dict[str, Any] | None) -> DateSpec | None:
    if raw is None:
        return None
    return DateSpec(str(raw["date"]), bool(raw.get("approximate", False)), raw.get("description"))


def _qty(raw: dict[str, Any] | None) -> Quantity | None:
    return None if raw is None else Quantity(raw["value"], raw["unit"])


def _build(d: dict[str, Any], source: str) -> Case:
    p = d["patient"]
    age = p.get("age")
    t = tuple
    return Case(
        id=d["id"],
        title=d["title"],
        summary=d.get("summary"),
        source=dict(d.get("source") or {}),
        path=source,
        patient=Patient(
            p["sex"], Age(age["value"], age["unit"], age.get("context")) if age else None
        ),
        conditions=t(
            Condition(
                key=c["key"],
                concept=c["concept"],
                clinical_status=c.get("clinical_status", "active"),
                verification=c.get("verification", "confirmed"),
                category=c.get("category", "problem-list-item"),
                diagnosed=_date(c.get("diagnosed")),
                onset=_date(c.get("onset")),
                body_sites=t(c.get("body_sites", ())),
                due_to=t(c.get("due_to", ())),
                associated_with=t(c.get("associated_with", ())),
                evidence=t(c.get("evidence", ())),
                notes=t(c.get("notes", ())),
            )
            for c in d.get("conditions", ())
        ),
        findings=t(
            Finding(
                f["key"],
                f["concept"],
                f["category"],
                f["description"],
                t(f.get("body_sites", ())),
                f.get("focus"),
            )
            for f in d.get("findings", ())
        ),
        labs=t(
            Lab(
                key=lab["key"],
                concept=lab["concept"],
                quantity=_qty(lab["result"]) if "value" in lab["result"] else None,
                qualitative=lab["result"].get("qualitative"),
                interpretation=lab.get("interpretation"),
                date=_date(lab.get("date")),
                description=lab.get("description"),
            )
            for lab in d.get("labs", ())
        ),
        imaging=t(
            Imaging(
                key=i["key"],
                modality=i["modality"],
                report_code=i["report_code"],
                findings=t(i["findings"]),
                regions=t(i.get("regions", ())),
                description=i.get("description"),
                conclusion=i.get("conclusion"),
                conclusion_codes=t(i.get("conclusion_codes", ())),
            )
            for i in d.get("imaging", ())
        ),
        pathology=t(
            Pathology(
                key=x["key"],
                report_code=x["report_code"],
                findings=t(x["findings"]),
                specimen_site=x.get("specimen_site"),
                conclusion=x.get("conclusion"),
                conclusion_codes=t(x.get("conclusion_codes", ())),
            )
            for x in d.get("pathology", ())
        ),
        medications=t(
            Medication(
                key=m["key"],
                concept=m["concept"],
                status=m["status"],
                route=m.get("route"),
                dose=_qty(m.get("dose")),
                daily_dose=_qty(m.get("daily_dose")),
                frequency=Frequency(**m["frequency"]) if "frequency" in m else None,
                duration=Duration(**m["duration"]) if "duration" in m else None,
                reasons=t(m.get("reasons", ())),
                description=m.get("description"),
            )
            for m in d.get("medications", ())
        ),
    )


# --------------------------------------------------------------------------- semantics

_DATE_RE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")


def _check_date(spec: DateSpec) -> str | None:
    m = _DATE_RE.match(spec.date)
    if not m:
        return f"{spec.date!r} is not a date of the form YYYY, YYYY-MM or YYYY-MM-DD"
    year, month, day = (int(g) if g else None for g in m.groups())
    try:
        _dt.date(year or 1, month or 1, day or 1)
    except ValueError:
        return f"{spec.date!r} is not a possible date"
    if (year or 0) < 1800 or spec.date > _dt.date.today().isoformat()[: len(spec.date)]:
        return f"{spec.date!r} is outside the plausible range (1800 to today)"
    return None


def _refs(case: Case) -> Iterator[tuple[tuple[Any, ...], str, set[str], str]]:
    """(field path, referenced key, allowed target kinds, what it should name)."""
    for i, c in enumerate(case.conditions):
        for field_name in ("due_to", "associated_with"):
            for j, k in enumerate(getattr(c, field_name)):
                yield ("conditions", i, field_name, j), k, {"condition"}, "a condition key"
        for j, k in enumerate(c.evidence):
            kinds = {"finding", "lab", "imaging", "pathology"}
            yield (
                ("conditions", i, "evidence", j),
                k,
                kinds,
                "a finding, lab, imaging or pathology key",
            )
    for i, f in enumerate(case.findings):
        if f.focus:
            yield ("findings", i, "focus"), f.focus, {"condition"}, "a condition key"
    for section in ("imaging", "pathology"):
        for i, x in enumerate(getattr(case, section)):
            for j, k in enumerate(x.findings):
                yield (section, i, "findings", j), k, {"finding"}, "a finding key"
    for i, m in enumerate(case.medications):
        for j, k in enumerate(m.reasons):
            yield ("medications", i, "reasons", j), k, {"condition"}, "a condition key"


def _concepts(case: Case) -> Iterator[tuple[tuple[Any, ...], str, str]]:
    """(field path, concept key, mappings table)."""
    for i, c in enumerate(case.conditions):
        yield ("conditions", i, "concept"), c.concept, "conditions"
        yield ("conditions", i, "clinical_status"), f"clinical_{c.clinical_status}", "hl7"
        yield ("conditions", i, "verification"), f"verification_{c.verification}", "hl7"
        yield ("conditions", i, "category"), "category_" + c.category.replace("-", "_"), "hl7"
        for j, s in enumerate(c.body_sites):
            yield ("conditions", i, "body_sites", j), s, "body_sites"
    for i, f in enumerate(case.findings):
        yield ("findings", i, "concept"), f.concept, "findings"
        yield ("findings", i, "category"), f"obs_category_{f.category}", "hl7"
        for j, s in enumerate(f.body_sites):
            yield ("findings", i, "body_sites", j), s, "body_sites"
    for i, lab in enumerate(case.labs):
        yield ("labs", i, "concept"), lab.concept, "labs"
        if lab.qualitative:
            yield ("labs", i, "result", "qualitative"), lab.qualitative, "qualifiers"
        if lab.interpretation:
            yield ("labs", i, "interpretation"), lab.interpretation, "qualifiers"
    for i, im in enumerate(case.imaging):
        yield ("imaging", i, "modality"), im.modality, "modalities"
        yield ("imaging", i, "report_code"), im.report_code, "reports"
        for j, s in enumerate(im.regions):
            yield ("imaging", i, "regions", j), s, "body_sites"
        for j, s in enumerate(im.conclusion_codes):
            yield ("imaging", i, "conclusion_codes", j), s, "conditions"
    for i, pa in enumerate(case.pathology):
        yield ("pathology", i, "report_code"), pa.report_code, "reports"
        if pa.specimen_site:
            yield ("pathology", i, "specimen_site"), pa.specimen_site, "body_sites"
        for j, s in enumerate(pa.conclusion_codes):
            yield ("pathology", i, "conclusion_codes", j), s, "conditions"
    for i, m in enumerate(case.medications):
        yield ("medications", i, "concept"), m.concept, "medications"
        if m.route:
            yield ("medications", i, "route"), m.route, "routes"
    if case.patient.age:
        yield ("patient", "age", "unit"), case.patient.age.unit, "units"
    for i, lab in enumerate(case.labs):
        if lab.quantity:
            yield ("labs", i, "result", "unit"), lab.quantity.unit, "units"
    for i, m in enumerate(case.medications):
        for name in ("dose", "daily_dose"):
            q = getattr(m, name)
            if q:
                yield ("medications", i, name, "unit"), q.unit, "units"


def _check_semantics(
    case: Case, lines: dict[tuple[Any, ...], int], source: str, term: Terminology
) -> None:
    problems: list[InputError] = []

    def err(path: tuple[Any, ...], message: str, fix: str) -> None:
        problems.append(
            CaseError(message, file=source, line=_line(lines, path), field=_dotted(path), fix=fix)
        )

    kinds: dict[str, str] = {}
    sections = (
        ("conditions", "condition"),
        ("findings", "finding"),
        ("labs", "lab"),
        ("imaging", "imaging"),
        ("pathology", "pathology"),
        ("medications", "medication"),
    )
    for section, kind in sections:
        for i, item in enumerate(getattr(case, section)):
            if item.key in kinds:
                err(
                    (section, i, "key"),
                    f"key {item.key!r} is used twice",
                    "give each item its own key",
                )
            kinds[item.key] = kind

    for path, key, allowed, what in _refs(case):
        if kinds.get(key) not in allowed:
            known = sorted(k for k, v in kinds.items() if v in allowed)
            err(
                path,
                f"{key!r} is not {what} of this case",
                f"use one of: {', '.join(known) or '(none yet)'}",
            )

    for path, key, table in _concepts(case):
        if not term.has(table, key):
            err(path, *term.missing(table, key))

    for i, c in enumerate(case.conditions):
        for name in ("diagnosed", "onset"):
            spec = getattr(c, name)
            if spec and (why := _check_date(spec)):
                err(
                    ("conditions", i, name, "date"),
                    why,
                    "write a real date, e.g. 2010 or 2010-03-14",
                )
    for i, lab in enumerate(case.labs):
        if lab.date and (why := _check_date(lab.date)):
            err(("labs", i, "date", "date"), why, "write a real date, e.g. 2010 or 2010-03-14")
        if lab.interpretation and not lab.interpretation.startswith("interpretation_"):
            err(
                ("labs", i, "interpretation"),
                f"{lab.interpretation!r} is not an interpretation",
                "use an interpretation_* key of mappings/qualifiers.yaml",
            )
    for i, m in enumerate(case.medications):
        if m.dose and m.daily_dose:
            err(
                ("medications", i, "daily_dose"),
                "both dose and daily_dose are given",
                "keep one: dose (with frequency) or daily_dose",
            )
        if m.frequency and not m.dose:
            err(
                ("medications", i, "frequency"),
                "frequency without a dose",
                "add 'dose:' or remove 'frequency:'",
            )
    if problems:
        raise CaseError.collect(problems)
