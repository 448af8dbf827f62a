"""ImagingStudy: one per imaging examination of the case.

Status is the case's (``unknown`` by default: a report says a study was done, not whether its
images are available). ``started`` is the study date when exact (with the ``relative-date``
extension when relative). Techniques ("with contrast", "Doppler") are ``procedureCode``. Each
imaged region becomes a series (``series.bodySite`` is the only home R4 gives a region) with
its side in ``series.laterality``; series UIDs, which R4 requires and the source lacks, are
derived per :mod:`fhir_adapter.ids`. No study-level DICOM UID, instance or series counts are
invented.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Imaging
from fhir_adapter.ids import dicom_uid
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.mappers.timing import when
from fhir_adapter.narrative import join


def map_imaging_study(ctx: MappingContext, im: Imaging) -> dict[str, Any]:
    """The ImagingStudy for one imaging examination."""
    modality = ctx.concept("modalities", im.modality).coding().to_fhir()
    date = when(ctx, im.date, im.key) if im.date else None
    rows = [
        ("Modality", ctx.concept("modalities", im.modality).text),
        ("Status", im.status if im.status != "unknown" else None),
        ("Date", date.text if date else None),
        ("Technique", join(ctx.text("procedures", t) for t in im.techniques)),
        ("Description", im.description),
        ("Regions", join(ctx.site_text(r) for r in im.regions) or "not stated"),
        (
            "Series UIDs",
            "derived from the case (2.25 UUID form), not from real images" if im.regions else None,
        ),
    ]
    r = ctx.base("ImagingStudy", im.key, "Imaging study", rows)
    r["status"] = im.status
    r["modality"] = [modality]
    r["subject"] = ctx.patient_ref()
    if im.encounter:
        r["encounter"] = ctx.ref(im.encounter)
    if date:
        r.update(date.date_element("started"))
    if im.techniques:
        r["procedureCode"] = [ctx.cc("procedures", t) for t in im.techniques]
    if im.description:
        r["description"] = im.description
    if im.regions:
        series = []
        for region in im.regions:
            concept = ctx.concept("body_sites", region.site)
            s: dict[str, Any] = {
                "uid": dicom_uid(ctx.case.id, im.key, region.token),
                "modality": modality,
                "description": ctx.site_text(region),
                "bodySite": concept.coding().to_fhir(),
            }
            if region.laterality:
                s["laterality"] = (
                    ctx.concept("qualifiers", f"laterality_{region.laterality}").coding().to_fhir()
                )
            series.append(s)
        r["series"] = series
    return r


def map_imaging_studies(ctx: MappingContext) -> list[dict[str, Any]]:
    """All ImagingStudies of the case."""
    return [map_imaging_study(ctx, im) for im in ctx.case.imaging]
