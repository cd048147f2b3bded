"""Published incidents and completed action items over a span of weeks, read once per run.

A sending run builds digests for periods that end at different moments (each subscriber's
zone, weekday and hour), and each digest also looks at the twelve weeks before its period.
``IncidentWindow`` reads the published incidents and completed items of a span covering
them all once, as plain numbers sorted by time; ``Weeks`` slices one period's thirteen
weeks out of it with bisections, and every subscriber's filters are answered from those
with set operations on incident ids.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import compress, islice
from math import fsum
from operator import neg

from django.db.models import (
    BooleanField,
    FloatField,
    Func,
    Model,
    Q,
    QuerySet,
)
from django.db.models.expressions import RawSQL

from digests.content.entries import SEVERITY_ORDER
from digests.content.filters import DigestFilters
from digests.schedule import DigestPeriod
from postmortems.choices import ActionItemStatus, ReviewStatus
from postmortems.models import ActionItem, Factor, Incident, IncidentVendor

# A run's periods end within a week of each other (each subscriber's latest send time), so
# the first read reaches this far beyond the first period's weeks on either side; a period
# outside it costs a read of the part that is missing, not of its thirteen weeks.
MARGIN = timedelta(days=8)
SEVERITY_RANK = {severity.value: rank for rank, severity in enumerate(SEVERITY_ORDER)}


class Epoch(Func):
    """A moment as seconds since 1970, exact to the microsecond in a float8."""

    # Loading 100,000 floats costs a fraction of parsing as many aware datetimes.
    template = "date_part('epoch', %(expressions)s)"
    output_field = FloatField()


class Timeline:
    """Rows ``(stamp, id, …)`` held as columns sorted by stamp, sliced by time with bisections."""

    def __init__(self, width: int) -> None:
        self.rows: list[tuple] = []
        self.columns: list[list] = [[] for _ in range(width)]
        self.ordered = True

    def add(self, rows: Iterable[tuple]) -> None:
        self.rows.extend(rows)
        self.ordered = False

    def between(self, start: float, end: float) -> Part:
        """The rows stamped at or after ``start`` and before ``end``."""
        if not self.ordered:
            self.rows.sort()  # ids break ties, so the order never depends on the reads
            # New lists, not changed ones: parts taken before stay as they were.
            columns = zip(*self.rows, strict=True)
            self.columns = [list(column) for column in columns] or self.columns
            self.ordered = True
        stamps = self.columns[0]
        return Part(self.columns, bisect_left(stamps, start), bisect_left(stamps, end))


@dataclass(frozen=True, slots=True)
class Part:
    """Consecutive rows of a timeline's columns, copied out only while they are read."""

    # A run keeps every period's thirteen weeks: as positions they cost nothing, as sets
    # of ids they held most of a worker's memory at a million incidents.
    columns: list[list]
    first: int
    last: int

    def __len__(self) -> int:
        return self.last - self.first

    def column(self, n: int) -> list:
        # A slice is copied in C, and the loops over it then run in C too (map, sum).
        return self.columns[n][self.first : self.last]


class IncidentWindow:
    """Published incidents and completed action items of a span of time, held in memory.

    The span grows to cover each period it is asked for; only the part not read yet is
    read. At a million incidents a run's span (some fifteen weeks) holds about 40,000
    incidents and 20,000 completed items: a second or so to read once, which reading each
    period's weeks would cost again for each of a run's hundred-odd periods. Vendor and
    category links are read only once some subscriber filters by them.
    """

    def __init__(self) -> None:
        self.start: datetime | None = None
        self.end: datetime | None = None
        self.published = Timeline(2)  # (published, id)
        self.started = Timeline(3)  # (started, id, downtime seconds)
        self.completed = Timeline(3)  # (completed, item id, incident id)
        self.loaded: set[int] = set()  # incidents read, each once whichever span found it
        self.severity: dict[int, str] = {}  # those and the incidents of the items
        self.by_severity: dict[str, set[int]] = {}
        self.loads = 0
        self.links: dict[str, tuple[dict[int, set[int]], set[int], int]] = {}
        self.matches: dict[DigestFilters, set[int] | None] = {}

    def cover(self, start: datetime, end: datetime) -> None:
        """Read what is missing for the span from ``start`` to ``end``."""
        if self.start is None or self.end is None:
            self.start, self.end = start - MARGIN, end + MARGIN
            self.load(self.start, self.end)
            return
        if start < self.start:
            self.load(start - MARGIN, self.start)
            self.start = start - MARGIN
        if end > self.end:
            self.load(self.end, end + MARGIN)
            self.end = end + MARGIN

    def load(self, start: datetime, end: datetime) -> None:
        self._load_incidents(start, end)
        self._load_items(start, end)
        self.loads += 1
        self.matches.clear()  # the new incidents may match too

    def _load_incidents(self, start: datetime, end: datetime) -> None:
        # Published or started in the span (both columns are indexed). Each outage once:
        # among all published incidents, before the span narrows them (counted_once).
        published = Q(published_at__gte=start, published_at__lt=end)
        started = Q(started_at__gte=start, started_at__lt=end)
        moments = epochs("published_at", "started_at", "resolved_at")
        rows = (
            Incident.objects.published()
            .counted_once()
            .filter(published | started)
            .order_by()
            .values_list("id", "severity", "duration_unknown", *moments)
        )
        new_published, new_started = [], []
        for pk, severity, unknown, published_at, started_at, resolved_at in rows:
            if pk in self.loaded:  # its moments are held already
                continue
            self.loaded.add(pk)
            self._hold(pk, severity)
            if published_at is not None:
                new_published.append((published_at, pk))
            if started_at is not None:
                # An outage whose end is unknown or still to come adds nothing to downtime.
                known = resolved_at is not None and not unknown
                new_started.append((started_at, pk, resolved_at - started_at if known else 0.0))
        self.published.add(new_published)
        self.started.add(new_started)

    def _load_items(self, start: datetime, end: datetime) -> None:
        rows = (
            ActionItem.objects.filter(
                status=ActionItemStatus.DONE,
                completed_at__gte=start,
                completed_at__lt=end,
                incident__status=ReviewStatus.PUBLISHED,
            )
            .order_by()
            .values_list("id", "incident_id", "incident__severity", Epoch("completed_at"))
        )
        new = []
        for pk, incident_id, severity, completed_at in rows:
            self._hold(incident_id, severity)
            new.append((completed_at, pk, incident_id))
        self.completed.add(new)

    def _hold(self, pk: int, severity: str) -> None:
        self.severity[pk] = severity
        self.by_severity.setdefault(severity, set()).add(pk)

    def grouped(self, model: type[Model], column: str) -> dict[int, set[int]]:
        """``{column value: incident ids}`` of ``model`` for every incident held here."""
        groups, read, loads = self.links.get(column, ({}, set(), -1))
        if loads < self.loads:  # incidents were read since: add the links of the new ones
            missing = self.severity.keys() - read
            for key, pk in linked(model, column, missing):
                groups.setdefault(key, set()).add(pk)
            self.links[column] = (groups, read | missing, self.loads)
        return groups

    def matching(self, filters: DigestFilters) -> set[int] | None:
        """Ids of the incidents that pass the filters; None when there are none to apply."""
        if filters not in self.matches:
            self.matches[filters] = self._matching(filters)
        return self.matches[filters]

    def _matching(self, filters: DigestFilters) -> set[int] | None:
        # As the incident list: any of the vendors, any of the categories (no
        # descendants), at least the severity; the three together.
        chosen = []
        if filters.vendor_ids:
            chosen.append(union(self.grouped(IncidentVendor, "vendor_id"), filters.vendor_ids))
        if filters.category_ids:
            chosen.append(union(self.grouped(Factor, "category_id"), filters.category_ids))
        if filters.severities:
            chosen.append(union(self.by_severity, filters.severities))
        return set.intersection(*chosen) if chosen else None


class Weeks:
    """One period's thirteen weeks (this week first), sliced out of an ``IncidentWindow``."""

    def __init__(self, window: IncidentWindow, weeks: list[DigestPeriod]) -> None:
        window.cover(weeks[-1].start, weeks[0].end)
        spans = [(week.start.timestamp(), week.end.timestamp()) for week in weeks]
        self.window = window
        self.published = [window.published.between(*span) for span in spans]
        self.started = [window.started.between(*span) for span in spans]
        self.completed = [window.completed.between(*span) for span in spans]
        self.postmortem_order = self._postmortem_order(self.published[0])
        self.completed_order = self._completed_order(self.completed[0])

    def _postmortem_order(self, week: Part) -> list[int]:
        """This week's incidents, most severe and then newest first."""
        stamps, ids = week.column(0), week.column(1)
        ranks = [SEVERITY_RANK[self.window.severity[pk]] for pk in ids]
        order = sorted(zip(ranks, map(neg, stamps), map(neg, ids), strict=True))
        return [-pk for _, _, pk in order]

    def _completed_order(self, week: Part) -> list[tuple[int, int]]:
        """This week's (item, incident) pairs, latest first."""
        rows = zip(map(neg, week.column(0)), week.column(1), week.column(2), strict=True)
        return [(pk, incident_id) for _, pk, incident_id in sorted(rows)]

    def matching(self, filters: DigestFilters) -> set[int] | None:
        return self.window.matching(filters)

    def incident_counts(self, matching: set[int] | None) -> dict[str, list]:
        """Published, started and downtime (seconds) per week, this week first."""
        # map(), sum() and compress() keep the loops over tens of thousands of ids in C;
        # fsum is exact, so every reader gets the same figure whatever the ids' order.
        if matching is None:
            published = [len(week) for week in self.published]
            started = [len(week) for week in self.started]
            downtime = [fsum(week.column(2)) for week in self.started]
        else:
            published = [sum(map(matching.__contains__, week.column(1))) for week in self.published]
            chosen = [list(map(matching.__contains__, week.column(1))) for week in self.started]
            started = [sum(flags) for flags in chosen]
            downtime = [
                fsum(compress(week.column(2), flags))
                for week, flags in zip(self.started, chosen, strict=True)
            ]
        return {"published": published, "started": started, "downtime": downtime}

    def completed_counts(self, matching: set[int] | None) -> list[int]:
        if matching is None:
            return [len(week) for week in self.completed]
        return [sum(map(matching.__contains__, week.column(2))) for week in self.completed]

    def postmortem_ids(self, matching: set[int] | None, limit: int) -> list[int]:
        ids = (pk for pk in self.postmortem_order if matching is None or pk in matching)
        return list(islice(ids, limit))

    def completed_ids(self, matching: set[int] | None, limit: int) -> list[int]:
        pairs = self.completed_order
        ids = (pk for pk, incident in pairs if matching is None or incident in matching)
        return list(islice(ids, limit))


def epochs(*columns: str) -> list[Epoch]:
    return [Epoch(column) for column in columns]


def linked(model: type[Model], column: str, ids: Iterable[int]) -> QuerySet:
    """``(column, incident id)`` of ``model`` for the given incidents."""
    # One array parameter: PostgreSQL probes the incident_id index once per id. An IN
    # list of 40,000 placeholders, or a semi-join on the weeks again, costs 3-5 times more.
    in_ids = RawSQL("incident_id = ANY(%s)", [list(ids)], BooleanField())
    return model.objects.filter(in_ids).order_by().values_list(column, "incident_id")


def union(index: dict, keys: Iterable) -> set[int]:
    return set().union(*(index.get(key, ()) for key in keys))
