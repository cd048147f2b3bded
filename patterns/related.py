"""Related incidents: which published postmortems look most like a given one.

A candidate's score is the sum of its evidence:

* each failure category or change type it shares with the incident, weighted by
  rarity, ``idf = ln(N / n_attr)`` where N is the number of published incidents
  and ``n_attr`` the number of those carrying the attribute (sharing "software
  bug" says little; sharing "certificate expiry" says a lot);
* a shared vendor (``VENDOR_WEIGHT``) and a shared service (``SERVICE_WEIGHT``);
* full-text similarity: ``TEXT_WEIGHT * ts_rank(candidate.search_vector, q)``
  where ``q`` ORs the lexemes of the incident's title.

All candidates are scored in one SQL statement, so the query count does not
grow with the number of incidents.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from django.db import connection
from django.utils import timezone

from patterns.models import RelatedList
from postmortems.choices import ReviewStatus
from postmortems.models import (
    SEARCH_CONFIG,
    ChangeType,
    Factor,
    FailureCategory,
    Incident,
    IncidentVendor,
    Service,
    Vendor,
)

VENDOR_WEIGHT = 1.0
# A service is narrower than a vendor, so sharing one is stronger evidence.
SERVICE_WEIGHT = 1.5
TEXT_WEIGHT = 2.0
# Scores are rounded before ordering so that floating-point summation order can
# never flip two candidates that tie; the id then decides.
SCORE_DECIMALS = 6
# How many related incidents are cached per incident (pages show five).
CACHED_LIMIT = 5


@dataclass(frozen=True)
class RelatedIncident:
    id: int
    slug: str
    title: str
    score: float
    reasons: list[str] = field(default_factory=list)


def _tables() -> dict[str, str]:
    # Table names come from model metadata, never from input, so formatting
    # them into the statement is safe; every value is a bound parameter.
    return {
        "incident": Incident._meta.db_table,
        "factor": Factor._meta.db_table,
        "category": FailureCategory._meta.db_table,
        "change_link": Incident.change_types.through._meta.db_table,
        "change_type": ChangeType._meta.db_table,
        "vendor_link": IncidentVendor._meta.db_table,
        "vendor": Vendor._meta.db_table,
        "service_link": Incident.services.through._meta.db_table,
        "service": Service._meta.db_table,
    }


_SQL = """
WITH pub AS (
    SELECT id, search_vector FROM {incident} WHERE status = %(published)s
),
-- One row per (attribute, published incident); DISTINCT because an incident
-- may list the same category on several factors.
attrs AS (
    SELECT DISTINCT 'category' AS kind, f.category_id AS attr_id, f.incident_id
    FROM {factor} f JOIN pub ON pub.id = f.incident_id
    UNION ALL
    SELECT 'change_type', l.changetype_id, l.incident_id
    FROM {change_link} l JOIN pub ON pub.id = l.incident_id
),
-- The incident's own attributes come from the raw tables: it may be a draft.
mine AS (
    SELECT DISTINCT 'category' AS kind, category_id AS attr_id
    FROM {factor} WHERE incident_id = %(id)s
    UNION ALL
    SELECT 'change_type', changetype_id FROM {change_link} WHERE incident_id = %(id)s
),
weights AS (
    SELECT a.kind, a.attr_id,
           ln((SELECT count(*) FROM pub)::float8 / count(*)) AS weight
    FROM attrs a JOIN mine m ON m.kind = a.kind AND m.attr_id = a.attr_id
    GROUP BY a.kind, a.attr_id
),
query AS (
    -- plainto_tsquery ANDs the title's lexemes; OR them so partial overlap counts.
    SELECT replace(plainto_tsquery(%(config)s::regconfig, %(title)s)::text, '&', '|')::tsquery
        AS q
),
contrib AS (
    SELECT a.incident_id, w.weight, 'Both: ' || coalesce(c.name, t.name) AS reason
    FROM attrs a
    JOIN weights w ON w.kind = a.kind AND w.attr_id = a.attr_id
    LEFT JOIN {category} c ON a.kind = 'category' AND c.id = a.attr_id
    LEFT JOIN {change_type} t ON a.kind = 'change_type' AND t.id = a.attr_id
    -- An attribute every incident has (weight ln(1) = 0) is no reason to relate them.
    WHERE w.weight > 0
    UNION ALL
    SELECT l.incident_id, %(vendor_weight)s, 'Same vendor: ' || v.name
    FROM {vendor_link} l JOIN {vendor} v ON v.id = l.vendor_id
    WHERE l.vendor_id IN (SELECT vendor_id FROM {vendor_link} WHERE incident_id = %(id)s)
    UNION ALL
    SELECT l.incident_id, %(service_weight)s, 'Same service: ' || s.name
    FROM {service_link} l JOIN {service} s ON s.id = l.service_id
    WHERE l.service_id IN (SELECT service_id FROM {service_link} WHERE incident_id = %(id)s)
    UNION ALL
    SELECT pub.id, %(text_weight)s * ts_rank(pub.search_vector, query.q), 'Similar text'
    FROM pub, query WHERE pub.search_vector @@ query.q
),
scored AS (
    SELECT c.incident_id,
           round(sum(c.weight)::numeric, %(decimals)s) AS score,
           array_agg(c.reason ORDER BY c.weight DESC, c.reason) AS reasons
    FROM contrib c JOIN pub ON pub.id = c.incident_id
    WHERE c.incident_id <> %(id)s
    GROUP BY c.incident_id
)
SELECT i.id, i.slug, i.title, s.score, s.reasons
FROM scored s JOIN {incident} i ON i.id = s.incident_id
WHERE s.score > 0
ORDER BY s.score DESC, i.id
LIMIT %(limit)s
"""


def related_incidents(incident: Incident, limit: int = 5) -> list[RelatedIncident]:
    """The published incidents most like ``incident``, best first, ties by id (one query)."""
    params = {
        "id": incident.pk,
        "published": ReviewStatus.PUBLISHED.value,
        "config": SEARCH_CONFIG,
        "title": incident.title,
        "vendor_weight": VENDOR_WEIGHT,
        "service_weight": SERVICE_WEIGHT,
        "text_weight": TEXT_WEIGHT,
        "decimals": SCORE_DECIMALS,
        "limit": limit,
    }
    with connection.cursor() as cursor:
        cursor.execute(_SQL.format(**_tables()), params)
        rows = cursor.fetchall()
    return [
        RelatedIncident(id=pk, slug=slug, title=title, score=float(score), reasons=list(reasons))
        for pk, slug, title, score, reasons in rows
    ]


def cached_related_incidents(incident: Incident, limit: int = 5) -> list[RelatedIncident]:
    """``related_incidents`` through the ``RelatedList`` cache (drafts are never cached).

    A draft's labels change as it is written, and nobody but its authors reads it, so it
    is computed on every read; a published incident's list is computed once per refresh.
    """
    if incident.status != ReviewStatus.PUBLISHED:
        return related_incidents(incident, limit)
    cached = RelatedList.objects.filter(incident_id=incident.pk).first()
    if cached is not None:
        return [RelatedIncident(**item) for item in cached.items[:limit]]
    found = related_incidents(incident, CACHED_LIMIT)
    # ignore_conflicts: two first readers at once both compute; the first write wins.
    items = [asdict(r) for r in found]
    row = RelatedList(incident=incident, computed_at=timezone.now(), items=items)
    RelatedList.objects.bulk_create([row], ignore_conflicts=True)
    return found[:limit]
