"""Import endpoints: push a payload, follow a job, manage polled sources and webhooks."""

from __future__ import annotations

from django.db import transaction
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from core.pagination import SortKey
from core.rest import ApiPermission
from imports import polling, services
from imports.api.serializers import (
    ImportJobSerializer,
    ImportResultSerializer,
    ImportSerializer,
    StatusSourceSerializer,
    WebhookEndpointSerializer,
    payload_bytes,
)
from imports.models import ImportFormat, ImportJob, StatusSource, WebhookEndpoint, hash_secret
from imports.records import PayloadError
from postmortems import permissions as rules
from postmortems.models import Vendor


class CanImport(permissions.BasePermission):
    message = "Only authors, reviewers and admins import incidents."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return request.user.is_authenticated
        return rules.can_create(request.user)


class CanManageSources(permissions.BasePermission):
    message = "Managing status sources needs permission to change vendors."

    def has_permission(self, request, view) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return request.user.is_authenticated
        return request.user.has_perm("postmortems.change_vendor")


class ImportJobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Push a status-page payload; small ones import at once, large ones as a job."""

    serializer_class = ImportJobSerializer
    permission_classes = [ApiPermission, CanImport]

    sort_keys = {"-created_at": SortKey(("created_at", "id"), descending=True)}

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no user
            return ImportJob.objects.none()
        jobs = ImportJob.objects.select_related("vendor").defer("payload")
        if rules.is_admin(self.request.user):
            return jobs
        return jobs.filter(created_by=self.request.user)

    @extend_schema(
        request=ImportSerializer,
        responses={
            200: OpenApiResponse(ImportResultSerializer, description="Imported now."),
            202: OpenApiResponse(ImportJobSerializer, description="Queued: follow the job URL."),
        },
    )
    @services.collector_paused()  # the request decodes the whole payload
    def create(self, request):
        given = ImportSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        fmt, data = given.validated_data["format"], given.validated_data["payload"]
        try:
            count = services.count_payload(fmt, data)
        except PayloadError as exc:
            raise ValidationError({"payload": [str(exc)]}) from exc
        vendor = self.vendor_for(given.validated_data)
        if services.runs_in_background(data, count):
            with transaction.atomic():
                job = services.queue_import(
                    vendor=vendor, fmt=fmt, data=data, total=count, user=request.user
                )
            body = ImportJobSerializer(job, context={"request": request}).data
            return Response(
                body,
                status=status.HTTP_202_ACCEPTED,
                # str(): the URL field is a Hyperlink; WSGI servers accept only plain str.
                headers={"Location": str(body["url"])},
            )
        batch = services.parse_payload(fmt, data)  # checked above: it reads as a whole
        report = services.import_batch(vendor=vendor, fmt=fmt, batch=batch, user=request.user)
        return Response({"status": "succeeded", "report": report.as_dict()})

    def vendor_for(self, data: dict) -> Vendor:
        existing = Vendor.objects.filter(slug=data["vendor"]).first()
        if existing is not None:
            return existing
        if not self.request.user.has_perm("postmortems.add_vendor"):
            raise PermissionDenied("This vendor does not exist and you may not create vendors.")
        return services.ensure_vendor(slug=data["vendor"], name=data.get("vendor_name", ""))


class StatusSourceViewSet(viewsets.ModelViewSet):
    """Status pages polled on a schedule, with each poll's outcome."""

    serializer_class = StatusSourceSerializer
    permission_classes = [ApiPermission, CanManageSources]
    queryset = StatusSource.objects.select_related("vendor")

    @extend_schema(request=None, responses=StatusSourceSerializer)
    @action(detail=True, methods=["post"])
    def poll(self, request, pk=None):
        """Poll this source now (whatever its schedule) and return its updated state."""
        source = self.get_object()
        polling.poll_source(source)
        return Response(self.get_serializer(source).data)


class WebhookEndpointViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Per-vendor URLs for Statuspage webhook subscriptions (the secret is in the URL)."""

    serializer_class = WebhookEndpointSerializer
    permission_classes = [ApiPermission, CanManageSources]
    queryset = WebhookEndpoint.objects.select_related("vendor")

    def perform_create(self, serializer):
        endpoint, secret = WebhookEndpoint.create_for(
            vendor=serializer.validated_data["vendor"], user=self.request.user
        )
        serializer.instance = endpoint
        path = reverse("imports-api:statuspage-webhook", kwargs={"secret": secret})
        serializer.context["webhook_urls"] = {endpoint.id: self.request.build_absolute_uri(path)}


class StatuspageWebhookView(APIView):
    """Receives Statuspage subscriber notifications; the URL's secret names the vendor."""

    authentication_classes: list = []  # the secret in the URL is the credential
    permission_classes = [permissions.AllowAny]
    throttle_classes: list = []

    @extend_schema(request=dict, responses=ImportResultSerializer)
    def post(self, request, secret: str):
        endpoint = get_object_or_404(
            WebhookEndpoint.objects.select_related("vendor"), secret_hash=hash_secret(secret)
        )
        try:
            batch = services.parse_payload(
                ImportFormat.STATUSPAGE_WEBHOOK, payload_bytes(request.data)
            )
        except PayloadError as exc:
            raise ValidationError({"payload": [str(exc)]}) from exc
        report = services.import_batch(
            vendor=endpoint.vendor, fmt=ImportFormat.STATUSPAGE_WEBHOOK, batch=batch
        )
        WebhookEndpoint.objects.filter(id=endpoint.id).update(last_received_at=timezone.now())
        return Response({"status": "succeeded", "report": report.as_dict()})
