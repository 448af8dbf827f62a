"""Profile output modes: the base mappers' resources, reshaped to claim and satisfy IG profiles.

- ``ips``: an International Patient Summary (IPS 1.1.0) ``document`` Bundle
  (:mod:`fhir_adapter.profiled.ips`);
- ``us-core`` (US Core 6.1.0), ``us-core@3.1.1``, ``us-core@7.0.0``: a transaction or collection
  bundle whose resources claim the US Core profiles that apply (:mod:`fhir_adapter.profiled.us_core`).

A mode is a layer on top of the mappers' output: it never changes what the default mode writes.
Which profile a resource claims is data (``rules.yaml``, resolved against ``data/igs.json``,
generated from the official packages). Facts a profile requires and the case does not give are
marked with the ``data-absent-reason`` extension, never made up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fhir_adapter.errors import ProfileError
from fhir_adapter.profiled.modes import MODES, ProfileMode, choices, parse_mode

if TYPE_CHECKING:  # pragma: no cover
    from fhir_adapter.case import Case
    from fhir_adapter.terminology import Terminology

__all__ = ["MODES", "ProfileMode", "build", "choices", "parse_mode"]


def build(
    case: Case,
    resources: list[dict[str, Any]],
    mode: str | ProfileMode,
    *,
    bundle_type: str | None,
    terminology: Terminology,
) -> dict[str, Any]:
    """The bundle of ``case`` in profile mode ``mode`` from the mappers' ``resources``."""
    selected = parse_mode(mode)
    if selected.name == "ips":
        if bundle_type not in (None, "document"):
            raise ProfileError(
                f"an IPS is a document bundle, not a {bundle_type}",
                field="bundle_type",
                fix="leave the bundle type out (or use 'document') with profile 'ips'",
            )
        from fhir_adapter.profiled import ips

        return ips.build(case, resources, selected, terminology)
    from fhir_adapter.profiled import us_core

    return us_core.build(case, resources, selected, bundle_type or "transaction", terminology)
