"""Facet counts for the incident list: how the current results split by each filter."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from postmortems.choices import ReviewStatus, Severity
from postmortems.models import Factor, Incident, IncidentVendor

TOP = 12


@dataclass(frozen=True)
class FacetValue:
    value: str
    label: str
    count: int


@dataclass
class Facets:
    total: int
    severity: list[FacetValue]
    status: list[FacetValue]
    vendor: list[FacetValue]
    change_type: list[FacetValue]
    category: list[FacetValue]


def incident_facets(results: QuerySet) -> Facets:
    """Counts over ``results`` (a filtered incident queryset) in six queries."""
    ids = results.order_by().values("id")
    return Facets(
        total=results.order_by().count(),
        severity=_choice_counts(ids, "severity", Severity),
        status=_choice_counts(ids, "status", ReviewStatus),
        vendor=_related_counts(
            IncidentVendor.objects.filter(incident__in=ids), "vendor__slug", "vendor__name"
        ),
        change_type=_related_counts(
            Incident.change_types.through.objects.filter(incident__in=ids),
            "changetype__slug",
            "changetype__name",
        ),
        category=_related_counts(
            Factor.objects.filter(incident__in=ids), "category__slug", "category__name"
        ),
    )


def _choice_counts(ids: QuerySet, field: str, choices) -> list[FacetValue]:
    counts = dict(
        Incident.objects.filter(id__in=ids)
        .values_list(field)
        .annotate(n=Count("id"))
        .values_list(field, "n")
    )
    return [FacetValue(c.value, c.label, counts[c.value]) for c in choices if counts.get(c.value)]


def _related_counts(links: QuerySet, slug: str, name: str) -> list[FacetValue]:
    rows = (
        links.values(slug, name)
        .annotate(n=Count("incident_id", distinct=True))
        .order_by("-n", name)[:TOP]
    )
    return [FacetValue(r[slug], r[name], r["n"]) for r in rows]
