"""ImagingStudy: one per imaging examination of the case.

Status is ``unknown``: the case says the study was done, not whether its images are available.
Each imaged region becomes a series (``series.bodySite`` is the only home R4 gives a region);
series UIDs, which R4 requires and the source lacks, are derived per :mod:`fhir_adapter.ids`.
No study-level DICOM UID, dates, instance counts or series counts are invented.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import Imaging
from fhir_adapter.ids import dicom_uid
from fhir_adapter.mappers.context import MappingContext
from fhir_adapter.narrative import join


def map_imaging_study(ctx: MappingContext, im: Imaging) -> dict[str, Any]:
    """The ImagingStudy for one imaging examination."""
    modality = ctx.concept("modalities", im.modality).coding().to_fhir()
    regions = [ctx.concept("body_sites", s.site) for s in im.regions]
    rows = [
        ("Modality", ctx.concept("modalities", im.modality).text),
        ("Description", im.description),
        ("Regions", join(r.text for r in regions) or "not stated"),
        (
            "Series UIDs",
            "derived from the case (2.25 UUID form), not from real images" if regions else None,
        ),
    ]
    r = ctx.base("ImagingStudy", im.key, "Imaging study", rows)
    r["status"] = "unknown"
    r["modality"] = [modality]
    r["subject"] = ctx.patient_ref()
    if im.description:
        r["description"] = im.description
    if regions:
        r["series"] = [
            {
                "uid": dicom_uid(ctx.case.id, im.key, region.key),
                "modality": modality,
                "description": region.text,
                "bodySite": region.coding().to_fhir(),
            }
            for region in regions
        ]
    return r


def map_imaging_studies(ctx: MappingContext) -> list[dict[str, Any]]:
    """All ImagingStudies of the case."""
    return [map_imaging_study(ctx, im) for im in ctx.case.imaging]
