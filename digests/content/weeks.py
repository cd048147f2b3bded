"""The thirteen weeks a digest looks at, read once per run and indexed in memory."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from functools import cached_property
from itertools import islice

from django.db.models import (
    BooleanField,
    FloatField,
    Func,
    Model,
    Q,
    QuerySet,
)
from django.db.models.expressions import RawSQL

from digests.content.entries import (
    SEVERITY_ORDER,
)
from digests.content.filters import DigestFilters
from digests.schedule import DigestPeriod
from postmortems.choices import ActionItemStatus, ReviewStatus
from postmortems.models import ActionItem, Factor, Incident, IncidentVendor


class Epoch(Func):
    """A moment as seconds since 1970, exact to the microsecond in a float8."""

    # Loading 100,000 floats costs a fraction of parsing as many aware datetimes.
    template = "date_part('epoch', %(expressions)s)"
    output_field = FloatField()


class WeekIndex:
    """Published incidents and completed action items of thirteen weeks, held in memory.

    Each table's thirteen weeks are read once; every subscriber's filters are then
    answered with set operations on incident ids. At a million incidents the weeks hold
    some 36,000 incidents and 13,000 completed items: reading them again for each
    subscriber's filters costs hundreds of milliseconds, the sets a few. Vendor and
    category links are read only once some subscriber filters by them.
    """

    def __init__(self, weeks: list[DigestPeriod]) -> None:
        self.weeks = weeks  # this week first
        self.starts = [week.start.timestamp() for week in reversed(weeks)]  # ascending
        self.ends = [week.end.timestamp() for week in weeks]
        self.published: list[set[int]] = [set() for _ in weeks]
        self.started: list[dict[int, float]] = [{} for _ in weeks]  # id: downtime seconds
        self.completed: list[list[int]] = [[] for _ in weeks]  # an incident id per item
        self.severity: dict[int, str] = {}  # every incident above, with its severity
        self.postmortem_order = self._load_incidents()
        self.completed_order = self._load_items()

    def week_of(self, stamp: float | None) -> int | None:
        """0 for the period itself, 12 for its oldest week, None outside them."""
        if stamp is None:
            return None
        week = len(self.weeks) - bisect_right(self.starts, stamp)
        return week if week < len(self.weeks) and stamp < self.ends[week] else None

    def incidents(self) -> QuerySet:
        """Published incidents published or started in the weeks (both columns indexed)."""
        first, last = self.weeks[-1].start, self.weeks[0].end
        published = Q(published_at__gte=first, published_at__lt=last)
        started = Q(started_at__gte=first, started_at__lt=last)
        return Incident.objects.published().filter(published | started).order_by()

    def items(self) -> QuerySet:
        first, last = self.weeks[-1].start, self.weeks[0].end
        return ActionItem.objects.filter(
            status=ActionItemStatus.DONE,
            completed_at__gte=first,
            completed_at__lt=last,
            incident__status=ReviewStatus.PUBLISHED,
        ).order_by()

    def _load_incidents(self) -> list[int]:
        """Fill the weekly sets; return this week's ids, most severe and then newest first."""
        times = (Epoch("published_at"), Epoch("started_at"), Epoch("resolved_at"))
        rows = self.incidents().values_list("id", "severity", "duration_unknown", *times)
        this_week = []
        for pk, severity, unknown, published, started, resolved in rows:
            self.severity[pk] = severity
            if (week := self.week_of(published)) is not None:
                self.published[week].add(pk)
                if week == 0:
                    this_week.append((SEVERITY_ORDER.index(severity), -published, -pk))
            if (week := self.week_of(started)) is not None:
                # An outage whose end is unknown or still to come adds nothing to downtime.
                known = resolved is not None and not unknown
                self.started[week][pk] = resolved - started if known else 0.0
        return [-key[2] for key in sorted(this_week)]

    def _load_items(self) -> list[tuple[int, int]]:
        """Fill the weekly lists; return this week's (item, incident) pairs, latest first."""
        fields = ("id", "incident_id", "incident__severity", Epoch("completed_at"))
        this_week = []
        for pk, incident_id, severity, completed in self.items().values_list(*fields):
            self.severity[incident_id] = severity
            if (week := self.week_of(completed)) is not None:
                self.completed[week].append(incident_id)
                if week == 0:
                    this_week.append((-completed, pk, incident_id))
        return [(pk, incident_id) for _, pk, incident_id in sorted(this_week)]

    @cached_property
    def by_vendor(self) -> dict[int, set[int]]:
        return grouped(self.linked(IncidentVendor, "vendor_id"))

    @cached_property
    def by_category(self) -> dict[int, set[int]]:
        return grouped(self.linked(Factor, "category_id"))

    @cached_property
    def by_severity(self) -> dict[str, set[int]]:
        return grouped((severity, pk) for pk, severity in self.severity.items())

    def linked(self, model: type[Model], column: str) -> Iterable[tuple[int, int]]:
        """``(column, incident id)`` of ``model`` for every incident held here."""
        # One array parameter: PostgreSQL probes the incident_id index once per id. An IN
        # list of 40,000 placeholders, or a semi-join on the weeks again, costs 3-5 times more.
        in_weeks = RawSQL("incident_id = ANY(%s)", [list(self.severity)], BooleanField())
        return model.objects.filter(in_weeks).order_by().values_list(column, "incident_id")

    def matching(self, filters: DigestFilters) -> set[int] | None:
        """Ids of the incidents that pass the filters; None when there are none to apply."""
        # As the incident list: any of the vendors, any of the categories (no
        # descendants), at least the severity; the three together.
        chosen = []
        if filters.vendor_ids:
            chosen.append(union(self.by_vendor, filters.vendor_ids))
        if filters.category_ids:
            chosen.append(union(self.by_category, filters.category_ids))
        if filters.severities:
            chosen.append(union(self.by_severity, filters.severities))
        return set.intersection(*chosen) if chosen else None

    def incident_counts(self, matching: set[int] | None) -> dict[str, list]:
        """Published, started and downtime (seconds) per week, this week first."""
        # Set operations and map() keep the loops over tens of thousands of ids in C.
        if matching is None:
            published = [len(ids) for ids in self.published]
            started = [week.keys() for week in self.started]
        else:
            published = [len(ids & matching) for ids in self.published]
            started = [week.keys() & matching for week in self.started]
        downtime = [
            sum(map(week.__getitem__, ids)) for week, ids in zip(self.started, started, strict=True)
        ]
        counts = [len(ids) for ids in started]
        return {"published": published, "started": counts, "downtime": downtime}

    def completed_counts(self, matching: set[int] | None) -> list[int]:
        if matching is None:
            return [len(week) for week in self.completed]
        return [sum(map(matching.__contains__, week)) for week in self.completed]

    def postmortem_ids(self, matching: set[int] | None, limit: int) -> list[int]:
        ids = (pk for pk in self.postmortem_order if matching is None or pk in matching)
        return list(islice(ids, limit))

    def completed_ids(self, matching: set[int] | None, limit: int) -> list[int]:
        pairs = self.completed_order
        ids = (pk for pk, incident in pairs if matching is None or incident in matching)
        return list(islice(ids, limit))


def grouped(pairs: Iterable[tuple]) -> dict:
    """``(key, incident id)`` pairs as ``{key: {incident ids}}``."""
    groups: dict = {}
    for key, pk in pairs:
        groups.setdefault(key, set()).add(pk)
    return groups


def union(index: dict, keys: Iterable) -> set[int]:
    return set().union(*(index.get(key, ()) for key in keys))
