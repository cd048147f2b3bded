"""Time to detect, mitigate and resolve, and downtime, aggregated by PostgreSQL.

Durations are measured from ``started_at``. For each statistic an incident is
*unknown* when it is missing the start or the end moment of that duration, or
is flagged ``duration_unknown``; unknown incidents are left out of the median
and p90 (a missing time is not a zero-length outage) and counted in ``unknown``
so that readers can see how much the numbers rest on.

Percentiles are ``percentile_cont`` (linear interpolation between the two
nearest ranks, PostgreSQL's ordered-set aggregate). Only published incidents
count. Each function issues one query.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.db import connection

from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, Factor, FailureCategory, Incident, IncidentVendor, Vendor

# The durations reported, by the moment that ends each one.
DURATIONS = {
    "detect": "detected_at",
    "mitigate": "mitigated_at",
    "resolve": "resolved_at",
}


@dataclass(frozen=True)
class DurationStats:
    group: str
    duration: str  # "detect", "mitigate" or "resolve"
    n: int
    unknown: int
    median: timedelta | None
    p90: timedelta | None


@dataclass(frozen=True)
class VendorYearDowntime:
    vendor: str
    year: int
    n: int
    unknown: int
    downtime: timedelta


def _groupings() -> dict[str, str]:
    """Per grouping, a statement yielding (incident_id, label) pairs.

    Table names come from model metadata, never from input.
    """
    incident = Incident._meta.db_table
    change_link = Incident.change_types.through._meta.db_table
    return {
        "change_type": f"SELECT l.incident_id, t.name FROM {change_link} l "
        f"JOIN {ChangeType._meta.db_table} t ON t.id = l.changetype_id",
        # DISTINCT: two factors in one category must not count the incident twice.
        "category": f"SELECT DISTINCT f.incident_id, c.name FROM {Factor._meta.db_table} f "
        f"JOIN {FailureCategory._meta.db_table} c ON c.id = f.category_id",
        "vendor": f"SELECT l.incident_id, v.name FROM {IncidentVendor._meta.db_table} l "
        f"JOIN {Vendor._meta.db_table} v ON v.id = l.vendor_id",
        # Year of the start; an incident with no start has no year to sit in.
        "year": f"SELECT id, to_char(started_at AT TIME ZONE 'UTC', 'YYYY') FROM {incident} "
        "WHERE started_at IS NOT NULL",
    }


def _known(end: str) -> str:
    return f"i.started_at IS NOT NULL AND i.{end} IS NOT NULL AND NOT i.duration_unknown"


def _duration_columns(name: str, end: str) -> str:
    seconds = f"extract(epoch FROM i.{end} - i.started_at)"
    known = _known(end)
    return (
        f"count(*) FILTER (WHERE {known}) AS {name}_n, "
        f"count(*) FILTER (WHERE NOT ({known})) AS {name}_unknown, "
        f"percentile_cont(0.5) WITHIN GROUP (ORDER BY {seconds}) FILTER (WHERE {known}), "
        f"percentile_cont(0.9) WITHIN GROUP (ORDER BY {seconds}) FILTER (WHERE {known})"
    )


def _seconds(value: float | None) -> timedelta | None:
    return None if value is None else timedelta(seconds=float(value))


def duration_stats(group_by: str) -> list[DurationStats]:
    """Median and p90 of each duration per group (``change_type``, ``category``,
    ``vendor`` or ``year``), ordered by group then duration; one query."""
    groups = _groupings()[group_by]  # KeyError for an unknown grouping, by design
    columns = ", ".join(_duration_columns(name, end) for name, end in DURATIONS.items())
    sql = (
        f"WITH g(incident_id, label) AS ({groups}) "
        f"SELECT g.label, {columns} FROM g JOIN {Incident._meta.db_table} i "
        "ON i.id = g.incident_id WHERE i.status = %s GROUP BY g.label ORDER BY g.label"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [ReviewStatus.PUBLISHED.value])
        rows = cursor.fetchall()
    stats = []
    for label, *values in rows:
        for index, name in enumerate(DURATIONS):
            n, unknown, median, p90 = values[4 * index : 4 * index + 4]
            stats.append(DurationStats(label, name, n, unknown, _seconds(median), _seconds(p90)))
    return stats


def downtime_by_vendor_year() -> list[VendorYearDowntime]:
    """Total start-to-resolution time per vendor per year of start; one query."""
    known = _known("resolved_at")
    sql = (
        "SELECT v.name, extract(year FROM i.started_at AT TIME ZONE 'UTC')::int AS year, "
        f"count(*) FILTER (WHERE {known}), count(*) FILTER (WHERE NOT ({known})), "
        f"coalesce(sum(i.resolved_at - i.started_at) FILTER (WHERE {known}), interval '0') "
        f"FROM {Incident._meta.db_table} i "
        f"JOIN {IncidentVendor._meta.db_table} l ON l.incident_id = i.id "
        f"JOIN {Vendor._meta.db_table} v ON v.id = l.vendor_id "
        "WHERE i.status = %s AND i.started_at IS NOT NULL "
        "GROUP BY v.id, v.name, year ORDER BY v.name, v.id, year"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [ReviewStatus.PUBLISHED.value])
        return [VendorYearDowntime(*row) for row in cursor.fetchall()]
