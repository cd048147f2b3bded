"""What pages show of the precomputed analysis, each read in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import F, Prefetch, QuerySet
from django.utils.safestring import mark_safe

from patterns import recurrence
from patterns.models import LATEST_MEMBERS, IncidentProfile, Pattern
from patterns.recurrence import Recurrence
from patterns.related import RelatedIncident, cached_related_incidents
from postmortems.choices import FactorRole, ReviewStatus
from postmortems.models import ActionItem, Factor, Incident, IncidentVendor, Vendor
from postmortems.rendering import render_markdown

# Members shown on a pattern page; the rest are in the incident list.
PATTERN_PAGE_MEMBERS = LATEST_MEMBERS


@dataclass(frozen=True)
class Membership:
    """An incident's place in one pattern: the fixes of earlier members it recurred after."""

    pattern: Pattern
    prior_completed_actions: int


@dataclass(frozen=True)
class IncidentInsights:
    patterns: list[Membership]  # at or above the minimum support, best first
    emerging: list[Membership]  # seen twice, below it
    related: list[RelatedIncident]
    recurrences: list[Recurrence]


def incident_insights(incident: Incident) -> IncidentInsights:
    """The incident page's panels: its patterns, related incidents and vendor recurrences."""
    published = incident.status == ReviewStatus.PUBLISHED
    memberships = incident_patterns(incident) if published else []
    minimum = settings.PATTERN_MIN_SUPPORT
    return IncidentInsights(
        patterns=[m for m in memberships if m.pattern.support >= minimum],
        emerging=[m for m in memberships if m.pattern.support < minimum],
        related=cached_related_incidents(incident),
        recurrences=recurrence.incident_recurrences(incident) if published else [],
    )


def incident_patterns(incident: Incident) -> list[Membership]:
    """The patterns whose attributes the incident has, best first (two or three queries)."""
    profile = IncidentProfile.objects.filter(incident_id=incident.pk).first()
    if profile is None:  # published since the last refresh
        return []
    found = list(
        Pattern.objects.containing(profile.attributes)
        .only(
            "id",
            "key",
            "title",
            "support",
            "score",
            "attributes",
            "quarter_completed_actions",
            "variant_of",
            "measure",
            "expected",
            "log10_p",
            "vendor_count",
        )
        .order_by("-score", "key")
    )
    # Each family once: a variant is shown only when the incident is not in its head.
    ids = {p.pk for p in found}
    patterns = [p for p in found if p.variant_of_id not in ids]
    priors = prior_actions(profile, patterns)
    return [Membership(p, priors.get(p.pk, 0)) for p in patterns]


def quarter_of(moment: datetime) -> tuple[str, datetime, datetime]:
    """The quarter's label ("2014-Q4", as in ``Pattern.quarter_counts``), start and end (UTC)."""
    utc = moment.astimezone(UTC)
    index = utc.year * 4 + (utc.month - 1) // 3
    start = datetime(index // 4, index % 4 * 3 + 1, 1, tzinfo=UTC)
    end = datetime((index + 1) // 4, (index + 1) % 4 * 3 + 1, 1, tzinfo=UTC)
    return f"{utc.year}-Q{index % 4 + 1}", start, end


def prior_actions(profile: IncidentProfile, patterns: list[Pattern]) -> dict[int, int]:
    """Per pattern, the done action items of its members that started before the incident.

    Whole quarters come from the pattern's counts per quarter; only the members between
    the incident and the nearer end of its quarter are read (one query, index only): those
    before it are added to the quarters before, or those from it on are taken from the
    quarters up to its own.
    """
    if profile.started_at is None or not patterns:
        return {}
    label, start, end = quarter_of(profile.started_at)
    from_start = profile.started_at - start <= end - profile.started_at
    priors = {
        p.pk: sum(
            n
            for q, n in p.quarter_completed_actions.items()
            if q < label or (q == label and not from_start)
        )
        for p in patterns
    }
    window = (start, profile.started_at) if from_start else (profile.started_at, end)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT p.id, sum(m.completed_actions) FROM {Pattern._meta.db_table} p "
            f"JOIN {IncidentProfile._meta.db_table} m ON m.attributes @> p.attributes "
            "WHERE p.id = ANY(%s) AND m.completed_actions > 0 "
            "AND m.started_at >= %s AND m.started_at < %s GROUP BY p.id",
            [list(priors), *window],
        )
        for pk, done in cursor.fetchall():
            priors[pk] += done if from_start else -done
    return priors


def vendor_patterns(vendor: Vendor, limit: int = 5) -> list[Pattern]:
    """The best recurring families the vendor's incidents take part in (one query, through
    the index on the patterns' vendors)."""
    found = Pattern.objects.recurring().families().filter(vendors__contains=[vendor.slug])
    return list(found.only("id", "title", "measure", "support", "vendor_count", "expected",
                           "log10_p").order_by("-score", "key")[:limit])  # fmt: skip


def vendor_recurrences(vendor: Vendor, limit: int = 20) -> list[Recurrence]:
    """The vendor's latest recurrences, newest first."""
    return recurrence.vendor_recurrences(vendor, limit)


@dataclass(frozen=True)
class PatternMemberRow:
    incident: Incident
    prior_completed_actions: int
    root_causes: list[Factor]
    lessons_html: str = ""


# A day: an incident's lessons are kept rendered per version, so a pattern page of 50 members
# does not run Markdown and the sanitiser 50 times on every view; an edit makes a new version.
LESSONS_SECONDS = 24 * 3600


def rendered_lessons(incidents: list[Incident]) -> dict[int, str]:
    """Each incident's lessons as safe HTML, from the cache where this version is there."""
    keys = {incident.pk: f"lessons-html:{incident.pk}:{incident.version}" for incident in incidents}
    found = cache.get_many(list(keys.values()))
    missing = {}
    for incident in incidents:
        if keys[incident.pk] not in found:
            missing[keys[incident.pk]] = str(render_markdown(incident.lessons))
    if missing:
        cache.set_many(missing, LESSONS_SECONDS)
    found.update(missing)
    return {pk: mark_safe(found[key]) for pk, key in keys.items()}


def latest_members(
    pattern: Pattern, incidents: QuerySet[Incident] | None = None
) -> list[tuple[Incident, int]]:
    """The pattern's latest members, newest first, with the fixes each recurred after (one
    query, plus whatever ``incidents`` prefetches)."""
    queryset = Incident.objects.all() if incidents is None else incidents
    found = queryset.published().in_bulk(pattern.latest_members)
    # One unpublished since the last refresh is left out.
    return [
        (found[pk], prior)
        for pk, prior in zip(pattern.latest_members, pattern.latest_prior_actions, strict=True)
        if pk in found
    ]


def pattern_members(pattern: Pattern) -> list[PatternMemberRow]:
    """The pattern's latest members with their vendors, root causes, lessons and action items.

    Four queries whatever the pattern's size: incidents, vendors, factors, items.
    """
    incidents = Incident.objects.prefetch_related(
        Prefetch("incident_vendors", IncidentVendor.objects.select_related("vendor")),
        Prefetch("factors", queryset=Factor.objects.select_related("category")),
        Prefetch("action_items", queryset=ActionItem.objects.order_by("id")),
    )
    members = latest_members(pattern, incidents)
    lessons = rendered_lessons([incident for incident, _ in members])
    return [
        PatternMemberRow(
            incident=incident,
            prior_completed_actions=prior,
            root_causes=[f for f in incident.factors.all() if f.role == FactorRole.ROOT_CAUSE],
            lessons_html=lessons[incident.pk],
        )
        for incident, prior in members
    ]


@dataclass(frozen=True)
class ListedPattern:
    """A pattern as a list shows it: named by its top vendors, the others counted."""

    pattern: Pattern
    top_vendors: list[Vendor]  # the vendors with the most published incidents first

    @property
    def other_vendors(self) -> int:
        return max(self.pattern.vendor_count - len(self.top_vendors), 0)


def top_patterns(
    min_support: int | None = None, limit: int = 20, *, hand_labelled: bool = False
) -> list[ListedPattern]:
    """The best recurring patterns, each family once, with their top vendors (two queries);
    ``hand_labelled``: only those that recur without their auto-classified members."""
    found = Pattern.objects.recurring(min_support)
    if hand_labelled:
        found = found.hand_labelled(min_support)
    families = found.families().listed()
    return with_top_vendors(list(families[:limit]))


def variants_of(pattern: Pattern) -> QuerySet[Pattern]:
    """A family head's variants, the most overlapping first: what a list of titles needs."""
    return pattern.variants.order_by("-overlap", "-score", "key").only(
        "id", "key", "title", "support", "overlap", "variant_of"
    )


def with_top_vendors(patterns: list[Pattern]) -> list[ListedPattern]:
    """The patterns with their top vendors' names: one query for all of them."""
    slugs = {slug for pattern in patterns for slug in pattern.top_vendors}
    vendors = Vendor.objects.only("slug", "name").in_bulk(slugs, field_name="slug")
    # A vendor deleted since the last refresh is left out; it is still counted.
    return [
        ListedPattern(pattern, [vendors[s] for s in pattern.top_vendors if s in vendors])
        for pattern in patterns
    ]


def emerging_patterns(limit: int = 10) -> QuerySet[Pattern]:
    """Combinations below the minimum support, the nearest to it first, then the best: only
    what a list of titles needs."""
    # Support leads the order so the index by support finds them (nulls last, as that index
    # has it; support is never null). In score order alone PostgreSQL walks the score index
    # from the top, where the recurring patterns are, through nearly all of them.
    by_support = F("support").desc(nulls_last=True)
    emerging = Pattern.objects.emerging().families()
    return emerging.order_by(by_support, "-score", "key").only("id", "title")[:limit]
