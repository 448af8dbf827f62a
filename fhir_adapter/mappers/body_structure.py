"""BodyStructure: one per body site the case gives with a side (left knee, both kidneys).

R4's ``bodySite`` CodeableConcepts have no place for laterality; the R4 core extension
``bodySite`` on them points to a BodyStructure whose ``location`` is the site and whose
``locationQualifier`` is the side (SNOMED CT unilateral left / unilateral right / bilateral,
from the R4 value set bodystructure-relative-location). One per distinct site and side, shared
by every resource that names it.
"""

from __future__ import annotations

from typing import Any

from fhir_adapter.case import BodySite, Case
from fhir_adapter.mappers.context import MappingContext, body_structure_key


def lateral_sites(case: Case) -> list[BodySite]:
    """Every distinct body site with a side used by a CodeableConcept ``bodySite`` (imaging
    regions carry their side in ``series.laterality`` instead), in case order."""
    sites: list[BodySite] = []
    for section in ("conditions", "findings", "procedures"):
        for item in getattr(case, section):
            sites += [s for s in item.body_sites if s.laterality]
    sites += [s.site for s in case.specimens if s.site and s.site.laterality]
    return list(dict.fromkeys(sites))


def map_body_structure(ctx: MappingContext, site: BodySite) -> dict[str, Any]:
    """The BodyStructure of one site with its side."""
    side = f"laterality_{site.laterality}"
    rows = [("Location", ctx.site_text(site))]
    r = ctx.base("BodyStructure", body_structure_key(site), "Body structure", rows)
    r["location"] = ctx.cc("body_sites", site.site)
    r["locationQualifier"] = [ctx.cc("qualifiers", side)]
    r["patient"] = ctx.patient_ref()
    return r


def map_body_structures(ctx: MappingContext) -> list[dict[str, Any]]:
    """The BodyStructures of every lateralised body site of the case."""
    return [map_body_structure(ctx, s) for s in lateral_sites(ctx.case)]
