"""The digest's dataclasses: what a reader is shown, section by section."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property

from django.conf import settings
from django.urls import reverse

from digests.models import DigestSubscription
from digests.schedule import DigestPeriod
from patterns.charts import format_duration
from patterns.models import Pattern
from postmortems.choices import Severity

# Lists are capped so that a busy week makes a readable email and a bounded query.
MAX_POSTMORTEMS = 10
MAX_PATTERNS = 10
MAX_COMPLETED_ITEMS = 10
TRAILING_WEEKS = 12
ROOT_CAUSE_MAX_CHARS = 160
# Most severe first: a subscription's minimum keeps a prefix of this list.
SEVERITY_ORDER = [Severity.CRITICAL, Severity.MAJOR, Severity.MINOR, Severity.NONE]
SENTENCE_END = re.compile(r"(?<=[.!?])\s")

# --- The digest ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PostmortemEntry:
    title: str
    url: str
    vendors: list[str]
    severity: str
    duration: str
    root_cause: str
    published_at: datetime | None


@dataclass(frozen=True)
class PatternEntry:
    title: str
    url: str
    support: int
    new_members: int
    vendors: list[str]  # its biggest, as on the dashboard: some patterns span thousands
    more_vendors: int  # the others, counted


@dataclass(frozen=True)
class RisingEntry:
    name: str
    url: str
    observed: int
    baseline: float  # the count expected in the window at the usual rate
    window_days: int


@dataclass(frozen=True)
class ActionItemEntry:
    title: str
    incident_title: str
    url: str
    owner: str
    due_date: date | None
    completed_at: datetime | None


class NumberUnit:
    COUNT = "count"
    DURATION = "duration"  # values are seconds


@dataclass(frozen=True)
class WeekNumber:
    """One row of “the week in numbers”: this week, last week and the 12-week average."""

    label: str
    this_week: float
    previous_week: float
    trailing_average: float
    unit: str = NumberUnit.COUNT

    @property
    def this_week_text(self) -> str:
        return self._format(self.this_week)

    @property
    def previous_week_text(self) -> str:
        return self._format(self.previous_week)

    @property
    def trailing_average_text(self) -> str:
        return self._format(self.trailing_average)

    @property
    def change(self) -> str:
        """``+2 vs last week``, ``-1 h vs last week`` or ``same as last week``."""
        difference = self.this_week - self.previous_week
        if difference == 0:
            return "same as last week"
        sign = "+" if difference > 0 else "-"
        return f"{sign}{self._format(abs(difference))} vs last week"

    def _format(self, value: float) -> str:
        if self.unit == NumberUnit.DURATION:
            return format_duration(value) if value else "0 min"
        return f"{value:.1f}".removesuffix(".0")


@dataclass
class Digest:
    """One reader's weekly digest: what is new for their filters, and what they owe."""

    period: DigestPeriod
    postmortems: list[PostmortemEntry]
    more_postmortems: int
    more_url: str
    new_patterns: list[PatternEntry]
    grown_patterns: list[PatternEntry]
    rising: list[RisingEntry]
    overdue_items: list[ActionItemEntry]
    completed_items: list[ActionItemEntry]
    numbers: list[WeekNumber]
    subscription: DigestSubscription | None = None
    more_patterns: int = 0  # new or grown patterns beyond those listed
    more_completed_items: int = 0

    @property
    def postmortem_count(self) -> int:
        return len(self.postmortems) + self.more_postmortems

    @property
    def pattern_count(self) -> int:
        return len(self.new_patterns) + len(self.grown_patterns) + self.more_patterns

    @property
    def completed_count(self) -> int:
        return len(self.completed_items) + self.more_completed_items

    @property
    def quiet(self) -> bool:
        """Nothing new this week; the reader's overdue items alone do not count."""
        return not (
            self.postmortem_count or self.pattern_count or self.rising or self.completed_count
        )

    @property
    def subject(self) -> str:
        """``3 new postmortems, 1 recurring pattern — week of 16 Nov``."""
        parts = [] if self.quiet else self._news()
        if self.quiet:
            parts.append("Nothing new")
        if self.overdue_items:
            parts.append(plural(len(self.overdue_items), "overdue action item"))
        return f"{', '.join(parts)} — week of {self.period.label}"

    def _news(self) -> list[str]:
        parts = []
        if self.postmortem_count:
            parts.append(plural(self.postmortem_count, "new postmortem"))
        if self.pattern_count:
            parts.append(plural(self.pattern_count, "recurring pattern"))
        if parts:
            return parts
        # Rising categories and completed items lead only when nothing bigger happened.
        if self.rising:
            parts.append(plural(len(self.rising), "rising failure category", "categories"))
        if self.completed_count:
            parts.append(plural(self.completed_count, "action item") + " completed")
        return parts


def plural(count: int, singular: str, plural_last_word: str | None = None) -> str:
    """``1 new postmortem``, ``3 new postmortems``; an irregular last word may be given."""
    if count == 1:
        return f"{count} {singular}"
    if plural_last_word:
        return f"{count} {singular.rsplit(' ', 1)[0]} {plural_last_word}"
    return f"{count} {singular}s"


@dataclass
class PeriodPattern:
    pattern: Pattern
    earlier_members: int
    new_members: int

    @cached_property
    def entry(self) -> PatternEntry:
        """The pattern as listed: made once per period, for every reader it is listed to."""
        return PatternEntry(
            title=self.pattern.title,
            url=absolute(reverse("patterns:pattern-detail", args=[self.pattern.pk])),
            support=self.pattern.support,
            new_members=self.new_members,
            vendors=self.pattern.top_vendors,
            more_vendors=max(0, self.pattern.vendor_count - len(self.pattern.top_vendors)),
        )


def absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def incident_url(slug: str) -> str:
    return absolute(reverse("postmortems:incident-detail", args=[slug]))
