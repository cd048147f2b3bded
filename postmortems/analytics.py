"""Read-only figures for the vendor and taxonomy pages.

Every function takes the viewer's ``tallies.Counting``: a figure is the published count
taken ahead of time plus a live count over what this viewer may see besides, so drafts
never leak through a count and no request counts the whole knowledge base. Each outage is
counted once (``IncidentQuerySet.counted_once``). Each function runs a fixed number of
queries, whatever the number of vendors or incidents, and returns small dataclasses.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import models
from django.db.models import Count, F, Max, Q, QuerySet, Sum
from django.db.models.functions import ExtractYear, Lower

from postmortems.choices import FactorRole, VendorKind
from postmortems.models import (
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    LabelTally,
    Vendor,
    VendorTally,
    VendorYearTally,
)
from postmortems.tallies import Counting


class VendorSort(models.TextChoices):
    """The orders the vendor list offers (the ``?sort=`` values)."""

    NAME = "name", "Name"
    COUNT = "count", "Most incidents"
    RECENT = "recent", "Latest incident"


@dataclass(frozen=True)
class VendorRow:
    """What the vendor list shows of a vendor."""

    id: int
    name: str
    slug: str
    kind: str

    def get_kind_display(self) -> str:
        return VendorKind(self.kind).label if self.kind in VendorKind.values else self.kind


@dataclass(frozen=True)
class VendorIncidentCount:
    vendor: VendorRow
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


def ids_of(incidents: QuerySet[Incident]) -> QuerySet:
    # "id IN (subquery)": one row per incident, whatever joins the queryset holds.
    return incidents.order_by().values("pk")


# --- Vendors -------------------------------------------------------------------


def vendor_incident_counts(
    counting: Counting, *, kind: str = "", sort: VendorSort = VendorSort.NAME
) -> list[VendorIncidentCount]:
    """Every vendor (of ``kind``, if given) with its incident count and latest start."""
    tallied, extra = counting.tallied, counting.live_outages()
    counts: Counter[int] = Counter()
    last: dict[int, datetime | None] = {}
    if tallied:
        for vendor_id, n, started in VendorTally.objects.values_list(
            "vendor_id", "incidents", "last_started_at"
        ):
            counts[vendor_id], last[vendor_id] = n, started
    live = (
        IncidentVendor.objects.filter(incident__in=ids_of(extra))
        .values("vendor_id")
        .annotate(n=Count("id"), started=Max("incident__started_at"))
    )
    for row in counting.read("vendors", lambda: list(live)):
        counts[row["vendor_id"]] += row["n"]
        last[row["vendor_id"]] = _latest(last.get(row["vendor_id"]), row["started"])
    # Plain values, not model instances: every vendor is counted and sorted, a page shown.
    vendors = Vendor.objects.order_by(Lower("name"), "id")
    if kind:
        vendors = vendors.filter(kind=kind)
    rows = [
        VendorIncidentCount(VendorRow(*v), counts[v[0]], last.get(v[0]))
        for v in vendors.values_list("id", "name", "slug", "kind")
    ]
    # Stable sorts over the name order: ties stay alphabetical, as PostgreSQL collates.
    if sort == VendorSort.COUNT:
        rows.sort(key=lambda r: -r.incident_count)
    elif sort == VendorSort.RECENT:
        rows.sort(key=lambda r: -r.last_started_at.timestamp() if r.last_started_at else 0)
        rows.sort(key=lambda r: r.last_started_at is None)
    return rows


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return max((d for d in (a, b) if d is not None), default=None)


def _of_vendor(vendor: Vendor, incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    return Incident.objects.filter(pk__in=ids_of(incidents), incident_vendors__vendor=vendor)


def vendor_downtime_by_year(vendor: Vendor, counting: Counting) -> list[YearDowntime]:
    """Known downtime (resolved_at - started_at) per year of start, in UTC, oldest year first."""
    tallied, extra = counting.tallied, counting.live_outages()
    years: dict[int, list] = defaultdict(lambda: [0, timedelta(0)])
    if tallied:
        for row in VendorYearTally.objects.filter(vendor=vendor).values(
            "year", "incidents", "downtime"
        ):
            years[row["year"]][0] += row["incidents"]
            years[row["year"]][1] += row["downtime"]
    live = (
        _of_vendor(vendor, extra)
        .filter(started_at__isnull=False, resolved_at__isnull=False)
        # Years in UTC, not the viewer's zone, so everyone sees the same figures.
        .annotate(year=ExtractYear("started_at", tzinfo=UTC))
        .values("year")
        .annotate(downtime=Sum(F("resolved_at") - F("started_at")), n=Count("pk"))
    )
    for row in counting.read(f"downtime:{vendor.pk}", lambda: list(live)):
        years[row["year"]][0] += row["n"]
        years[row["year"]][1] += row["downtime"]
    longest = max((downtime for _, downtime in years.values()), default=timedelta(0))
    return [
        YearDowntime(
            year=year,
            incident_count=n,
            downtime=downtime,
            percent_of_longest=_percent(downtime, longest),
        )
        for year, (n, downtime) in sorted(years.items())
    ]


def vendor_unknown_duration_count(vendor: Vendor, counting: Counting) -> int:
    """How many of the vendor's incidents lack a start or a resolution time."""
    tallied, extra = counting.tallied, counting.live_outages()
    counted = 0
    if tallied:
        row = VendorTally.objects.filter(vendor=vendor).values_list("unknown_duration").first()
        counted = row[0] if row else 0
    live = _of_vendor(vendor, extra).filter(
        Q(started_at__isnull=True) | Q(resolved_at__isnull=True)
    )
    return counted + counting.read(f"unknown:{vendor.pk}", live.count)


def vendor_incident_total(vendor: Vendor, counting: Counting) -> int:
    """How many incidents of the vendor the viewer may see, every record (the list's rows)."""
    counted = 0
    if counting.tallied:
        row = VendorTally.objects.filter(vendor=vendor).values_list("records").first()
        counted = row[0] if row else 0
    extra = counting.live_rows()
    live = IncidentVendor.objects.filter(vendor=vendor, incident__in=ids_of(extra))
    return counted + counting.read(f"total:vendor:{vendor.pk}", live.count)


def label_incident_total(
    counting: Counting,
    *,
    change_type: ChangeType | None = None,
    category: FailureCategory | None = None,
) -> int:
    """How many incidents the viewer may see with this change type or citing this category,
    every record (the list's rows)."""
    label = {"change_type": change_type} if change_type else {"category": category}
    counted = 0
    if counting.tallied:
        row = LabelTally.objects.filter(vendor=None, **label).values_list("records").first()
        counted = row[0] if row else 0
    extra = counting.live_rows()
    if change_type is not None:
        live = extra.filter(change_types=change_type)
    else:
        live = extra.filter(pk__in=Factor.objects.filter(category=category).values("incident"))
    key = f"total:{'change-type' if change_type else 'category'}:{(change_type or category).pk}"
    return counted + counting.read(key, live.count)


def _percent(part: timedelta, whole: timedelta) -> float:
    if not whole:
        return 0.0
    return round(100 * part / whole, 1)


# --- Taxonomy ------------------------------------------------------------------


def _label_counts(counting: Counting, field: str, vendor: Vendor | None = None) -> Counter[int]:
    """Incidents per change type (``field="change_type"``) or per cited failure category
    (``"category"``), among one vendor's or everyone's."""
    tallied, extra = counting.tallied, counting.live_outages()
    counts: Counter[int] = Counter()
    if tallied:
        rows = LabelTally.objects.filter(vendor=vendor, **{f"{field}__isnull": False})
        counts.update(dict(rows.values_list(f"{field}_id", "incidents")))
    if vendor is not None:
        extra = _of_vendor(vendor, extra)
    if field == "change_type":
        links = Incident.change_types.through.objects.filter(incident__in=ids_of(extra))
        live = links.values_list("changetype_id").annotate(n=Count("incident_id"))
    else:
        # An incident may cite one category in several factors: count incidents.
        factors = Factor.objects.filter(incident__in=ids_of(extra))
        live = factors.values_list("category_id").annotate(n=Count("incident_id", distinct=True))
    key = f"labels:{field}:{vendor.pk if vendor else ''}"
    counts.update(counting.read(key, lambda: dict(live)))
    return counts


def _top(model, counts: Counter[int], limit: int) -> list[TaxonomyCount]:
    entries = model.objects.in_bulk([pk for pk, n in counts.items() if n > 0])
    ranked = sorted(entries.values(), key=lambda e: (-counts[e.pk], e.name))[:limit]
    return [TaxonomyCount(entry, counts[entry.pk]) for entry in ranked]


def top_change_types(vendor: Vendor, counting: Counting, limit: int = 5) -> list[TaxonomyCount]:
    """The change types that triggered most of the vendor's incidents, most frequent first."""
    return _top(ChangeType, _label_counts(counting, "change_type", vendor), limit)


def top_categories(vendor: Vendor, counting: Counting, limit: int = 5) -> list[TaxonomyCount]:
    """The failure categories cited by most of the vendor's incidents, most frequent first."""
    return _top(FailureCategory, _label_counts(counting, "category", vendor), limit)


def change_type_counts(counting: Counting) -> list[TaxonomyCount]:
    """Every change type, by name, with how many incidents it triggered."""
    counts = _label_counts(counting, "change_type")
    return [TaxonomyCount(e, counts[e.pk]) for e in ChangeType.objects.order_by("name")]


def category_counts_by_parent(counting: Counting) -> list[CategoryGroup]:
    """Every failure category with its incident count, grouped under its top-level parent."""
    counts = _label_counts(counting, "category")
    # The parent comes along: sub-category rows name it for screen readers.
    categories = list(FailureCategory.objects.select_related("parent").order_by("name"))
    for category in categories:
        category.incident_count = counts[category.pk]
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


def category_role_counts(category: FailureCategory, counting: Counting) -> list[RoleCount]:
    """How many incidents cite ``category`` as each factor role."""
    tallied, extra = counting.tallied, counting.live_outages()
    counts = {role.value: 0 for role in FactorRole}
    if tallied:
        row = LabelTally.objects.filter(vendor=None, category=category).values(*counts).first()
        counts.update(row or {})
    factors = Factor.objects.filter(category=category, incident__in=ids_of(extra))
    live = counting.read(
        f"roles:{category.pk}",
        lambda: factors.aggregate(
            **{
                role.value: Count("incident", filter=Q(role=role), distinct=True)
                for role in FactorRole
            }
        ),
    )
    return [
        RoleCount(role, role.label, counts[role.value] + live[role.value]) for role in FactorRole
    ]
