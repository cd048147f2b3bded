"""Which recurring patterns gained members in a period, for every period of a run at once.

A pattern gains a member when an incident whose attributes contain the pattern's is
published. The incidents published since the earliest period began are read once, as the
last refresh saw them (``IncidentProfile``), the view the patterns' supports count; each
attribute set is spelt out as pattern keys once, and each key keeps its members'
publication times, sorted. A period's new members of a pattern are then two bisections.
"""

from __future__ import annotations

import html
from bisect import bisect_left
from datetime import datetime

from django.db.models import BooleanField
from django.db.models.expressions import RawSQL
from django.utils.safestring import SafeString

from digests.content.entries import PeriodPattern
from digests.content.weeks import MARGIN, Epoch
from digests.schedule import DigestPeriod
from patterns.models import IncidentProfile, Pattern, combination_keys
from postmortems.choices import ReviewStatus

# Read for every pattern a run may list, so left out: only a pattern's own page shows them.
UNUSED_COLUMNS = ("latest_members", "latest_prior_actions", "quarter_completed_actions")


class PatternGrowth:
    """Publication times of the members of the patterns published since ``since``."""

    def __init__(self) -> None:
        self.since: datetime | None = None
        self.stamps: dict[str, list[float]] = {}  # pattern key: its members', sorted
        self.patterns: list[Pattern] = []  # recurring ones among those keys, as listed
        self.members: list[tuple[Pattern, list[float]]] = []  # each with its stamps
        self.by_vendor: dict[str, list[int]] | None = None  # slug: ids of its patterns
        self.vendor_sets: dict[str, frozenset[int]] = {}

    def changed(self, period: DigestPeriod) -> list[PeriodPattern]:
        """Recurring patterns that gained members in the period, with their counts."""
        self.cover(period.start)
        start, end = period.start.timestamp(), period.end.timestamp()
        changed = []
        for pattern, stamps in self.members:
            if stamps[-1] < start:
                continue  # nothing new since the period began
            first = bisect_left(stamps, start)
            if new := bisect_left(stamps, end, first) - first:
                # The support before the period is the support minus every member published
                # since it began, including those after its end.
                earlier = pattern.support - (len(stamps) - first)
                changed.append(PeriodPattern(pattern, earlier, new))
        return changed

    def with_vendors(self, slugs: tuple[str, ...]) -> set[int]:
        """Ids of the patterns held that name any of the vendors."""
        return set().union(*map(self.of_vendor, slugs))

    def of_vendor(self, slug: str) -> frozenset[int]:
        if self.by_vendor is None:
            # One pass over every pattern's vendors, then a set per vendor asked for:
            # scanning thousands of patterns' lists of up to thousands of slugs for each
            # reader would cost tens of milliseconds.
            self.by_vendor = {}
            for pattern in self.patterns:
                for vendor in pattern.vendors:
                    self.by_vendor.setdefault(vendor, []).append(pattern.pk)
        if slug not in self.vendor_sets:
            self.vendor_sets[slug] = frozenset(self.by_vendor.get(slug, ()))
        return self.vendor_sets[slug]

    def cover(self, since: datetime) -> None:
        """Read the members published since ``since`` that are not held yet."""
        if self.since is not None and since >= self.since:
            return
        until, self.since = self.since, since - MARGIN
        keys_before = len(self.stamps)
        for attributes, stamps in published_profiles(self.since, until).items():
            for key in combination_keys(list(attributes)):
                self.stamps.setdefault(key, []).extend(stamps)
        for stamps in self.stamps.values():
            stamps.sort()
        if len(self.stamps) != keys_before:
            self.patterns = recurring_patterns(list(self.stamps))
            self.members = [(pattern, self.stamps[pattern.key]) for pattern in self.patterns]
            self.by_vendor, self.vendor_sets = None, {}


def published_profiles(since: datetime, until: datetime | None) -> dict[tuple, list[float]]:
    """``{attributes: publication times}`` of the incidents published in the span."""
    published = IncidentProfile.objects.filter(
        incident__status=ReviewStatus.PUBLISHED, incident__published_at__gte=since
    )
    if until is not None:
        published = published.filter(incident__published_at__lt=until)
    rows = published.values_list("attributes", Epoch("incident__published_at"))
    # Incidents share a few thousand attribute sets: each set is spelt out as keys once.
    sets: dict[tuple, list[float]] = {}
    for attributes, stamp in rows:
        sets.setdefault(tuple(attributes), []).append(stamp)
    return sets


def recurring_patterns(keys: list[str]) -> list[Pattern]:
    """The recurring patterns among ``keys``, each family once (by its head), in the order a
    digest lists them."""
    # One array parameter rather than an IN list of thousands of placeholders.
    in_keys = RawSQL(f'"{Pattern._meta.db_table}"."key" = ANY(%s)', [keys], BooleanField())
    rows = Pattern.objects.recurring().families().filter(in_keys).defer(*UNUSED_COLUMNS)
    patterns = list(rows.order_by("-score", "key"))
    share_vendor_slugs(patterns)
    return patterns


def share_vendor_slugs(patterns: list[Pattern]) -> None:
    """Make the patterns' vendor lists share one string per slug, marked safe for HTML."""
    # A pattern may name thousands of vendors and a run holds thousands of patterns: one
    # string per slug saves most of their memory. A slug that escaping leaves as it is gets
    # marked safe, so an email joins a pattern's vendors without escaping every one of them
    # again for each reader; the HTML is the same either way.
    slugs = SharedSlugs()
    for pattern in patterns:
        pattern.vendors = [slugs[slug] for slug in pattern.vendors]


class SharedSlugs(dict):
    def __missing__(self, slug: str) -> str:
        self[slug] = SafeString(slug) if html.escape(slug) == slug else slug
        return self[slug]
