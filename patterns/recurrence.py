"""Vendor recurrence: the same vendor hit again by the same change type or failure category.

For a published incident with a start, each of its vendors and each of its attributes
(change types and factor categories), the previous published incident of that vendor with
that attribute is the latest one before it, ordered by start and then id. When it started
at most ``PATTERN_RECURRENCE_DAYS`` earlier, the pair is a recurrence.

Recurrences are found when a page asks, in one statement, from ``VendorIncident`` (what the
last refresh saw): its key leads with the vendor and the start, so each previous incident
is a short walk back in one index, however many incidents the vendor has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection

from patterns.attributes import CATEGORY_PREFIX, CHANGE_TYPE_PREFIX, CONTRIBUTING_PREFIX
from patterns.models import IncidentProfile, VendorIncident
from postmortems.models import ChangeType, FailureCategory, Incident, IncidentVendor, Vendor


@dataclass(frozen=True)
class Recurrence:
    incident: Incident
    vendor: Vendor
    attribute: str
    attribute_name: str
    previous: Incident
    gap: timedelta


def recurrence_window() -> timedelta:
    return timedelta(days=settings.PATTERN_RECURRENCE_DAYS)


# ``hits`` holds (vendor_id, incident_id, started_at, attributes) rows. Table names come from
# model metadata, never from input; values are parameters.
_SQL = """
WITH hits AS MATERIALIZED ({hits})
SELECT h.incident_id, i.slug, i.title, h.started_at, h.vendor_id, vn.slug, vn.name, a.attr,
       coalesce(t.name, c.name, a.attr), p.incident_id, pi.slug, pi.title, p.started_at
FROM hits h
CROSS JOIN LATERAL unnest(h.attributes) AS a(attr)
-- A contributing factor's category is among the attributes twice (``cat:`` and ``cf:``): once.
CROSS JOIN LATERAL (
    SELECT v.incident_id, v.started_at FROM {vendor_incident} v
    JOIN {profile} vp ON vp.incident_id = v.incident_id
    WHERE v.vendor_id = h.vendor_id
      AND (v.started_at, v.incident_id) < (h.started_at, h.incident_id)
      AND v.started_at >= h.started_at - %(window)s
      AND vp.attributes @> ARRAY[a.attr]::varchar[]
    ORDER BY v.started_at DESC, v.incident_id DESC
    LIMIT 1
) p
JOIN {incident} i ON i.id = h.incident_id
JOIN {incident} pi ON pi.id = p.incident_id
JOIN {vendor} vn ON vn.id = h.vendor_id
LEFT JOIN {change_type} t ON %(ct)s || t.slug = a.attr
LEFT JOIN {category} c ON %(cat)s || c.slug = a.attr
WHERE a.attr NOT LIKE %(cf)s
"""


def _run(hits: str, params: dict) -> list[Recurrence]:
    tables = {
        "vendor_incident": VendorIncident._meta.db_table,
        "profile": IncidentProfile._meta.db_table,
        "incident": Incident._meta.db_table,
        "vendor": Vendor._meta.db_table,
        "change_type": ChangeType._meta.db_table,
        "category": FailureCategory._meta.db_table,
    }
    params = {**params, "window": recurrence_window(), "ct": CHANGE_TYPE_PREFIX,
              "cat": CATEGORY_PREFIX, "cf": f"{CONTRIBUTING_PREFIX}%"}  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(_SQL.format(hits=hits, **tables), params)
        rows = cursor.fetchall()
    return [
        Recurrence(
            incident=Incident(id=pk, slug=slug, title=title, started_at=started_at),
            vendor=Vendor(id=vendor_id, slug=vendor_slug, name=vendor_name),
            attribute=attribute,
            attribute_name=attribute_name,
            previous=Incident(id=prev_pk, slug=prev_slug, title=prev_title, started_at=prev_start),
            gap=started_at - prev_start,
        )
        for (pk, slug, title, started_at, vendor_id, vendor_slug, vendor_name, attribute,
             attribute_name, prev_pk, prev_slug, prev_title, prev_start) in rows
    ]  # fmt: skip


def incident_recurrences(incident: Incident) -> list[Recurrence]:
    """The incident's recurrences, by vendor name and then attribute name (one query)."""
    hits = (
        f"SELECT l.vendor_id, p.incident_id, p.started_at, p.attributes "
        f"FROM {IncidentProfile._meta.db_table} p "
        f"JOIN {IncidentVendor._meta.db_table} l ON l.incident_id = p.incident_id "
        "WHERE p.incident_id = %(incident)s AND p.started_at IS NOT NULL"
    )
    found = _run(hits, {"incident": incident.pk})
    return sorted(found, key=lambda r: (r.vendor.name, r.attribute_name, r.vendor.pk))


# Walking a vendor's incidents back from the latest, this many at a time at first.
FIRST_BATCH = 40


def vendor_recurrences(vendor: Vendor, limit: int = 20) -> list[Recurrence]:
    """The vendor's latest recurrences, newest incident first, then by attribute name.

    Its incidents are read newest first in growing batches until ``limit`` are found: two
    queries for most vendors, a few more for one whose recurrences are rare.
    """
    found: list[Recurrence] = []
    before: tuple[datetime, int] | None = None
    batch = FIRST_BATCH
    while len(found) < limit:
        bounds = _next_batch(vendor, before, batch)
        if bounds is None:
            break
        newest, oldest, complete = bounds
        hits = (
            "SELECT v.vendor_id, v.incident_id, v.started_at, p.attributes "
            f"FROM {VendorIncident._meta.db_table} v "
            f"JOIN {IncidentProfile._meta.db_table} p ON p.incident_id = v.incident_id "
            "WHERE v.vendor_id = %(vendor)s "
            "AND (v.started_at, v.incident_id) BETWEEN (%(oldest_start)s, %(oldest_id)s) "
            "AND (%(newest_start)s, %(newest_id)s)"
        )
        found += _run(hits, {"vendor": vendor.pk, "oldest_start": oldest[0],
                             "oldest_id": oldest[1], "newest_start": newest[0],
                             "newest_id": newest[1]})  # fmt: skip
        if complete:
            break
        before, batch = oldest, batch * 4
    found.sort(key=lambda r: (-r.incident.started_at.timestamp(), r.attribute_name))
    return found[:limit]


def _next_batch(
    vendor: Vendor, before: tuple[datetime, int] | None, size: int
) -> tuple[tuple, tuple, bool] | None:
    """The newest and oldest (start, id) of the vendor's next ``size`` incidents, and whether
    they are its last ones."""
    after = "AND (started_at, incident_id) < (%s, %s)" if before else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT started_at, incident_id FROM {VendorIncident._meta.db_table} "
            f"WHERE vendor_id = %s {after} ORDER BY started_at DESC, incident_id DESC LIMIT %s",
            [vendor.pk, *(before or ()), size],
        )
        keys = cursor.fetchall()
    if not keys:
        return None
    return keys[0], keys[-1], len(keys) < size
