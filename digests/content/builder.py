"""Build one subscriber's digest from what a sending run shares (``DigestCache``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from digests.content.entries import (
    MAX_COMPLETED_ITEMS,
    MAX_POSTMORTEMS,
    TRAILING_WEEKS,
    Digest,
    PeriodPattern,
)
from digests.content.filters import DigestFilters
from digests.content.sections import (
    changed_patterns,
    completed_entries,
    matching_patterns,
    overdue_items,
    postmortem_entries,
    rising_categories,
    week_numbers,
)
from digests.content.weeks import WeekIndex
from digests.models import DigestSubscription
from digests.schedule import DigestPeriod
from patterns.snapshot import latest_snapshot


class DigestCache:
    """Memo for one sending run, shared by subscribers with the same filters and period."""

    def __init__(self) -> None:
        self.shared: dict[tuple, Digest] = {}  # without the reader's own part
        self.indexes: dict[tuple, WeekIndex] = {}
        self.patterns: dict[tuple[datetime, datetime], list[PeriodPattern]] = {}
        self.rising: list[dict] | None = None

    def week_index(self, weeks: list[DigestPeriod]) -> WeekIndex:
        key = bounds(weeks)
        if key not in self.indexes:
            self.indexes[key] = WeekIndex(weeks)
        return self.indexes[key]

    def period_patterns(self, period: DigestPeriod) -> list[PeriodPattern]:
        key = (period.start, period.end)
        if key not in self.patterns:
            self.patterns[key] = changed_patterns(period)
        return self.patterns[key]

    def rising_categories(self) -> list[dict]:
        if self.rising is None:
            snapshot = latest_snapshot() or {}
            self.rising = [r for r in snapshot.get("rising", []) if r["kind"] == "category"]
        return self.rising


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
    index = cache.week_index(weeks)
    matching = index.matching(filters)
    counts = index.incident_counts(matching)
    completed_counts = index.completed_counts(matching)
    postmortems = postmortem_entries(index.postmortem_ids(matching, MAX_POSTMORTEMS))
    completed = completed_entries(index.completed_ids(matching, MAX_COMPLETED_ITEMS))
    new, grown, more = matching_patterns(cache.period_patterns(weeks[0]), filters)
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
