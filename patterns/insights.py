"""What pages show of the precomputed analysis, each read in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Prefetch, QuerySet

from patterns.models import Pattern, PatternMember, VendorRecurrence
from patterns.related import RelatedIncident, cached_related_incidents
from postmortems.choices import FactorRole
from postmortems.models import ActionItem, Factor, Incident, Vendor

# Members shown on a pattern page; the rest are a link to the filtered incident list.
PATTERN_PAGE_MEMBERS = 50


@dataclass(frozen=True)
class IncidentInsights:
    patterns: list[PatternMember]  # at or above the minimum support, best first
    emerging: list[PatternMember]  # seen twice, below it
    related: list[RelatedIncident]
    recurrences: list[VendorRecurrence]


def incident_insights(incident: Incident) -> IncidentInsights:
    """The incident page's panels: its patterns, related incidents and vendor recurrences."""
    memberships = list(
        PatternMember.objects.filter(incident=incident)
        .select_related("pattern")
        .order_by("-pattern__score", "pattern__key")
    )
    minimum = settings.PATTERN_MIN_SUPPORT
    return IncidentInsights(
        patterns=[m for m in memberships if m.pattern.support >= minimum],
        emerging=[m for m in memberships if m.pattern.support < minimum],
        related=cached_related_incidents(incident),
        recurrences=list(
            VendorRecurrence.objects.filter(incident=incident)
            .select_related("vendor", "previous")
            .order_by("vendor__name", "attribute_name")
        ),
    )


def vendor_recurrences(vendor: Vendor, limit: int = 20) -> list[VendorRecurrence]:
    """The vendor's latest recurrences, newest first (one query)."""
    return list(
        VendorRecurrence.objects.filter(vendor=vendor)
        .select_related("incident", "previous")
        .order_by(F("incident__started_at").desc(nulls_last=True), "attribute_name")[:limit]
    )


@dataclass(frozen=True)
class PatternMemberRow:
    incident: Incident
    prior_completed_actions: int
    root_causes: list[Factor]


def pattern_members(pattern: Pattern, limit: int = PATTERN_PAGE_MEMBERS) -> list[PatternMemberRow]:
    """The pattern's latest members with their vendors, root causes, lessons and action items.

    Five queries whatever the pattern's size: members, incidents, vendors, factors, items.
    """
    memberships = (
        PatternMember.objects.filter(pattern=pattern)
        .select_related("incident")
        .prefetch_related(
            "incident__incident_vendors__vendor",
            Prefetch(
                "incident__factors",
                queryset=Factor.objects.select_related("category"),
            ),
            Prefetch("incident__action_items", queryset=ActionItem.objects.order_by("id")),
        )
        .order_by(F("incident__started_at").desc(nulls_last=True), "-incident_id")
    )[:limit]
    return [
        PatternMemberRow(
            incident=m.incident,
            prior_completed_actions=m.prior_completed_actions,
            root_causes=[f for f in m.incident.factors.all() if f.role == FactorRole.ROOT_CAUSE],
        )
        for m in memberships
    ]


def top_patterns(min_support: int | None = None, limit: int = 20) -> QuerySet[Pattern]:
    return Pattern.objects.recurring(min_support)[:limit]


def emerging_patterns(limit: int = 10) -> QuerySet[Pattern]:
    return Pattern.objects.emerging()[:limit]
