"""Suggestions over the API: read an incident's, accept a subset (under the usual version
rules), retrain (admins), and follow what an import's classification did."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from classifier import services
from classifier.api.serializers import (
    AcceptSerializer,
    ClassificationBatchSerializer,
    ClassifierStatusSerializer,
    SuggestionsSerializer,
)
from classifier.models import ClassificationBatch, ClassifierModel
from core.rest import ERROR_REF, ApiPermission, PreconditionRequired
from postmortems import permissions
from postmortems import services as postmortem_services
from postmortems.api.versions import (
    ETAG_HEADER,
    IF_MATCH_HEADER,
    VERSION_ERRORS,
    VERSION_REQUIRED,
    agreed_version,
    if_match_version,
    stale_version,
)
from postmortems.models import Incident


def visible_incident(request: Request, slug: str) -> Incident:
    return get_object_or_404(
        Incident.objects.visible_to(request.user).prefetch_related("authors", "classification"),
        slug=slug,
    )


def suggestions_body(incident: Incident) -> dict:
    body = services.suggestions_for(incident).as_payload()
    decided = getattr(incident, "classification", None)
    body["classification"] = (
        None
        if decided is None
        else {
            "state": decided.state,
            "model_version": decided.model_version,
            "accepted": decided.accepted,
            "decided_at": decided.decided_at.isoformat(),
        }
    )
    return body


class SuggestionsView(APIView):
    permission_classes = [ApiPermission]

    @extend_schema(
        summary="Suggested change types and factors, with confidence and evidence",
        responses={200: SuggestionsSerializer},
    )
    def get(self, request: Request, slug: str) -> Response:
        incident = visible_incident(request, slug)
        return Response(suggestions_body(incident), headers={"ETag": f'"{incident.version}"'})


class AcceptSuggestionsView(APIView):
    permission_classes = [ApiPermission]

    @extend_schema(
        summary="Accept some of the suggestions as the incident's labels",
        description=(
            "Send the subset to accept (change-type slugs; factors as category and role). "
            "The version rules of every write apply: `If-Match` (412 when stale) or a body "
            "`version` (409 when stale); one of them is required (428)."
        ),
        request=AcceptSerializer,
        parameters=[IF_MATCH_HEADER, ETAG_HEADER],
        responses={
            200: SuggestionsSerializer,
            400: OpenApiResponse(ERROR_REF, "A label that is not among the suggestions."),
            **VERSION_ERRORS,
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        incident = visible_incident(request, slug)
        if not permissions.can_classify(request.user, incident):
            raise exceptions.PermissionDenied("You may read this incident but not label it.")
        header_version = if_match_version(request, incident)
        serializer = AcceptSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        if header_version is None and data.get("version") is None:
            raise PreconditionRequired(VERSION_REQUIRED)
        expected = agreed_version(header_version, data.get("version"))
        if data["publish"] and not permissions.can_publish_import(request.user, incident):
            raise exceptions.PermissionDenied(
                "Only reviewers and admins publish, and only imported drafts."
            )
        try:
            written = services.accept(
                incident=incident,
                user=request.user,
                expected_version=expected,
                change_types=data["change_types"],
                factors=[(f["category"], f["role"]) for f in data["factors"]],
                publish=data["publish"],
            )
        except postmortem_services.EditConflict as exc:
            raise stale_version(
                exc.current, from_header=header_version is not None, changed=exc.changed_fields
            ) from exc
        except ValidationError as exc:
            raise exceptions.ValidationError({"detail": exc.messages}) from exc
        written = visible_incident(request, slug)
        return Response(suggestions_body(written), headers={"ETag": f'"{written.version}"'})


class RetrainView(APIView):
    permission_classes = [ApiPermission]

    @extend_schema(
        summary="Retrain the classifier now (admins)",
        request=None,
        responses={
            202: OpenApiResponse(description="Queued; the new version appears at /api/classifier/.")
        },
    )
    def post(self, request: Request) -> Response:
        if not permissions.is_admin(request.user):
            raise exceptions.PermissionDenied("Only admins retrain the classifier.")
        from classifier.tasks import retrain_classifier

        result = retrain_classifier.delay()
        return Response(
            {"queued": True, "task": result.id, "current_version": services.latest_version()},
            status=status.HTTP_202_ACCEPTED,
        )


class ClassifierStatusView(APIView):
    permission_classes = [ApiPermission]

    @extend_schema(summary="The current model version", responses={200: ClassifierStatusSerializer})
    def get(self, request: Request) -> Response:
        model = ClassifierModel.objects.defer("artifact").order_by("-version").first()
        return Response(
            {
                "model_version": model.version if model else 0,
                "trained_on": model.trained_on if model else 0,
                "reference_examples": model.reference_examples if model else 0,
                "labels": model.labels if model else [],
                "created_at": model.created_at if model else None,
            }
        )


class ClassificationBatchView(APIView):
    permission_classes = [ApiPermission]

    @extend_schema(
        summary="What an import's classification did",
        responses={200: ClassificationBatchSerializer},
    )
    def get(self, request: Request, batch_id: int) -> Response:
        batch = get_object_or_404(ClassificationBatch, id=batch_id)
        return Response(
            {
                "id": batch.id,
                "incidents": len(batch.incident_ids),
                "classified": batch.classified,
                "auto_classified": batch.auto_classified,
                "finished": batch.finished_at is not None,
                "finished_at": batch.finished_at,
            }
        )
