"""Read-only figures for the vendor and taxonomy pages, counted by PostgreSQL.

Every function takes the incidents the viewer may see
(``Incident.objects.visible_to(user)``, possibly narrowed further), so drafts
never leak through a count, and counts each outage once among them
(``IncidentQuerySet.counted_once``). Each runs a fixed number of queries, whatever the
number of vendors or incidents, and returns small dataclasses.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import models
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import ExtractYear, Lower

from postmortems.choices import FactorRole
from postmortems.models import ChangeType, Factor, FailureCategory, Incident, Vendor


class VendorSort(models.TextChoices):
    """The orders the vendor list offers (the ``?sort=`` values)."""

    NAME = "name", "Name"
    COUNT = "count", "Most incidents"
    RECENT = "recent", "Latest incident"


VENDOR_ORDER = {
    VendorSort.NAME: (Lower("name"), "id"),
    VendorSort.COUNT: (F("incident_count").desc(), Lower("name"), "id"),
    VendorSort.RECENT: (F("last_started_at").desc(nulls_last=True), Lower("name"), "id"),
}


@dataclass(frozen=True)
class VendorIncidentCount:
    vendor: Vendor
    incident_count: int
    last_started_at: datetime | None


@dataclass(frozen=True)
class YearDowntime:
    year: int
    incident_count: int
    downtime: timedelta
    # 0 to 100, relative to the year with the most downtime: the length of its bar.
    percent_of_longest: float


@dataclass(frozen=True)
class TaxonomyCount:
    entry: ChangeType | FailureCategory
    incident_count: int
    depth: int = 0


@dataclass(frozen=True)
class CategoryGroup:
    """A top-level failure category and every category beneath it, depth first."""

    root: TaxonomyCount
    descendants: list[TaxonomyCount]

    @property
    def rows(self) -> list[TaxonomyCount]:
        return [self.root, *self.descendants]


@dataclass(frozen=True)
class RoleCount:
    role: FactorRole
    label: str
    incident_count: int


def incident_ids(incidents: QuerySet[Incident]) -> QuerySet:
    """The ids of ``incidents`` as a subquery, for counting each outage exactly once."""
    # visible_to() joins the authors and adds DISTINCT for people who are not
    # reviewers; aggregating over that join would count an incident once per
    # author. "id IN (subquery)" keeps one row per incident. An outage recorded twice
    # (an import and the postmortem about it) is counted by one of its records.
    return incidents.counted_once().order_by().values("pk")


# --- Vendors -------------------------------------------------------------------


def vendor_incident_counts(
    incidents: QuerySet[Incident], *, kind: str = "", sort: VendorSort = VendorSort.NAME
) -> list[VendorIncidentCount]:
    """Every vendor (of ``kind``, if given) with its incident count and latest start."""
    visible = Q(incident_links__incident__in=incident_ids(incidents))
    vendors = Vendor.objects.annotate(
        # One link per (incident, vendor), so counting links counts incidents.
        incident_count=Count("incident_links", filter=visible),
        last_started_at=Max("incident_links__incident__started_at", filter=visible),
    )
    if kind:
        vendors = vendors.filter(kind=kind)
    return [
        VendorIncidentCount(v, v.incident_count, v.last_started_at)
        for v in vendors.order_by(*VENDOR_ORDER[VendorSort(sort)])
    ]


def _incidents_of(vendor: Vendor, incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    return Incident.objects.filter(pk__in=incident_ids(incidents), incident_vendors__vendor=vendor)


def vendor_downtime_by_year(vendor: Vendor, incidents: QuerySet[Incident]) -> list[YearDowntime]:
    """Known downtime (resolved_at - started_at) per year of start, in UTC, oldest year first."""
    rows = list(
        _incidents_of(vendor, incidents)
        .filter(started_at__isnull=False, resolved_at__isnull=False)
        # Years in UTC, not the viewer's zone, so everyone sees the same figures.
        .annotate(year=ExtractYear("started_at", tzinfo=UTC))
        .values("year")
        .annotate(downtime=Sum(F("resolved_at") - F("started_at")), incident_count=Count("pk"))
        .order_by("year")
    )
    longest = max((row["downtime"] for row in rows), default=timedelta(0))
    return [
        YearDowntime(
            year=row["year"],
            incident_count=row["incident_count"],
            downtime=row["downtime"],
            percent_of_longest=_percent(row["downtime"], longest),
        )
        for row in rows
    ]


def vendor_unknown_duration_count(vendor: Vendor, incidents: QuerySet[Incident]) -> int:
    """How many of the vendor's incidents lack a start or a resolution time."""
    return (
        _incidents_of(vendor, incidents)
        .filter(Q(started_at__isnull=True) | Q(resolved_at__isnull=True))
        .count()
    )


def _percent(part: timedelta, whole: timedelta) -> float:
    if not whole:
        return 0.0
    return round(100 * part / whole, 1)


# --- Taxonomy ------------------------------------------------------------------


def _change_types_counted(incidents: QuerySet[Incident]) -> QuerySet[ChangeType]:
    return ChangeType.objects.annotate(
        incident_count=Count("incidents", filter=Q(incidents__in=incident_ids(incidents)))
    )


def _categories_counted(incidents: QuerySet[Incident]) -> QuerySet[FailureCategory]:
    # An incident may cite one category in several factors: count incidents, not factors.
    return FailureCategory.objects.annotate(
        incident_count=Count(
            "factors__incident",
            filter=Q(factors__incident__in=incident_ids(incidents)),
            distinct=True,
        )
    )


def _top(entries: QuerySet, limit: int) -> list[TaxonomyCount]:
    ranked = entries.filter(incident_count__gt=0).order_by("-incident_count", "name")[:limit]
    return [TaxonomyCount(entry, entry.incident_count) for entry in ranked]


def top_change_types(incidents: QuerySet[Incident], limit: int = 5) -> list[TaxonomyCount]:
    """The change types that triggered most of ``incidents``, most frequent first."""
    return _top(_change_types_counted(incidents), limit)


def top_categories(incidents: QuerySet[Incident], limit: int = 5) -> list[TaxonomyCount]:
    """The failure categories cited by most of ``incidents``, most frequent first."""
    return _top(_categories_counted(incidents), limit)


def change_type_counts(incidents: QuerySet[Incident]) -> list[TaxonomyCount]:
    """Every change type, by name, with how many of ``incidents`` it triggered."""
    return [
        TaxonomyCount(entry, entry.incident_count)
        for entry in _change_types_counted(incidents).order_by("name")
    ]


def category_counts_by_parent(incidents: QuerySet[Incident]) -> list[CategoryGroup]:
    """Every failure category with its incident count, grouped under its top-level parent."""
    # The parent comes along: sub-category rows name it for screen readers.
    categories = list(_categories_counted(incidents).select_related("parent").order_by("name"))
    children: dict[int | None, list[FailureCategory]] = defaultdict(list)
    for category in categories:
        children[category.parent_id].append(category)
    seen: set[int] = set()

    def subtree(parent: FailureCategory, depth: int) -> list[TaxonomyCount]:
        rows = []
        for child in children[parent.id]:
            if child.id not in seen:  # the admin does not forbid a cycle; never loop on one
                seen.add(child.id)
                rows.append(TaxonomyCount(child, child.incident_count, depth))
                rows.extend(subtree(child, depth + 1))
        return rows

    groups = []
    # Roots first; then anything a cycle cut off from every root, so nothing goes missing.
    for root in children[None] + categories:
        if root.id not in seen:
            seen.add(root.id)
            groups.append(CategoryGroup(TaxonomyCount(root, root.incident_count), subtree(root, 1)))
    return groups


def category_role_counts(
    category: FailureCategory, incidents: QuerySet[Incident]
) -> list[RoleCount]:
    """How many of ``incidents`` cite ``category`` as each factor role."""
    counts = Factor.objects.filter(
        category=category, incident__in=incident_ids(incidents)
    ).aggregate(
        **{role.value: Count("incident", filter=Q(role=role), distinct=True) for role in FactorRole}
    )
    return [RoleCount(role, role.label, counts[role.value]) for role in FactorRole]
