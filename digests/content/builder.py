"""Build one subscriber's digest from what a sending run shares (``DigestCache``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TypeVar

from digests.content.entries import (
    MAX_COMPLETED_ITEMS,
    MAX_POSTMORTEMS,
    TRAILING_WEEKS,
    ActionItemEntry,
    Digest,
    PeriodPattern,
    PostmortemEntry,
)
from digests.content.filters import DigestFilters
from digests.content.growth import PatternGrowth
from digests.content.sections import (
    completed_entries,
    matching_patterns,
    overdue_items,
    postmortem_entries,
    rising_categories,
    week_numbers,
)
from digests.content.weeks import IncidentWindow, Weeks
from digests.models import DigestSubscription
from digests.schedule import DigestPeriod
from patterns.snapshot import latest_snapshot

Entry = TypeVar("Entry")


class DigestCache:
    """Memo for one sending run: what its digests share, read once and sliced per reader.

    The incidents of every period's weeks and the patterns' new members are read once for
    the whole run; each period's weeks, each filter set's digest for a period, and each
    postmortem's or completed item's entry are kept as they are first built.
    """

    def __init__(self) -> None:
        self.window = IncidentWindow()
        self.growth = PatternGrowth()
        self.weeks: dict[tuple, Weeks] = {}
        self.patterns: dict[tuple[datetime, datetime], list[PeriodPattern]] = {}
        self.shared: dict[tuple, Digest] = {}  # without the reader's own part
        self.postmortems: dict[int, PostmortemEntry | None] = {}
        self.items: dict[int, ActionItemEntry | None] = {}
        self.rising: list[dict] | None = None

    def weeks_of(self, weeks: list[DigestPeriod]) -> Weeks:
        key = bounds(weeks)
        if key not in self.weeks:
            self.weeks[key] = Weeks(self.window, weeks)
        return self.weeks[key]

    def period_patterns(self, period: DigestPeriod) -> list[PeriodPattern]:
        key = (period.start, period.end)
        if key not in self.patterns:
            self.patterns[key] = self.growth.changed(period)
        return self.patterns[key]

    def postmortem_entries(self, ids: list[int]) -> list[PostmortemEntry]:
        return entries(self.postmortems, ids, postmortem_entries)

    def completed_entries(self, ids: list[int]) -> list[ActionItemEntry]:
        return entries(self.items, ids, completed_entries)

    def rising_categories(self) -> list[dict]:
        if self.rising is None:
            snapshot = latest_snapshot() or {}
            self.rising = [r for r in snapshot.get("rising", []) if r["kind"] == "category"]
        return self.rising


def entries(known: dict[int, Entry | None], ids: list[int], read: Callable) -> list[Entry]:
    """The entries of ``ids`` in their order, reading only those not known yet."""
    if missing := [pk for pk in ids if pk not in known]:
        found = read(missing)
        # One may have been unpublished or deleted since the window was read.
        known.update({pk: found.get(pk) for pk in missing})
    return [entry for pk in ids if (entry := known[pk]) is not None]


def build_digest(
    subscription: DigestSubscription, period: DigestPeriod, *, cache: DigestCache | None = None
) -> Digest:
    """One subscriber's digest for ``period``: the shared part plus their overdue items."""
    cache = cache or DigestCache()
    filters = DigestFilters.of(subscription)
    weeks = [period, *(period.previous(n) for n in range(1, TRAILING_WEEKS + 1))]
    key = (filters, bounds(weeks))
    if key not in cache.shared:
        cache.shared[key] = shared_part(filters, weeks, cache)
    # The shared lists are not copied: digests are read, never changed. The period is
    # the reader's own, since another zone may share its hours but not its dates.
    return replace(
        cache.shared[key],
        period=period,
        overdue_items=overdue_items(subscription, period),
        subscription=subscription,
    )


def bounds(weeks: list[DigestPeriod]) -> tuple:
    # The weeks themselves, not the period: two zones can share a period's hours and
    # still differ in earlier weeks when their daylight-saving changes fall apart.
    return tuple((week.start, week.end) for week in weeks)


def shared_part(filters: DigestFilters, weeks: list[DigestPeriod], cache: DigestCache) -> Digest:
    """The digest as everyone with these filters gets it, before their own items."""
    index = cache.weeks_of(weeks)
    matching = index.matching(filters)
    counts = index.incident_counts(matching)
    completed_counts = index.completed_counts(matching)
    postmortems = cache.postmortem_entries(index.postmortem_ids(matching, MAX_POSTMORTEMS))
    completed = cache.completed_entries(index.completed_ids(matching, MAX_COMPLETED_ITEMS))
    changed = cache.period_patterns(weeks[0])
    with_vendors = cache.growth.with_vendors(filters.vendor_slugs) if filters.vendor_slugs else None
    new, grown, more = matching_patterns(changed, filters, with_vendors)
    return Digest(
        period=weeks[0],
        postmortems=postmortems,
        more_postmortems=max(counts["published"][0] - len(postmortems), 0),
        more_url=filters.list_url(),
        new_patterns=new,
        grown_patterns=grown,
        more_patterns=more,
        rising=rising_categories(cache.rising_categories(), filters),
        completed_items=completed,
        more_completed_items=max(completed_counts[0] - len(completed), 0),
        numbers=week_numbers(counts, completed_counts),
        overdue_items=[],
    )
