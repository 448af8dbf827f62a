"""Deterministic identity: ids, fullUrls, business identifiers and DICOM UIDs derive from the case.

The same case always yields the same identities, so a converted bundle is byte-identical from run
to run and a server can recognise a resource it has already received.

- Resource UUID: ``uuid5(NAMESPACE, "<case id>/<resource type>/<case key>")``. It is the resource
  ``id`` and the entry ``fullUrl`` (``urn:uuid:<uuid>``).
- Business identifier: system ``urn:ietf:rfc:3986``, value ``urn:uuid:<uuid5(NAMESPACE,
  "identifier/<resource UUID>")>``, which transaction entries use for conditional create
  (``ifNoneExist``). It is deliberately neither the ``fullUrl`` nor the ``id``: servers rewrite
  every string of a transaction equal to (Medplum: containing) an entry's ``fullUrl``, and older
  Medplum releases also the bare id, so an identifier equal to either would be stored as
  ``Patient/<server id>`` and never match a re-post.
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
    """The business identifier of the resource whose UUID is ``uuid_text`` (a URN of its own,
    never equal to the resource's ``fullUrl`` or ``id``)."""
    return {
        "system": URI_SYSTEM,
        "value": f"urn:uuid:{uuid.uuid5(NAMESPACE, f'identifier/{uuid_text}')}",
    }


def dicom_uid(case_id: str, *parts: str) -> str:
    """A deterministic DICOM UID of the ``2.25.<decimal UUID>`` form (at most 44 characters)."""
    u = uuid.uuid5(NAMESPACE, "/".join((case_id, "dicom", *parts)))
    return f"2.25.{u.int}"
