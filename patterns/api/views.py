"""The patterns API: recurring patterns, an incident's related incidents, the metrics.

Every response reads the tables the refresh job precomputes.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework.viewsets import ReadOnlyModelViewSet

from core.pagination import SortKey
from core.rest import ApiPermission
from patterns import services
from patterns.api.serializers import (
    PatternDetailSerializer,
    PatternSerializer,
    RefreshSummarySerializer,
    RelatedIncidentsSerializer,
)
from patterns.filtersets import PatternFilterSet
from patterns.insights import latest_members, variants_of
from patterns.mining import attribute_names
from patterns.models import Pattern
from patterns.related import cached_related_incidents
from patterns.snapshot import empty_snapshot, latest_snapshot, refresh_version
from postmortems import permissions
from postmortems.models import Incident

# A day: a page of an older refresh is never asked for again and expires.
LIST_SECONDS = 24 * 3600
# Part of a cached page's key: pages cached before the items' fields changed are not served.
LIST_SHAPE = 4

BY_SCORE = {
    "-score": SortKey(("score", "id"), descending=True),
    "-support": SortKey(("support", "id"), descending=True),
    "-last_seen": SortKey(("last_seen", "id"), descending=True),
}


@extend_schema_view(
    list=extend_schema(
        summary="Recurring patterns, best first, each family once",
        description="Closed patterns that published postmortems share, one per set of "
        "incidents: combinations of 2 or 3 change types and failure categories, and single "
        "change types or contributing factors that recur (`equivalent_keys` names the "
        "combinations with the same incidents folded into it). Each is tested against "
        "chance (`measure`, `expected`, `lift`, `p_value`, `evidence`, and "
        "`evidence_text` in words) and ranked by score = evidence + 1/2 * log10((1 + log2 "
        "vendors) * recency), evidence = -log10(p x candidates tested). "
        "Patterns whose incidents overlap a stronger one's (Jaccard index 0.5 or more) are "
        "its *variants*: a list shows each family once, by its head, with `variant_count`, "
        "unless `variants=true`. Without `min_support`, only patterns at the configured "
        "minimum are listed; each item's `url` answers whatever its support.",
        parameters=[
            OpenApiParameter(
                "attribute",
                OpenApiTypes.STR,
                many=True,
                explode=True,
                description="Patterns whose incidents share every attribute given (the "
                "pattern's own or those of the combinations folded into it), e.g. "
                "`ct:config-change` or `cat:non-staged-rollout`; repeat the parameter or "
                "separate with commas.",
            ),
        ],
    ),
    retrieve=extend_schema(
        summary="One pattern with its latest member incidents, all its vendors, its variants",
        description="The 50 members that started last, oldest first, each with the completed "
        "action items of earlier members it recurred after. Every member is a published "
        "incident whose change types and categories include all of the pattern's attributes. "
        "A family's head lists its `variants`; a variant names its head in `variant_of`. "
        "`vendors` lists every vendor of the members (the list names only the top ones). "
        "Emerging patterns (below the minimum support) answer too: the list's filters choose "
        "what a list shows, not which patterns exist.",
    ),
)
class PatternViewSet(ReadOnlyModelViewSet):
    permission_classes = [ApiPermission]
    filterset_class = PatternFilterSet
    sort_keys = BY_SCORE

    def get_queryset(self) -> QuerySet[Pattern]:
        if self.action == "retrieve":
            return Pattern.objects.all()
        # A list shows no members and names only the top vendors: leave every vendor and
        # the latest members in the database.
        return Pattern.objects.listed()

    def filter_queryset(self, queryset: QuerySet[Pattern]) -> QuerySet[Pattern]:
        # The filters (the default minimum support among them) choose what a list shows; a
        # pattern's own URL, as every list gives it, answers whatever its support.
        if self.action == "retrieve":
            return queryset
        return super().filter_queryset(queryset)

    def get_object(self) -> Pattern:
        pattern = super().get_object()
        # Stored newest first; the API lists them oldest first, as a timeline reads.
        members = latest_members(
            pattern, Incident.objects.only("id", "slug", "title", "started_at")
        )
        pattern.member_rows = [
            {"incident": incident, "prior_completed_actions": prior}
            for incident, prior in reversed(members)
        ]
        pattern.variant_rows = list(variants_of(pattern))
        return pattern

    def get_serializer_class(self):
        return PatternDetailSerializer if self.action == "retrieve" else PatternSerializer

    def list(self, request: Request, *args, **kwargs) -> Response:
        # A page of patterns changes only when a refresh stores new ones: each page (its
        # filters, cursor and links) is built once per refresh and then read from the cache.
        version = refresh_version()
        if version is None:
            return super().list(request, *args, **kwargs)
        asked = f"{version}|{request.build_absolute_uri()}"
        key = f"patterns:api-list:{LIST_SHAPE}:" + hashlib.sha256(asked.encode()).hexdigest()
        data = cache.get(key)
        if data is None:
            data = super().list(request, *args, **kwargs).data
            cache.set(key, data, LIST_SECONDS)
        return Response(data)

    @extend_schema(
        summary="Recompute patterns, incident profiles and metrics now (admins)",
        description="Runs the same refresh the worker runs a minute after published "
        "postmortems change and every night, and answers when it is done (up to a minute on "
        "a large knowledge base). Useful right after a bulk import.",
        request=None,
        responses={200: RefreshSummarySerializer},
    )
    @action(detail=False, methods=["post"])
    def refresh(self, request: Request) -> Response:
        if not permissions.is_admin(request.user):
            raise PermissionDenied("Only admins start a refresh.")
        summary = services.refresh_patterns()
        return Response(RefreshSummarySerializer(summary).data)

    def get_serializer_context(self) -> dict:
        # One query for every attribute name on the page, not one per pattern.
        return {**super().get_serializer_context(), "names": attribute_names()}


class RelatedIncidentsView(APIView):
    permission_classes = [ApiPermission]

    @extend_schema(
        summary="The five published incidents most like this one, with the reasons",
        responses={
            200: RelatedIncidentsSerializer,
            404: OpenApiResponse(description="No such postmortem, or not one you may see."),
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        incident = get_object_or_404(Incident.objects.visible_to(request.user), slug=slug)
        related = cached_related_incidents(incident)
        payload = {
            "incident": incident.slug,
            "results": [
                {"slug": r.slug, "title": r.title, "score": r.score, "reasons": r.reasons}
                for r in related
            ],
        }
        return Response(RelatedIncidentsSerializer(payload).data)


class StatsView(APIView):
    permission_classes = [ApiPermission]

    @extend_schema(
        summary="Metrics of published postmortems, as of the last refresh",
        description="Median and 90th percentile of time to detect, mitigate and resolve "
        "(seconds from the start of impact) by change type, category, vendor and year, with "
        "incidents of unknown duration left out and counted in `unknown`; downtime per vendor "
        "per year; incidents per month by change type; the time-to-resolve distribution by "
        "change type; incidents by vendor and category; rising change types and categories. "
        "`computed_at` is null before the first refresh.",
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> Response:
        return Response(latest_snapshot() or empty_snapshot())
