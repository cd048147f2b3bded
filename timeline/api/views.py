"""An incident's timeline through the API: list, read, add, edit and delete its events.

Thin views: who may do what is ``postmortems.permissions`` (through ``get_incident_for``,
as in the browser's timeline editor); every write is a ``timeline.services`` function,
which keeps the incident's moments in step with the marker events.

Concurrency is the incident's, as for every other incident write in the API
(``postmortems.api.versions``): a write names the incident version it is based on, in
If-Match or as ``version`` in the body (412 / 409 when stale, 428 when neither is sent),
is checked again under the incident's row lock, and moves the incident to a new version,
which the response's ETag carries. The browser's timeline editor bumps the version only
when a moment moves, so that its own page's main form stays in step; an API client has no
such form, and without a new version two clients could rewrite one event unawares.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.viewsets import GenericViewSet

from core.pagination import SortKey
from core.rest import ERROR_REF, ApiPermission, PreconditionRequired
from postmortems import rules
from postmortems.api.versions import (
    ETAG_HEADER,
    IF_MATCH_HEADER,
    VERSION_ERRORS,
    VERSION_REQUIRED,
    agreed_version,
    body_has_version,
    if_match_version,
    stale_version,
)
from postmortems.models import Incident
from postmortems.services import bump_version, changed_fields_since
from postmortems.shortcuts import get_incident_for
from timeline.api.serializers import TimelineEventSerializer
from timeline.models import TimelineEvent
from timeline.services import delete_event, record_event, update_event

T = TypeVar("T")

TIMELINE_ORDER = {"occurred_at": SortKey(("occurred_at", "position", "id"), descending=False)}
EVENT_FIELDS = ("occurred_at", "kind", "description")
DELETE_VERSION_REQUIRED = (
    'Say which version of the postmortem your deletion is based on: send `If-Match: "<version>"`.'
)
WRITE_NOTE = (
    " A write moves the incident to a new version (the response's ETag); marking an event "
    "impact_start, detection, mitigation or resolution moves that moment of the incident, "
    "and a moment out of order is refused (400). `source` and `external_id` are the "
    "import's and cannot change."
)
SLUG_PARAMETER = OpenApiParameter(
    "slug", OpenApiTypes.STR, OpenApiParameter.PATH, description="The postmortem's slug."
)
ID_PARAMETER = OpenApiParameter(
    "id", OpenApiTypes.INT, OpenApiParameter.PATH, description="The timeline event's id."
)
NOT_FOUND = OpenApiResponse(ERROR_REF, "No such postmortem or event, or not one you may see.")


@extend_schema(parameters=[SLUG_PARAMETER])
@extend_schema_view(
    list=extend_schema(summary="A postmortem's timeline, in time order", parameters=[ETAG_HEADER]),
    retrieve=extend_schema(summary="One timeline event", parameters=[ID_PARAMETER, ETAG_HEADER]),
    create=extend_schema(
        summary="Add an event to a postmortem's timeline",
        description=VERSION_REQUIRED + WRITE_NOTE,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={201: TimelineEventSerializer, **VERSION_ERRORS},
    ),
    update=extend_schema(
        summary="Replace a timeline event's time, kind and description",
        description=VERSION_REQUIRED + WRITE_NOTE,
        parameters=[ID_PARAMETER, IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: TimelineEventSerializer, **VERSION_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change some of a timeline event's time, kind and description",
        description=VERSION_REQUIRED + WRITE_NOTE,
        parameters=[ID_PARAMETER, IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: TimelineEventSerializer, **VERSION_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a timeline event",
        description=DELETE_VERSION_REQUIRED + " A moment only this event set is cleared.",
        parameters=[ID_PARAMETER, IF_MATCH_HEADER, ETAG_HEADER],
        responses={
            204: OpenApiResponse(description="Deleted; the ETag is the incident's new version."),
            400: OpenApiResponse(ERROR_REF, "Deleting it would put the moments out of order."),
            404: NOT_FOUND,
            412: VERSION_ERRORS[412],
            428: VERSION_ERRORS[428],
        },
    ),
)
class TimelineEventViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    GenericViewSet,
):
    serializer_class = TimelineEventSerializer
    permission_classes = [ApiPermission]
    filter_backends: list = []
    sort_keys = TIMELINE_ORDER
    incident: Incident

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)  # signed in, token scope, throttles
        # 404 for a postmortem they may not see (drafts stay secret); 403 for a write to
        # one they may read but not edit.
        writing = request.method not in SAFE_METHODS
        self.incident = get_incident_for(request.user, kwargs["slug"], edit=writing)

    def get_queryset(self) -> QuerySet[TimelineEvent]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no incident
            return TimelineEvent.objects.none()
        return TimelineEvent.objects.filter(incident=self.incident)

    def get_object(self) -> TimelineEvent:
        event = self.get_queryset().filter(pk=self.kwargs["pk"]).first()
        if event is None:
            raise no_such_event(self.kwargs["pk"])
        return event

    # --- Reading ---------------------------------------------------------------------

    def list(self, request: Request, *args, **kwargs) -> Response:
        return self.with_etag(super().list(request, *args, **kwargs), self.incident.version)

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return self.with_etag(super().retrieve(request, *args, **kwargs), self.incident.version)

    # --- Writing ---------------------------------------------------------------------

    def create(self, request: Request, *args, **kwargs) -> Response:
        header_version = self.header_version(request)
        fields, expected = self.validated(request, header_version)
        event, version = self.write_at(
            expected,
            from_header=header_version is not None,
            fields=fields,
            write=lambda: record_event(incident=self.incident, author=request.user, **fields),
        )
        location = reverse(
            "timeline-api:event-detail", args=[self.incident.slug, event.pk], request=request
        )
        response = Response(
            self.get_serializer(event).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )
        return self.with_etag(response, version)

    def update(self, request: Request, *args, partial: bool = False, **kwargs) -> Response:
        event = self.get_object()
        header_version = self.header_version(request)
        fields, expected = self.validated(request, header_version, event=event, partial=partial)

        def write() -> TimelineEvent:
            # Read again under the incident's lock: the one the request found may be stale.
            return update_event(event=self.locked_event(event.pk), **fields)

        event, version = self.write_at(
            expected, from_header=header_version is not None, fields=fields, write=write
        )
        return self.with_etag(Response(self.get_serializer(event).data), version)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        event = self.get_object()
        expected = if_match_version(request, self.incident)
        if expected is None:
            raise PreconditionRequired(DELETE_VERSION_REQUIRED)
        _, version = self.write_at(
            expected,
            from_header=True,
            fields={},
            write=lambda: delete_event(event=self.locked_event(event.pk)),
        )
        return self.with_etag(Response(status=status.HTTP_204_NO_CONTENT), version)

    def header_version(self, request: Request) -> int | None:
        """The If-Match version (412 if stale); 428 when neither it nor ``version`` is sent."""
        header_version = if_match_version(request, self.incident)
        if header_version is None and not body_has_version(request):
            raise PreconditionRequired(VERSION_REQUIRED)
        return header_version

    def validated(
        self,
        request: Request,
        header_version: int | None,
        *,
        event: TimelineEvent | None = None,
        partial: bool = False,
    ) -> tuple[dict, int]:
        """The event's fields to write, and the version the write is based on (400 if the
        body is invalid, or if its ``version`` and If-Match disagree)."""
        serializer = self.get_serializer(event, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        expected = agreed_version(header_version, fields.pop("version", None))
        return fields, expected

    def write_at(
        self, expected: int, *, from_header: bool, fields: dict, write: Callable[[], T]
    ) -> tuple[T, int]:
        """Run ``write`` if the incident is still at ``expected``; its result and the
        incident's new version. A refusal of the services is a 400 by the event's fields."""
        try:
            return write_at_version(
                self.incident, expected, from_header=from_header, user=self.request.user,
                write=write,
            )  # fmt: skip
        except DjangoValidationError as error:
            blamed = next((name for name in EVENT_FIELDS if name in fields), None)
            raise refusal(error, blamed=blamed) from error

    def locked_event(self, pk: int) -> TimelineEvent:
        event = self.get_queryset().select_for_update().filter(pk=pk).first()
        if event is None:  # deleted since the request found it
            raise no_such_event(pk)
        return event

    @staticmethod
    def with_etag(response: Response, version: int) -> Response:
        response["ETag"] = f'"{version}"'
        return response


@transaction.atomic
def write_at_version(
    incident: Incident, expected: int, *, from_header: bool, user, write: Callable[[], T]
) -> tuple[T, int]:
    """``write()`` under the incident's row lock, if it is still at ``expected`` (else 412
    or 409); then the incident is at a new version, whether or not a moment moved."""
    locked = Incident.objects.select_for_update().get(pk=incident.pk)
    if rules.is_stale(locked.version, expected):
        changed = timeline_changes_since(locked, expected)
        raise stale_version(locked, from_header=from_header, changed=changed)
    result = write()
    after = Incident.objects.get(pk=incident.pk)  # a moved moment has bumped it already
    if after.version == locked.version:
        after._history_user = user  # who made this edit, for the history
        bump_version(after)
    return result, after.version


def timeline_changes_since(incident: Incident, version: int) -> list[str]:
    """``changed_fields_since``, with ``timeline`` when an event was written since."""
    changed = changed_fields_since(incident, version)
    # An API write records its events before the version it moves to (the bump comes
    # last), so events are compared with the moment ``version`` itself was recorded.
    then = incident.history.filter(version=version).order_by("-history_date").first()
    if then is not None:
        events = TimelineEvent.history.filter(
            incident_id=incident.id, history_date__gt=then.history_date
        )
        if events.exists():
            changed.append("timeline")
    return changed


def no_such_event(pk: int) -> exceptions.NotFound:
    return exceptions.NotFound(f"This postmortem's timeline has no event {pk}.")


def refusal(error: DjangoValidationError, *, blamed: str | None) -> exceptions.ValidationError:
    """The services' refusal by the event's field names. A moment put out of order (an
    error on the incident's ``detected_at``…) is the fault of the time or kind sent."""
    if not hasattr(error, "error_dict"):
        return exceptions.ValidationError({NON_FIELD_ERRORS: error.messages})
    fields: dict[str, list[str]] = {}
    for name, messages in error.message_dict.items():
        key = name if name in EVENT_FIELDS else (blamed or NON_FIELD_ERRORS)
        fields.setdefault(key, []).extend(messages)
    return exceptions.ValidationError(fields)
