"""The postmortem API: incidents with their parts and review actions, vendors, the taxonomy.

Thin views: who may do what is ``postmortems.permissions``; writes are
``postmortems.services``; ``get_queryset`` loads everything a page shows in a
fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, status
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, DjangoModelPermissions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.viewsets import GenericViewSet

from core.pagination import SortKey
from core.rest import ApiPermission, PreconditionRequired
from postmortems import permissions, services
from postmortems.api.representation import incidents_with_parts
from postmortems.api.same_outage import (
    SameOutageLinkSerializer,
    SameOutageSerializer,
    same_outage_data,
)
from postmortems.api.serializers import (
    ChangeTypeSerializer,
    FailureCategorySerializer,
    IncidentSerializer,
    ReviewActionSerializer,
    VendorSerializer,
)
from postmortems.api.versions import (
    DELETE_VERSION_REQUIRED,
    ETAG_HEADER,
    IF_MATCH_HEADER,
    VERSION_ERRORS,
    VERSION_REQUIRED,
    agreed_version,
    body_has_version,
    delete_incident,
    if_match_version,
    stale_version,
)
from postmortems.filtersets import IncidentFilterSet
from postmortems.models import (
    ChangeType,
    FailureCategory,
    Incident,
    Service,
    Vendor,
)
from postmortems.same_outage import link_same_outage, unlink_same_outage

INCIDENT_SORT_KEYS = {
    # The first is the default. Undated incidents come last either way.
    "-started_at": SortKey(("started_at", "id"), descending=True),
    "started_at": SortKey(("started_at", "id"), descending=False),
    "-updated_at": SortKey(("updated_at", "id"), descending=True),
    "updated_at": SortKey(("updated_at", "id"), descending=False),
}
BY_NAME = {"name": SortKey(("name", "id"), descending=False)}

# --- Who may do what --------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    allowed: Callable[..., bool]
    message: str


OBJECT_RULES = {
    "update": Rule(permissions.can_edit, "You may read this postmortem but not edit it."),
    "partial_update": Rule(permissions.can_edit, "You may read this postmortem but not edit it."),
    "destroy": Rule(permissions.can_delete, "Only admins delete postmortems."),
    "submit": Rule(
        permissions.can_submit,
        "Only its authors or an admin submit a postmortem, and only while it is a draft.",
    ),
    "publish": Rule(
        permissions.can_review,
        "Only a reviewer who did not write it publishes a postmortem, while it is in review.",
    ),
    "send_back": Rule(
        permissions.can_review,
        "Only a reviewer who did not write it sends a postmortem back, while it is in review.",
    ),
}


class IncidentPermission(BasePermission):
    """``postmortems.permissions`` per action; visibility is the queryset's (404, not 403)."""

    def has_permission(self, request: Request, view) -> bool:
        if view.action == "create" and not permissions.can_create(request.user):
            raise exceptions.PermissionDenied(
                "Only authors, reviewers and admins write postmortems."
            )
        return True

    def has_object_permission(self, request: Request, view, obj: Incident) -> bool:
        rule = OBJECT_RULES.get(view.action)
        if rule is not None and not rule.allowed(request.user, obj):
            raise exceptions.PermissionDenied(rule.message)
        return True


class VendorPermission(DjangoModelPermissions):
    """Everyone signed in reads vendors; adding or changing one needs the model permission."""

    message = "Only authors, reviewers and admins add or change vendors."


class TaxonomyPermission(DjangoModelPermissions):
    """Everyone signed in reads the taxonomy; adding or changing a term needs the model
    permission (admins have it)."""

    message = "Only admins add or change the taxonomy's terms."


# --- Incidents ----------------------------------------------------------------------


class IncidentApiFilterSet(IncidentFilterSet):
    """The HTML list's filters, unchanged. The slug filters are methods, whose value type
    the schema generator cannot infer; these overrides only state it."""

    def filter_vendor(self, queryset, name, value: list[Vendor]):
        return super().filter_vendor(queryset, name, value)

    def filter_change_type(self, queryset, name, value: list[ChangeType]):
        return super().filter_change_type(queryset, name, value)

    def filter_category(self, queryset, name, value: list[FailureCategory]):
        return super().filter_category(queryset, name, value)


SAME_OUTAGE_LINK_NOTE = (
    "The two postmortems become records of one outage, counted once in patterns, metrics, "
    "downtime and the digest: a hand-written postmortem stands for it over an import, then "
    "a published one, then the longer analysis and summary, then the earlier one. Linking "
    "a record of another outage links every record of both. You must be able to edit both."
)
SAME_OUTAGE_UNLINK_NOTE = (
    "This postmortem becomes a record of its own outage again; if it stood for the outage, "
    "the best of its other records stands for it now."
)
UNLINK_VERSION_REQUIRED = 'Say which version you are unlinking: send `If-Match: "<version>"`.'

PARTS_NOTE = (
    "`factors` and `action_items`, when sent, replace the incident's lists in the same "
    "transaction: one invalid item refuses the whole write, and nothing is saved. The timeline, "
    "sources and services are read-only here."
)


@extend_schema_view(
    list=extend_schema(summary="List the postmortems you may see"),
    retrieve=extend_schema(summary="One postmortem, with its parts", parameters=[ETAG_HEADER]),
    create=extend_schema(
        summary="Write a new postmortem (a draft, authored by you)",
        description="Moments given become timeline events. " + PARTS_NOTE,
        parameters=[ETAG_HEADER],
    ),
    update=extend_schema(
        summary="Replace a postmortem's fields",
        description=VERSION_REQUIRED + " Status and moments cannot change here. " + PARTS_NOTE,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: IncidentSerializer, **VERSION_ERRORS},
    ),
    partial_update=extend_schema(
        summary="Change some of a postmortem's fields",
        description=VERSION_REQUIRED + " Status and moments cannot change here. " + PARTS_NOTE,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: IncidentSerializer, **VERSION_ERRORS},
    ),
    destroy=extend_schema(
        summary="Delete a postmortem (admins)",
        description=DELETE_VERSION_REQUIRED,
        parameters=[IF_MATCH_HEADER],
        responses={204: None, 412: VERSION_ERRORS[412], 428: VERSION_ERRORS[428]},
    ),
)
class IncidentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    GenericViewSet,
):
    serializer_class = IncidentSerializer
    permission_classes = [ApiPermission, IncidentPermission]
    filterset_class = IncidentApiFilterSet
    sort_keys = INCIDENT_SORT_KEYS
    lookup_field = "slug"

    def get_queryset(self) -> QuerySet[Incident]:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return Incident.objects.none()
        visible = Incident.objects.visible_to(self.request.user)
        # Reading, this only finds the incidents; ``read`` and ``page_rows`` read them whole.
        return visible.only("id") if self.action in ("list", "retrieve") else visible

    def page_rows(self, ids: list[int]) -> list[Incident]:
        """The paginator's page, once found by its keys."""
        return incidents_with_parts(ids)

    def read(self, incident: Incident) -> Incident:
        return incidents_with_parts([incident.pk])[0]

    def filter_queryset(self, queryset: QuerySet[Incident]) -> QuerySet[Incident]:
        # The list's filters: one incident named by its slug is found without them
        # (building the filter form costs more than reading the incident).
        return super().filter_queryset(queryset) if self.action == "list" else queryset

    def retrieve(self, request: Request, *args, **kwargs) -> Response:
        return self.incident_response(self.read(self.get_object()))

    def create(self, request: Request, *args, **kwargs) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        incident = serializer.save(author=request.user)
        return self.written_response(incident, code=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, partial: bool = False, **kwargs) -> Response:
        incident = self.get_object()
        header_version = if_match_version(request, incident)
        if header_version is None and not body_has_version(request):
            raise PreconditionRequired(VERSION_REQUIRED)
        serializer = self.get_serializer(incident, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        expected = agreed_version(header_version, serializer.validated_data.get("version"))
        try:
            serializer.save(user=request.user, expected_version=expected)
        except services.EditConflict as exc:
            raise stale_version(
                exc.current, from_header=header_version is not None, changed=exc.changed_fields
            ) from exc
        return self.written_response(incident)

    def destroy(self, request: Request, *args, **kwargs) -> Response:
        incident = self.get_object()
        version = if_match_version(request, incident)
        if version is None:
            raise PreconditionRequired(DELETE_VERSION_REQUIRED)
        delete_incident(incident_id=incident.id, expected_version=version)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Submit a draft for review",
        request=None,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: IncidentSerializer, 412: VERSION_ERRORS[412]},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, slug: str | None = None) -> Response:
        incident = self.get_object()
        if_match_version(request, incident)  # optional here: a transition is state-checked
        services.submit_for_review(incident=incident, user=request.user)
        return self.written_response(incident)

    @extend_schema(
        summary="Publish a postmortem in review",
        request=ReviewActionSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: IncidentSerializer, 412: VERSION_ERRORS[412]},
    )
    @action(detail=True, methods=["post"])
    def publish(self, request: Request, slug: str | None = None) -> Response:
        incident, comment = self.review_request(request)
        services.publish_incident(incident=incident, user=request.user, comment=comment)
        return self.written_response(incident)

    @extend_schema(
        summary="Send a postmortem in review back to its authors",
        description="`comment` is required: say what the authors should change.",
        request=ReviewActionSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: IncidentSerializer, 412: VERSION_ERRORS[412]},
    )
    @action(detail=True, methods=["post"], url_path="return", url_name="return")
    def send_back(self, request: Request, slug: str | None = None) -> Response:
        incident, comment = self.review_request(request)
        services.return_incident(incident=incident, user=request.user, comment=comment)
        return self.written_response(incident)

    @extend_schema(
        methods=["GET"],
        summary="The other records of this postmortem's outage, and suggested ones",
        parameters=[ETAG_HEADER],
        responses={200: SameOutageSerializer},
    )
    @extend_schema(
        methods=["POST"],
        summary="Link another record of the same outage",
        description=SAME_OUTAGE_LINK_NOTE + " " + VERSION_REQUIRED,
        request=SameOutageLinkSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: SameOutageSerializer, **VERSION_ERRORS},
    )
    @extend_schema(
        methods=["DELETE"],
        summary="Make this postmortem a record of its own outage again",
        description=SAME_OUTAGE_UNLINK_NOTE + " " + UNLINK_VERSION_REQUIRED,
        request=None,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={200: SameOutageSerializer, 412: VERSION_ERRORS[412], 428: VERSION_ERRORS[428]},
    )
    @action(detail=True, methods=["get", "post", "delete"], url_path="same-outage")
    def same_outage(self, request: Request, slug: str | None = None) -> Response:
        incident = self.get_object()
        if request.method != "GET":
            if request.method == "POST":
                self.link(request, incident)
            else:
                self.unlink(request, incident)
            incident = Incident.objects.get(pk=incident.pk)  # as the write left it
        return Response(
            same_outage_data(incident, request.user),
            headers={"ETag": f'"{incident.version}"'},
        )

    def link(self, request: Request, incident: Incident) -> None:
        self.require_edit(incident)
        header_version = if_match_version(request, incident)
        if header_version is None and not body_has_version(request):
            raise PreconditionRequired(VERSION_REQUIRED)
        serializer = SameOutageLinkSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        expected = agreed_version(header_version, serializer.validated_data.get("version"))
        try:
            link_same_outage(
                incident=incident,
                other=serializer.validated_data["incident"],
                user=request.user,
                expected_version=expected,
            )
        except services.EditConflict as exc:
            raise stale_version(
                exc.current, from_header=header_version is not None, changed=exc.changed_fields
            ) from exc

    def unlink(self, request: Request, incident: Incident) -> None:
        self.require_edit(incident)
        version = if_match_version(request, incident)
        if version is None:
            raise PreconditionRequired(UNLINK_VERSION_REQUIRED)
        try:
            unlink_same_outage(incident=incident, user=request.user, expected_version=version)
        except services.EditConflict as exc:
            raise stale_version(exc.current, from_header=True) from exc

    def require_edit(self, incident: Incident) -> None:
        # Before the version: someone who may not edit it learns that first.
        if not permissions.can_edit(self.request.user, incident):
            raise exceptions.PermissionDenied("You may read this postmortem but not edit it.")

    def review_request(self, request: Request) -> tuple[Incident, str]:
        incident = self.get_object()
        if_match_version(request, incident)
        serializer = ReviewActionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return incident, serializer.validated_data["comment"]

    def written_response(self, incident: Incident, *, code: int = status.HTTP_200_OK) -> Response:
        """The incident as a write left it: reloaded with its parts (the write changed them)."""
        return self.incident_response(self.read(incident), code=code)

    def incident_response(self, incident: Incident, *, code: int = status.HTTP_200_OK) -> Response:
        """The incident with its version as the ETag (and, when created, its Location)."""
        headers = {"ETag": f'"{incident.version}"'}
        if code == status.HTTP_201_CREATED:
            headers["Location"] = reverse(
                "postmortems-api:incident-detail",
                kwargs={"slug": incident.slug},
                request=self.request,
            )
        return Response(self.get_serializer(incident).data, status=code, headers=headers)


# --- Vendors and the taxonomy -----------------------------------------------------------


@extend_schema_view(
    list=extend_schema(summary="List vendors"),
    retrieve=extend_schema(summary="One vendor, with its services"),
    create=extend_schema(summary="Add a vendor (authors, reviewers, admins)"),
    update=extend_schema(summary="Replace a vendor's fields"),
    partial_update=extend_schema(summary="Change some of a vendor's fields"),
)
class VendorViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    GenericViewSet,
):
    serializer_class = VendorSerializer
    permission_classes = [ApiPermission, VendorPermission]
    queryset = Vendor.objects.prefetch_related(
        # Ordered by name only: the model's default order would join the vendor again.
        Prefetch("services", queryset=Service.objects.order_by("name", "id"))
    )
    sort_keys = BY_NAME
    lookup_field = "slug"


TAXONOMY_WRITE_NOTE = "Admins only. The slug is chosen on creation and never changes."


@extend_schema_view(
    list=extend_schema(summary="List change types"),
    retrieve=extend_schema(summary="One change type"),
    create=extend_schema(summary="Add a change type", description=TAXONOMY_WRITE_NOTE),
    update=extend_schema(summary="Replace a change type's fields", description=TAXONOMY_WRITE_NOTE),
    partial_update=extend_schema(
        summary="Change some of a change type's fields", description=TAXONOMY_WRITE_NOTE
    ),
)
class ChangeTypeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    GenericViewSet,
):
    serializer_class = ChangeTypeSerializer
    permission_classes = [ApiPermission, TaxonomyPermission]
    queryset = ChangeType.objects.all()
    sort_keys = BY_NAME
    lookup_field = "slug"


@extend_schema_view(
    list=extend_schema(summary="List failure categories"),
    retrieve=extend_schema(summary="One failure category"),
    create=extend_schema(summary="Add a failure category", description=TAXONOMY_WRITE_NOTE),
    update=extend_schema(
        summary="Replace a failure category's fields", description=TAXONOMY_WRITE_NOTE
    ),
    partial_update=extend_schema(
        summary="Change some of a failure category's fields", description=TAXONOMY_WRITE_NOTE
    ),
)
class FailureCategoryViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    GenericViewSet,
):
    serializer_class = FailureCategorySerializer
    permission_classes = [ApiPermission, TaxonomyPermission]
    queryset = FailureCategory.objects.select_related("parent")
    sort_keys = BY_NAME
    lookup_field = "slug"
