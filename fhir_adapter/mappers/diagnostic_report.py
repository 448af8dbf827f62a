"""DiagnosticReport: imaging reports (pointing at their ImagingStudy and finding Observations)
and pathology reports (pointing at their finding Observations). Dates are not invented.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Imaging, Pathology
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.narrative import join


def _report(
    ctx: MappingContext,
    key: str,
    category: str,
    code: str,
    findings: tuple[str, ...],
    conclusion: str | None,
    conclusion_codes: tuple[str, ...],
    extra_rows: list[tuple[str, str | None]],
) -> dict[str, Any]:
    concept = ctx.concept("reports", code)
    rows = [
        ("Report", concept.text),
        *extra_rows,
        ("Findings", join((ctx.case.finding(k).description for k in findings), " ")),
        ("Conclusion", conclusion),
    ]
    r = ctx.base("DiagnosticReport", key, "Diagnostic report", rows)
    r["status"] = "final"
    r["category"] = [ctx.cc("reports", category)]
    r["code"] = concept.to_codeable_concept()
    r["subject"] = ctx.patient_ref()
    return r


def map_imaging_report(ctx: MappingContext, im: Imaging) -> dict[str, Any]:
    """The DiagnosticReport of one imaging examination."""
    r = _report(
        ctx,
        im.key,
        "category_radiology",
        im.report_code,
        im.findings,
        im.conclusion,
        im.conclusion_codes,
        [("Study", im.description)],
    )
    if im.findings:
        r["result"] = [ctx.ref(k) for k in im.findings]
    r["imagingStudy"] = [ctx.ref(im.key, "ImagingStudy")]
    _conclude(ctx, r, im.conclusion, im.conclusion_codes)
    return r


def map_pathology_report(ctx: MappingContext, pa: Pathology) -> dict[str, Any]:
    """The DiagnosticReport of one pathology examination."""
    site = ctx.concept("body_sites", pa.specimen_site).text if pa.specimen_site else None
    r = _report(
        ctx,
        pa.key,
        "category_pathology",
        pa.report_code,
        pa.findings,
        pa.conclusion,
        pa.conclusion_codes,
        [("Specimen", site)],
    )
    if pa.findings:
        r["result"] = [ctx.ref(k) for k in pa.findings]
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
