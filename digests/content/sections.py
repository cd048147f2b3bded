"""Each section of a digest, built from rows: postmortems, patterns, items, numbers."""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.html import strip_tags

from digests.content.entries import (
    MAX_PATTERNS,
    ROOT_CAUSE_MAX_CHARS,
    SENTENCE_END,
    TRAILING_WEEKS,
    ActionItemEntry,
    NumberUnit,
    PatternEntry,
    PeriodPattern,
    PostmortemEntry,
    RisingEntry,
    WeekNumber,
    absolute,
    incident_url,
)
from digests.content.filters import DigestFilters
from digests.models import DigestSubscription
from digests.schedule import DigestPeriod
from patterns.charts import format_duration
from postmortems.choices import ActionItemStatus, FactorRole
from postmortems.models import ActionItem, Factor, Incident, IncidentVendor
from postmortems.rendering import render_markdown

# --- New postmortems ---------------------------------------------------------------------------


def postmortem_entries(ids: list[int]) -> dict[int, PostmortemEntry]:
    """The postmortems with their vendors and root causes, by id (three queries)."""
    root_causes = Factor.objects.filter(role=FactorRole.ROOT_CAUSE).select_related("category")
    incidents = Incident.objects.prefetch_related(
        Prefetch("incident_vendors", IncidentVendor.objects.select_related("vendor")),
        Prefetch("factors", root_causes.order_by("position", "id"), to_attr="root_causes"),
    ).in_bulk(ids)
    return {pk: postmortem_entry(incident) for pk, incident in incidents.items()}


def postmortem_entry(incident: Incident) -> PostmortemEntry:
    return PostmortemEntry(
        title=incident.title,
        url=incident_url(incident.slug),
        vendors=[link.vendor.name for link in incident.incident_vendors.all()],
        severity=incident.get_severity_display(),
        duration=duration_text(incident),
        root_cause=headline_root_cause(incident.root_causes),
        published_at=incident.published_at,
    )


def duration_text(incident: Incident) -> str:
    if incident.duration_unknown or incident.started_at is None:
        return "unknown"
    if incident.resolved_at is None:
        return "ongoing"
    return format_duration(incident.duration.total_seconds())


def headline_root_cause(factors: list[Factor]) -> str:
    """``Category: first sentence of the description`` of the first root cause, ≤ 160 chars."""
    if not factors:
        return ""
    factor = factors[0]
    sentence = first_sentence(factor.description)
    text = f"{factor.category.name}: {sentence}" if sentence else factor.category.name
    if len(text) > ROOT_CAUSE_MAX_CHARS:
        text = text[: ROOT_CAUSE_MAX_CHARS - 1].rstrip() + "…"
    return text


def first_sentence(markdown_text: str) -> str:
    """The first sentence of a Markdown text, as plain text on one line."""
    # Rendering first drops Markdown syntax and anything nh3 would not let through.
    plain = html.unescape(strip_tags(render_markdown(markdown_text)))
    plain = " ".join(plain.split())
    return SENTENCE_END.split(plain, maxsplit=1)[0] if plain else ""


# --- Action items ------------------------------------------------------------------------------


def action_item_entry(item: ActionItem) -> ActionItemEntry:
    return ActionItemEntry(
        title=item.title,
        incident_title=item.incident.title,
        url=incident_url(item.incident.slug),
        owner=item.owner.get_username() if item.owner else "",
        due_date=item.due_date,
        completed_at=item.completed_at,
    )


def completed_entries(ids: list[int]) -> dict[int, ActionItemEntry]:
    """The completed action items with their postmortems and owners, by id (one query)."""
    items = ActionItem.objects.select_related("incident", "owner").in_bulk(ids)
    return {pk: action_item_entry(item) for pk, item in items.items()}


def overdue_items(subscription: DigestSubscription, period: DigestPeriod) -> list[ActionItemEntry]:
    """The reader's own open items due before the period ended, on postmortems they may see."""
    if subscription.user_id is None:
        return []
    user = subscription.user
    # Due dates are calendar days: an item due on the day the digest goes out is not late yet.
    last_day = period.end.astimezone(ZoneInfo(period.time_zone)).date()
    items = (
        ActionItem.objects.filter(
            owner=user,
            status__in=[ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS],
            due_date__lt=last_day,
            incident__in=Incident.objects.visible_to(user).values("id"),
        )
        .select_related("incident", "owner")
        .order_by("due_date", "id")
    )
    return [action_item_entry(item) for item in items]


# --- Patterns and rising categories --------------------------------------------------------------


def matching_patterns(
    rows: list[PeriodPattern], filters: DigestFilters, with_vendors: set[int] | None
) -> tuple[list[PatternEntry], list[PatternEntry], int]:
    """New and grown patterns that pass the filters, and how many more beyond the caps.

    ``with_vendors`` holds the ids of the patterns that name any of the filter's vendors
    (a pattern names its vendors by slug), None when there is no vendor filter.
    """
    minimum = settings.PATTERN_MIN_SUPPORT
    # A category in any role, or as the contributing factor a single-attribute pattern is.
    categories = frozenset(
        f"{prefix}{slug}" for slug in filters.category_slugs for prefix in ("cat:", "cf:")
    )
    new, grown = [], []
    for row in rows:
        # Counted from publication times, so a late digest still says what changed then.
        if row.earlier_members + row.new_members < minimum:
            continue  # it became recurring only after the period
        if with_vendors is not None and row.pattern.pk not in with_vendors:
            continue
        # shared_attributes: a category folded in from an equivalent combination counts too.
        if categories and categories.isdisjoint(
            row.pattern.shared_attributes or row.pattern.attributes
        ):
            continue
        (new if row.earlier_members < minimum else grown).append(row)
    grown.sort(key=lambda row: -row.new_members)  # stable: ties keep the score order
    more = max(len(new) - MAX_PATTERNS, 0) + max(len(grown) - MAX_PATTERNS, 0)
    return pattern_entries(new), pattern_entries(grown), more


def pattern_entries(rows: list[PeriodPattern]) -> list[PatternEntry]:
    return [row.entry for row in rows[:MAX_PATTERNS]]


def rising_categories(rows: list[dict], filters: DigestFilters) -> list[RisingEntry]:
    """One entry per rising category, its most surprising window (the snapshot's order)."""
    entries: dict[str, RisingEntry] = {}
    for row in rows:
        if row["slug"] in entries:
            continue
        if filters.category_slugs and row["slug"] not in filters.category_slugs:
            continue
        entries[row["slug"]] = RisingEntry(
            name=row["name"],
            url=absolute(reverse("postmortems:category-detail", args=[row["slug"]])),
            observed=row["observed"],
            baseline=row["expected"],
            window_days=row["window_days"],
        )
    return list(entries.values())


# --- The week in numbers -----------------------------------------------------------------------


def week_numbers(incidents: dict[str, list], completed: list[int]) -> list[WeekNumber]:
    return [
        week_number("Postmortems published", incidents["published"]),
        week_number("Incidents started", incidents["started"]),
        week_number("Downtime", incidents["downtime"], NumberUnit.DURATION),
        week_number("Action items completed", completed),
    ]


def week_number(label: str, values: list, unit: str = NumberUnit.COUNT) -> WeekNumber:
    """``values`` runs from this week back: the average is of the twelve weeks before it."""
    trailing = values[1 : TRAILING_WEEKS + 1]
    return WeekNumber(
        label=label,
        this_week=values[0],
        previous_week=values[1],
        trailing_average=sum(trailing) / len(trailing),
        unit=unit,
    )
