"""Vendor recurrence: the same vendor hit again by the same change type or failure category.

For each published incident with a start, each of its vendors and each of its
attributes (change types and factor categories), the previous published incident of
that vendor with that attribute is found with ``lag()`` over the incidents ordered by
start. When it started at most ``window`` earlier, the pair is a recurrence. Computed
in one statement: one sort per (vendor, attribute), however many incidents there are.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import connection

from patterns.mining import CATEGORY_PREFIX, CHANGE_TYPE_PREFIX
from patterns.models import VendorRecurrence
from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, Factor, FailureCategory, Incident, IncidentVendor

_SQL = """
WITH attrs AS (
    SELECT DISTINCT f.incident_id, %(cat)s || c.slug AS attr, c.name
    FROM {factor} f JOIN {category} c ON c.id = f.category_id
    UNION
    SELECT l.incident_id, %(ct)s || t.slug, t.name
    FROM {change_link} l JOIN {change_type} t ON t.id = l.changetype_id
),
hits AS (
    SELECT a.incident_id, a.attr, a.name, v.vendor_id, i.started_at,
           lag(a.incident_id) OVER w AS previous_id,
           lag(i.started_at) OVER w AS previous_start
    FROM attrs a
    JOIN {incident} i ON i.id = a.incident_id
    JOIN {vendor_link} v ON v.incident_id = a.incident_id
    WHERE i.status = %(published)s AND i.started_at IS NOT NULL
    WINDOW w AS (PARTITION BY v.vendor_id, a.attr ORDER BY i.started_at, a.incident_id)
)
INSERT INTO {recurrence} (incident_id, vendor_id, attribute, attribute_name, previous_id, gap)
SELECT incident_id, vendor_id, attr, name, previous_id, started_at - previous_start
FROM hits
WHERE previous_id IS NOT NULL AND started_at - previous_start <= %(window)s
"""


def store_vendor_recurrences(window: timedelta) -> int:
    """Replace the stored recurrences; returns how many there are."""
    tables = {
        # Table names come from model metadata, never from input.
        "factor": Factor._meta.db_table,
        "category": FailureCategory._meta.db_table,
        "change_link": Incident.change_types.through._meta.db_table,
        "change_type": ChangeType._meta.db_table,
        "incident": Incident._meta.db_table,
        "vendor_link": IncidentVendor._meta.db_table,
        "recurrence": VendorRecurrence._meta.db_table,
    }
    params = {
        "cat": CATEGORY_PREFIX,
        "ct": CHANGE_TYPE_PREFIX,
        "published": ReviewStatus.PUBLISHED.value,
        "window": window,
    }
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {tables['recurrence']}")
        cursor.execute(_SQL.format(**tables), params)
        return cursor.rowcount
