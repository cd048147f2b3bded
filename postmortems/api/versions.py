"""Optimistic concurrency for incident writes: ETags, If-Match and the body's ``version``.

An incident's ETag is its ``version``. A write names the version it was based
on, in If-Match or as ``version`` in the body: a stale If-Match is 412
(Precondition Failed), a stale ``version`` 409 (Conflict), neither 428
(Precondition Required). The final check happens under the row lock that
``update_incident`` (or ``delete_incident`` here) takes, so two clients that
read the same version cannot both write.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions
from rest_framework.request import Request

from core.rest import ERROR_REF, PreconditionFailed, PreconditionRequired, VersionConflict
from postmortems.models import Incident
from postmortems.services import changed_fields_since

IF_MATCH = "If-Match"
VERSION_REQUIRED = (
    'Say which version your change is based on: send the ETag as `If-Match: "<version>"` '
    "or a `version` field in the body."
)
DELETE_VERSION_REQUIRED = 'Say which version you are deleting: send `If-Match: "<version>"`.'
IF_MATCH_ANY = 'If-Match: * names no version; send the ETag, e.g. `If-Match: "3"`.'


def parse_etags(header: str) -> list[int]:
    """The versions named in an If-Match header (``"3"``, ``W/"3"``, ``"3", "4"``)."""
    # Weak tags count too: a proxy that compresses responses may weaken the ETag
    # it passes on, and the version it carries is exact either way.
    versions = []
    for part in header.split(","):
        tag = part.strip().removeprefix("W/").strip('"')
        # A version is a bigint: a longer run of digits names none (and int() refuses past
        # 4,300 digits), so it is stale, not an error.
        if tag.isascii() and tag.isdigit() and len(tag) <= 19:
            versions.append(int(tag))
    return versions


def if_match_version(request: Request, incident: Incident) -> int | None:
    """The version If-Match names (None without the header); 412 unless it is current."""
    header = request.headers.get(IF_MATCH)
    if header is None:
        return None
    if header.strip() == "*":
        raise PreconditionRequired(IF_MATCH_ANY)
    versions = parse_etags(header)
    if incident.version not in versions:
        changed = changed_fields_since(incident, versions[0]) if versions else []
        raise stale_version(incident, from_header=True, changed=changed)
    return incident.version


def stale_version(
    incident: Incident, *, from_header: bool, changed: list[str] | None = None
) -> exceptions.APIException:
    """412 for a stale If-Match, 409 for a stale body ``version``; both say what is current."""
    extra = {"current_version": incident.version, "changed_fields": changed or []}
    if from_header:
        message = f"If-Match names an old version; the current one is {incident.version}."
        return PreconditionFailed(message, extra=extra)
    message = (
        f"Someone changed this postmortem since the version you sent; it is now at "
        f"version {incident.version}. Reload it, reapply your change and send it again."
    )
    return VersionConflict(message, extra=extra)


def body_has_version(request: Request) -> bool:
    return isinstance(request.data, Mapping) and request.data.get("version") is not None


def agreed_version(header_version: int | None, body_version: int | None) -> int:
    if header_version is not None and body_version not in (None, header_version):
        raise exceptions.ValidationError(
            {"version": [f"It says {body_version} but If-Match says {header_version}."]}
        )
    return header_version if header_version is not None else body_version


@transaction.atomic
def delete_incident(*, incident_id: int, expected_version: int) -> None:
    """Delete an incident if it is still at the version the client saw (row locked)."""
    incident = Incident.objects.select_for_update().get(id=incident_id)
    if incident.version != expected_version:
        raise stale_version(incident, from_header=True)
    incident.delete()


# --- The handshake in the OpenAPI schema ---------------------------------------------
# Shared by every endpoint that writes an incident or one of its parts.

ETAG_HEADER = OpenApiParameter(
    "ETag", OpenApiTypes.STR, OpenApiParameter.HEADER, response=True,
    description='The incident\'s version, quoted: `"7"`. Send it back as If-Match.',
)  # fmt: skip
IF_MATCH_HEADER = OpenApiParameter(
    IF_MATCH, OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description='The ETag your change is based on, e.g. `"7"`. Or send a `version` field.',
)  # fmt: skip
VERSION_ERRORS = {
    409: OpenApiResponse(ERROR_REF, "The body's `version` is stale; nothing was changed."),
    412: OpenApiResponse(ERROR_REF, "The If-Match version is stale; nothing was changed."),
    428: OpenApiResponse(ERROR_REF, "Neither If-Match nor `version` was sent."),
}
