"""DiagnosticReport: imaging reports (pointing at their ImagingStudy and finding Observations)
and pathology reports (pointing at their specimens and finding Observations).

The report date is ``effectiveDateTime`` when exact; dates are not invented. A finding split by
body site contributes every one of its Observations to ``result``.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Imaging, Pathology, Time
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.mappers.timing import when
from fhir_adapter.narrative import join


def _report(
    ctx: MappingContext,
    key: str,
    category: str,
    code: str,
    findings: tuple[str, ...],
    conclusion: str | None,
    date: Time | None,
    encounter: str | None,
    extra_rows: list[tuple[str, str | None]],
) -> dict[str, Any]:
    concept = ctx.concept("reports", code)
    w = when(ctx, date, key) if date else None
    rows = [
        ("Report", concept.text),
        *extra_rows,
        ("Date", w.text if w else None),
        ("Findings", join((ctx.case.finding(k).description for k in findings), " ")),
        ("Conclusion", conclusion),
    ]
    r = ctx.base("DiagnosticReport", key, "Diagnostic report", rows)
    r["status"] = "final"
    r["category"] = [ctx.cc("reports", category)]
    r["code"] = concept.to_codeable_concept()
    r["subject"] = ctx.patient_ref()
    if encounter:
        r["encounter"] = ctx.ref(encounter)
    if w:
        r.update(w.date_element("effectiveDateTime"))
    return r


def _results(ctx: MappingContext, r: dict[str, Any], findings: tuple[str, ...]) -> None:
    if findings:
        r["result"] = [ref for k in findings for ref in ctx.refs(k)]


def map_imaging_report(ctx: MappingContext, im: Imaging) -> dict[str, Any]:
    """The DiagnosticReport of one imaging examination."""
    r = _report(
        ctx,
        im.key,
        "category_radiology",
        im.report_code,
        im.findings,
        im.conclusion,
        im.date,
        im.encounter,
        [("Study", im.description)],
    )
    _results(ctx, r, im.findings)
    r["imagingStudy"] = [ctx.ref(im.key, "ImagingStudy")]
    _conclude(ctx, r, im.conclusion, im.conclusion_codes)
    return r


def map_pathology_report(ctx: MappingContext, pa: Pathology) -> dict[str, Any]:
    """The DiagnosticReport of one pathology examination."""
    specimen = join(
        [
            ctx.text("body_sites", pa.specimen_site),
            *(ctx.label(k) for k in pa.specimens),
        ]
    )
    r = _report(
        ctx,
        pa.key,
        "category_pathology",
        pa.report_code,
        pa.findings,
        pa.conclusion,
        pa.date,
        pa.encounter,
        [("Specimen", specimen)],
    )
    if pa.specimens:
        r["specimen"] = [ctx.ref(k) for k in pa.specimens]
    _results(ctx, r, pa.findings)
    _conclude(ctx, r, pa.conclusion, pa.conclusion_codes)
    return r


def _conclude(
    ctx: MappingContext, r: dict[str, Any], conclusion: str | None, codes: tuple[str, ...]
) -> None:
    if conclusion:
        r["conclusion"] = conclusion
    if codes:
        r["conclusionCode"] = [ctx.cc("conditions", c) for c in codes]


def map_diagnostic_reports(ctx: MappingContext) -> list[dict[str, Any]]:
    """All DiagnosticReports of the case: imaging first, then pathology."""
    return [
        *(map_imaging_report(ctx, im) for im in ctx.case.imaging),
        *(map_pathology_report(ctx, pa) for pa in ctx.case.pathology),
    ]
