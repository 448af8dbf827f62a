"""Deterministic identity: ids, fullUrls, business identifiers and DICOM UIDs derive from the case.

The same case always yields the same identities, so a converted bundle is byte-identical from run
to run and a server can recognise a resource it has already received.

- Resource UUID: ``uuid5(NAMESPACE, "<case id>/<resource type>/<case key>")``. It is the resource
  ``id``, the entry ``fullUrl`` (``urn:uuid:<uuid>``) and the business identifier
  (system ``urn:ietf:rfc:3986``, value ``urn:uuid:<uuid>``), which transaction entries use for
  conditional create (``ifNoneExist``).
- DICOM UID (only where FHIR requires one the source does not give, i.e. ImagingStudy.series.uid):
  the ISO/IEC 9834-8 / ITU-T X.667 UUID-derived form ``2.25.<UUID as a decimal integer>`` of
  ``uuid5(NAMESPACE, "<case id>/dicom/<parts>")``, as DICOM PS3.5 Annex B.2 allows. Such UIDs are
  marked as derived in the resource narrative; they do not identify real images.
"""

from __future__ import annotations

import uuid

#: Fixed namespace for all fhir-adapter derivations (itself uuid5 of the project URL).
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/fhir-adapter/fhir-adapter/ids")

#: Identifier system for identifiers whose value is a URI (RFC 3986), per FHIR R4.
URI_SYSTEM = "urn:ietf:rfc:3986"


def resource_uuid(case_id: str, resource_type: str, key: str) -> str:
    """The UUID (as text) of the resource of ``resource_type`` made from case item ``key``."""
    return str(uuid.uuid5(NAMESPACE, f"{case_id}/{resource_type}/{key}"))


def business_identifier(uuid_text: str) -> dict[str, str]:
    """The business identifier carrying a resource UUID."""
    return {"system": URI_SYSTEM, "value": f"urn:uuid:{uuid_text}"}


def dicom_uid(case_id: str, *parts: str) -> str:
    """A deterministic DICOM UID of the ``2.25.<decimal UUID>`` form (at most 44 characters)."""
    u = uuid.uuid5(NAMESPACE, "/".join((case_id, "dicom", *parts)))
    return f"2.25.{u.int}"
