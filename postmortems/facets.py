"""Facet counts for the incident list: how the current results split by each filter.

No request counts a million rows. Unfiltered, the figures are the published counts taken
ahead of time (``postmortems.tallies``) plus a live count of what the viewer may see besides
them. Filtered or searched, they are counted over the matches themselves, but only up to
``CAP``: past it the total reads "more than 1,000" and the facets count the newest ``CAP`` matches,
which the page says.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, F, QuerySet

from postmortems import tallies
from postmortems.choices import ReviewStatus, Severity
from postmortems.models import (
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    LabelTally,
    SeverityTally,
    Vendor,
    VendorTally,
)

TOP = 12
# Past this many matches a filtered list's figures are counted over its newest CAP: finding
# them walks the newest-first index, and 10,000 of a large vendor's took 400 ms.
CAP = 1_000


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
    # More than ``cap`` matches: ``total`` is the cap and the facets count the newest of them.
    capped: bool = False
    cap: int = 0


def incident_facets(
    user, results: QuerySet[Incident], *, filtered: bool, newest: list[int] | None = None
) -> Facets:
    """How ``results`` (what ``user`` may see, narrowed by the list's filters) split;
    ``newest``: the ids of its newest matches, newest first, when already read."""
    return capped_facets(results, newest) if filtered else everything_facets(user)


# --- Everything the viewer may see: counted ahead, plus the few beyond the counts -------------


def everything_facets(user) -> Facets:
    counting = tallies.counting_for(user)
    extra = counting.read("facets", lambda: live_counts(counting.live_rows()))
    if counting.tallied:
        severity = dict(SeverityTally.objects.values_list("severity", "records"))
        extra["severity"].update(severity)
        extra["status"][ReviewStatus.PUBLISHED] += sum(severity.values())
        _add_top(extra, "vendor", VendorTally.objects.all(), "vendor_id")
        _add_top(extra, "change_type", LabelTally.objects.filter(vendor=None), "change_type_id")
        _add_top(extra, "category", LabelTally.objects.filter(vendor=None), "category_id")
    return Facets(
        total=sum(extra["severity"].values()),
        severity=_choices(extra["severity"], Severity),
        status=_choices(extra["status"], ReviewStatus),
        vendor=_named(Vendor, extra["vendor"]),
        change_type=_named(ChangeType, extra["change_type"]),
        category=_named(FailureCategory, extra["category"]),
    )


def live_counts(incidents: QuerySet[Incident]) -> dict[str, Counter]:
    """Every facet's counts over a few incidents, by value (ids for the related ones)."""
    ids = incidents.order_by().values("id")
    rows = Incident.objects.filter(id__in=ids).values_list("severity", "status")
    counts = {name: Counter() for name in ("severity", "status")}
    for severity, status in rows:
        counts["severity"][severity] += 1
        counts["status"][status] += 1
    through = Incident.change_types.through.objects
    related = {
        "vendor": IncidentVendor.objects.filter(incident__in=ids).values_list("vendor_id"),
        "change_type": through.filter(incident__in=ids).values_list("changetype_id"),
        "category": Factor.objects.filter(incident__in=ids).values_list("category_id"),
    }
    for name, links in related.items():
        counts[name] = Counter(dict(links.annotate(n=Count("incident_id", distinct=True))))
    return counts


def _add_top(counts: dict[str, Counter], name: str, tally: QuerySet, column: str) -> None:
    """Add the tally's top values and those the live counts hold: together they hold the
    merged top (a value in neither is beaten by TOP tallied values already)."""
    live = counts[name]
    rows = tally.filter(**{f"{column}__isnull": False})
    top = rows.order_by("-records", column).values_list(column, "records")[:TOP]
    found = dict(top)
    found.update(rows.filter(**{f"{column}__in": list(live)}).values_list(column, "records"))
    live.update(found)


def _choices(counts: Counter, choices) -> list[FacetValue]:
    return [FacetValue(c.value, c.label, counts[c.value]) for c in choices if counts.get(c.value)]


def _named(model, counts: Counter) -> list[FacetValue]:
    rows = model.objects.filter(pk__in=[pk for pk, n in counts.items() if n]).values_list(
        "pk", "slug", "name"
    )
    values = [FacetValue(slug, name, counts[pk]) for pk, slug, name in rows]
    return sorted(values, key=lambda v: (-v.count, v.label))[:TOP]


# --- A filtered list: counted over its newest matches, up to the cap ------------------------

CAPPED = """
WITH sample AS MATERIALIZED (MATCHES),
     m AS (SELECT id FROM sample WHERE n <= %s)
SELECT 'total', NULL, NULL, count(*) FROM sample
UNION ALL
SELECT 'severity', i.severity, NULL, count(*) FROM postmortems_incident i JOIN m USING (id)
GROUP BY i.severity
UNION ALL
SELECT 'status', i.status, NULL, count(*) FROM postmortems_incident i JOIN m USING (id)
GROUP BY i.status
UNION ALL (
  SELECT 'vendor', v.slug, v.name, count(*) FROM postmortems_incidentvendor iv
  JOIN m ON m.id = iv.incident_id JOIN postmortems_vendor v ON v.id = iv.vendor_id
  GROUP BY v.slug, v.name ORDER BY count(*) DESC, v.name LIMIT %s)
UNION ALL (
  SELECT 'change_type', c.slug, c.name, count(*) FROM postmortems_incident_change_types ct
  JOIN m ON m.id = ct.incident_id JOIN postmortems_changetype c ON c.id = ct.changetype_id
  GROUP BY c.slug, c.name ORDER BY count(*) DESC, c.name LIMIT %s)
UNION ALL (
  SELECT 'category', c.slug, c.name, count(DISTINCT f.incident_id) FROM postmortems_factor f
  JOIN m ON m.id = f.incident_id JOIN postmortems_failurecategory c ON c.id = f.category_id
  GROUP BY c.slug, c.name ORDER BY count(DISTINCT f.incident_id) DESC, c.name LIMIT %s)
"""


def capped_facets(results: QuerySet[Incident], newest: list[int] | None = None) -> Facets:
    """Counts over the newest ``CAP`` of ``results``, in one statement; given ``newest``,
    the ids of its newest matches read with a limit over CAP, it does not look again."""
    if newest is not None:
        matches = "SELECT id, n FROM unnest(%s::bigint[]) WITH ORDINALITY AS u(id, n)"
        params = [newest[: CAP + 1]]
    else:
        query = results.order_by(F("started_at").desc(nulls_last=True), "-id").values("id")
        sql, params = query[: CAP + 1].query.sql_with_params()
        # Numbered in the newest-first order they come in; only the count looks past CAP.
        matches = f"SELECT id, row_number() OVER () AS n FROM ({sql}) newest"
    with connection.cursor() as cursor:
        cursor.execute(CAPPED.replace("MATCHES", matches), [*params, CAP, TOP, TOP, TOP])
        rows = cursor.fetchall()
    total = next(n for facet, *_, n in rows if facet == "total")
    by_facet: dict[str, list] = {}
    for facet, value, label, n in rows:
        by_facet.setdefault(facet, []).append((value, label, n))
    choice_counts = {
        facet: Counter({value: n for value, _, n in by_facet.get(facet, [])})
        for facet in ("severity", "status")
    }
    return Facets(
        total=min(total, CAP),
        capped=total > CAP,
        cap=CAP,
        severity=_choices(choice_counts["severity"], Severity),
        status=_choices(choice_counts["status"], ReviewStatus),
        vendor=[FacetValue(*row) for row in by_facet.get("vendor", [])],
        change_type=[FacetValue(*row) for row in by_facet.get("change_type", [])],
        category=[FacetValue(*row) for row in by_facet.get("category", [])],
    )
