"""Related incidents: which published postmortems look most like a given one.

A candidate's score is the sum of its evidence:

* each failure category or change type it shares with the incident, weighted by
  rarity, ``idf = ln(N / n_attr)`` where N is the number of published incidents
  and ``n_attr`` the number of those carrying the attribute (sharing "software
  bug" says little; sharing "certificate expiry" says a lot);
* a shared vendor (``VENDOR_WEIGHT``) and a shared service (``SERVICE_WEIGHT``);
* full-text similarity: ``TEXT_WEIGHT * ts_rank(candidate.search_vector, q)``
  where ``q`` ORs the lexemes of the incident's title.

Scoring every published incident takes seconds at a million incidents, so the
score is computed for a few candidates only, in two steps of one statement:

1. For each of the incident's traits (categories, change types, vendors, services),
   the ``HOLDERS_PER_TRAIT`` latest incidents carrying it, read from the end of an
   index on (trait, incident) without touching the tables. Those carrying several
   traits, or a rare one, add up the most weight; the best ``CANDIDATES`` go on,
   with the latest incidents containing one of the title's distinctive words.
2. Each candidate's evidence is then read exactly, with its text similarity.

A rare trait's holders are all seen in step 1, a common one's only the latest, so an
old incident sharing only common traits can be missed: its weight is small anyway.
Rarity weights come from exact counts for rare attributes and from the planner's
statistics for common ones (see ``_weights``). Three queries in all, whatever the size
of the knowledge base.
"""

from __future__ import annotations

import math
import time
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
# Step 1 reads this many holders of each trait (index entries only) and keeps the best
# CANDIDATES for step 2, which reads each of them (a few index probes apiece).
HOLDERS_PER_TRAIT = 500
CANDIDATES = 30
# Attributes carried by at most this many incidents are counted exactly; more common
# ones, whose weight is small and moves slowly, are estimated from the planner's
# statistics (kept by ANALYZE) rather than counted row by row.
EXACT_COUNT_LIMIT = 200
# A title word in more incidents than this (by the planner's statistics) brings too many
# candidates to be worth an index scan; it still counts in the text similarity.
DISTINCTIVE_WORD_LIMIT = 1000
# The planner's statistics change only when ANALYZE runs: each process reads them again
# after this many seconds.
STATISTICS_SECONDS = 300

CATEGORY, CHANGE_TYPE, VENDOR, SERVICE = "category", "change_type", "vendor", "service"
PUBLISHED = "published"  # the key of the incident count in the statistics and the weights


@dataclass(frozen=True)
class RelatedIncident:
    id: int
    slug: str
    title: str
    score: float
    reasons: list[str] = field(default_factory=list)


@dataclass
class _Traits:
    """What the incident is made of: ``{kind: {id: name}}`` and its title's distinctive words."""

    names: dict[str, dict[int, str]]
    distinctive_words: list[str]

    def ids(self, kind: str) -> list[int]:
        return list(self.names[kind])


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


# --- The planner's statistics ---------------------------------------------------------------

# (table, column) → the key its values are filed under in ``_Statistics.rows``.
_STATISTICS_COLUMNS = {
    (Incident._meta.db_table, "status"): PUBLISHED,
    (Incident._meta.db_table, "search_vector"): "word",
    (Factor._meta.db_table, "category_id"): CATEGORY,
    (Incident.change_types.through._meta.db_table, "changetype_id"): CHANGE_TYPE,
}

_STATISTICS_SQL = """
SELECT s.tablename::text, s.attname::text, c.reltuples,
    coalesce(s.most_common_vals::text::text[], s.most_common_elems::text::text[]),
    coalesce(s.most_common_freqs, s.most_common_elem_freqs)
FROM pg_stats s JOIN pg_class c ON c.relname = s.tablename
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
WHERE s.schemaname = current_schema() AND s.tablename = ANY(%s) AND NOT s.inherited
"""


@dataclass
class _Statistics:
    """Estimated rows per common value: ``{kind: {value: rows}}``, as of ``read_at``."""

    rows: dict[str, dict[str, float]]
    read_at: float


_statistics_cache: list[_Statistics] = []


def _statistics() -> dict[str, dict[str, float]]:
    """Rows per common value of the columns weights need, from ``pg_stats`` (cached)."""
    if _statistics_cache and time.monotonic() - _statistics_cache[0].read_at < STATISTICS_SECONDS:
        return _statistics_cache[0].rows
    rows: dict[str, dict[str, float]] = {kind: {} for kind in _STATISTICS_COLUMNS.values()}
    tables = sorted({table for table, _ in _STATISTICS_COLUMNS})
    with connection.cursor() as cursor:
        cursor.execute(_STATISTICS_SQL, [tables])
        for table, column, reltuples, values, freqs in cursor.fetchall():
            kind = _STATISTICS_COLUMNS.get((table, column))
            if kind is not None and values and reltuples > 0:
                rows[kind] = {v: f * reltuples for v, f in zip(values, freqs, strict=False)}
    _statistics_cache[:] = [_Statistics(rows, time.monotonic())]
    return rows


# --- The incident's traits ------------------------------------------------------------------

_TRAITS_SQL = """
SELECT DISTINCT 'category', c.id, c.name
FROM {factor} f JOIN {category} c ON c.id = f.category_id WHERE f.incident_id = %(id)s
UNION ALL
SELECT 'change_type', t.id, t.name
FROM {change_link} l JOIN {change_type} t ON t.id = l.changetype_id WHERE l.incident_id = %(id)s
UNION ALL
SELECT 'vendor', v.id, v.name
FROM {vendor_link} l JOIN {vendor} v ON v.id = l.vendor_id WHERE l.incident_id = %(id)s
UNION ALL
SELECT 'service', s.id, s.name
FROM {service_link} l JOIN {service} s ON s.id = l.service_id WHERE l.incident_id = %(id)s
UNION ALL
SELECT 'word', NULL, w
FROM unnest(tsvector_to_array(to_tsvector(%(config)s::regconfig, %(title)s))) AS w
"""


def _traits(incident: Incident, statistics: dict) -> _Traits:
    names: dict[str, dict[int, str]] = {CATEGORY: {}, CHANGE_TYPE: {}, VENDOR: {}, SERVICE: {}}
    words = []
    params = {"id": incident.pk, "title": incident.title, "config": SEARCH_CONFIG}
    with connection.cursor() as cursor:
        cursor.execute(_TRAITS_SQL.format(**_tables()), params)
        for kind, pk, name in cursor.fetchall():
            if kind != "word":
                names[kind][pk] = name
            # A word the statistics do not list among the most common ones is rare.
            elif statistics["word"].get(name, 0) <= DISTINCTIVE_WORD_LIMIT:
                words.append(name)
    return _Traits(names, words)


# --- Rarity weights -------------------------------------------------------------------------

_COUNTS_SQL = """
SELECT 'category', a.id, x.seen, CASE WHEN x.seen <= %(limit)s OR %(exact)s THEN (
    SELECT count(DISTINCT f.incident_id) FROM {factor} f
    JOIN {incident} i ON i.id = f.incident_id AND i.status = %(published)s
    WHERE f.category_id = a.id
) END
FROM unnest(%(categories)s::bigint[]) AS a(id), LATERAL (
    SELECT count(*) AS seen FROM (
        SELECT 1 FROM {factor} WHERE category_id = a.id LIMIT %(limit)s + 1) y
) x
UNION ALL
SELECT 'change_type', a.id, x.seen, CASE WHEN x.seen <= %(limit)s OR %(exact)s THEN (
    SELECT count(*) FROM {change_link} l
    JOIN {incident} i ON i.id = l.incident_id AND i.status = %(published)s
    WHERE l.changetype_id = a.id
) END
FROM unnest(%(change_types)s::bigint[]) AS a(id), LATERAL (
    SELECT count(*) AS seen FROM (
        SELECT 1 FROM {change_link} WHERE changetype_id = a.id LIMIT %(limit)s + 1) y
) x
UNION ALL
SELECT 'published', 0, x.seen, CASE WHEN x.seen <= %(limit)s OR %(exact)s THEN (
    SELECT count(*) FROM {incident} WHERE status = %(published)s
) END
FROM (
    SELECT count(*) AS seen FROM (
        SELECT 1 FROM {incident} WHERE status = %(published)s LIMIT %(limit)s + 1) y
) x
"""


def _estimate(statistics: dict, kind: str, pk: int) -> float | None:
    value = ReviewStatus.PUBLISHED.value if kind == PUBLISHED else str(pk)
    return statistics[kind].get(value)


def _weights(traits: _Traits, statistics: dict) -> dict[tuple[str, int], float]:
    """``{(kind, id): ln(N / n)}`` for the incident's categories and change types.

    Each count is exact when it is small (at most ``EXACT_COUNT_LIMIT`` rows, seen
    through an index without reading the table) or when the planner has no statistics
    for it; otherwise it is the planner's estimate of the rows carrying the value (one
    query, two without statistics).
    """
    params = {
        "categories": traits.ids(CATEGORY),
        "change_types": traits.ids(CHANGE_TYPE),
        "published": ReviewStatus.PUBLISHED.value,
        "limit": EXACT_COUNT_LIMIT,
    }
    sql = _COUNTS_SQL.format(**_tables())
    with connection.cursor() as cursor:
        cursor.execute(sql, {**params, "exact": False})
        rows = cursor.fetchall()
        if any(n is None and _estimate(statistics, kind, pk) is None for kind, pk, _, n in rows):
            # A common attribute the planner has no statistics for yet: count it all.
            cursor.execute(sql, {**params, "exact": True})
            rows = cursor.fetchall()
    counts = {
        (kind, pk): n if n is not None else _estimate(statistics, kind, pk)
        for kind, pk, _, n in rows
    }
    total = counts.pop((PUBLISHED, 0))
    return {key: math.log(total / n) for key, n in counts.items() if n and total}


# --- Candidates and their evidence ----------------------------------------------------------

_HOLDERS = """
SELECT x.incident_id, w.weight FROM unnest(%({ids})s::bigint[], %({weights})s::float8[])
    AS w(id, weight)
CROSS JOIN LATERAL (
    SELECT l.incident_id FROM {table} l
    WHERE l.{column} = w.id AND l.incident_id <> %(id)s
    ORDER BY l.incident_id DESC LIMIT %(holders)s
) x
"""

_HOLDER_UNION = "    UNION ALL\n".join(
    _HOLDERS.format(ids=ids, weights=weights, table=table, column=column)
    for ids, weights, table, column in [
        ("categories", "category_weights", "{factor}", "category_id"),
        ("change_types", "change_type_weights", "{change_link}", "changetype_id"),
        ("vendors", "vendor_weights", "{vendor_link}", "vendor_id"),
        ("services", "service_weights", "{service_link}", "service_id"),
    ]
)

_CANDIDATES_SQL = f"""
WITH holder AS (
    {_HOLDER_UNION}
),
-- Materialised so that the planner reads the few matches from the text index: it cannot
-- tell a rare word from a common one, and would walk the table backwards by id instead.
word_match AS MATERIALIZED (
    SELECT id, status FROM {{incident}} WHERE search_vector @@ %(words)s::tsquery
),
candidate AS (
    -- An incident listing a category on two factors counts it once in step 2; here
    -- twice, which only favours it a little for a place among the candidates.
    (SELECT incident_id FROM holder GROUP BY incident_id
     ORDER BY sum(weight) DESC, incident_id DESC LIMIT %(candidates)s)
    UNION
    (SELECT id FROM word_match WHERE status = %(published)s AND id <> %(id)s
     ORDER BY id DESC LIMIT %(candidates)s)
),
query AS (
    -- plainto_tsquery ANDs the title's lexemes; OR them so partial overlap counts.
    SELECT replace(plainto_tsquery(%(config)s::regconfig, %(title)s)::text, '&', '|')::tsquery
        AS q
)
SELECT i.id, i.slug, i.title,
    CASE WHEN i.search_vector @@ query.q THEN ts_rank(i.search_vector, query.q) END,
    ARRAY(SELECT f.category_id FROM {{factor}} f
          WHERE f.category_id = ANY(%(categories)s::bigint[]) AND f.incident_id = i.id),
    ARRAY(SELECT l.changetype_id FROM {{change_link}} l
          WHERE l.incident_id = i.id AND l.changetype_id = ANY(%(change_types)s::bigint[])),
    ARRAY(SELECT l.vendor_id FROM {{vendor_link}} l
          WHERE l.incident_id = i.id AND l.vendor_id = ANY(%(vendors)s::bigint[])),
    ARRAY(SELECT l.service_id FROM {{service_link}} l
          WHERE l.incident_id = i.id AND l.service_id = ANY(%(services)s::bigint[]))
FROM candidate c JOIN {{incident}} i ON i.id = c.incident_id, query
WHERE i.status = %(published)s
"""


def _tsquery_any(lexemes: list[str]) -> str | None:
    """The lexemes ORed as tsquery text (quoted, so no lexeme is read as an operator)."""
    quoted = ["'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in lexemes]
    return " | ".join(quoted) or None


def _scored_candidates(incident: Incident, traits: _Traits, weights: dict) -> list:
    def weights_of(kind: str, constant: float | None = None) -> list[float]:
        return [constant or weights.get((kind, pk), 0.0) for pk in traits.ids(kind)]

    params = {
        "id": incident.pk,
        "published": ReviewStatus.PUBLISHED.value,
        "config": SEARCH_CONFIG,
        "title": incident.title,
        "categories": traits.ids(CATEGORY),
        "change_types": traits.ids(CHANGE_TYPE),
        "vendors": traits.ids(VENDOR),
        "services": traits.ids(SERVICE),
        "category_weights": weights_of(CATEGORY),
        "change_type_weights": weights_of(CHANGE_TYPE),
        "vendor_weights": weights_of(VENDOR, VENDOR_WEIGHT),
        "service_weights": weights_of(SERVICE, SERVICE_WEIGHT),
        "words": _tsquery_any(traits.distinctive_words),
        "holders": HOLDERS_PER_TRAIT,
        "candidates": CANDIDATES,
    }
    with connection.cursor() as cursor:
        cursor.execute(_CANDIDATES_SQL.format(**_tables()), params)
        rows = cursor.fetchall()
    return [_score(row, traits, weights) for row in rows]


def _score(row: tuple, traits: _Traits, weights: dict) -> RelatedIncident:
    pk, slug, title, rank, categories, change_types, vendors, services = row
    evidence = [
        *((weights.get((CATEGORY, c), 0.0), traits.names[CATEGORY][c]) for c in set(categories)),
        *((weights.get((CHANGE_TYPE, t), 0.0), traits.names[CHANGE_TYPE][t]) for t in change_types),
    ]
    # An attribute every incident has (weight ln(1) = 0) is no reason to relate them.
    contributions = [(w, f"Both: {name}") for w, name in evidence if w > 0]
    contributions += [(VENDOR_WEIGHT, f"Same vendor: {traits.names[VENDOR][v]}") for v in vendors]
    contributions += [
        (SERVICE_WEIGHT, f"Same service: {traits.names[SERVICE][s]}") for s in services
    ]
    if rank is not None:
        contributions.append((TEXT_WEIGHT * rank, "Similar text"))
    score = round(sum(w for w, _ in contributions), SCORE_DECIMALS)
    reasons = [r for _, r in sorted(contributions, key=lambda c: (-c[0], c[1]))]
    return RelatedIncident(id=pk, slug=slug, title=title, score=score, reasons=reasons)


def related_incidents(incident: Incident, limit: int = 5) -> list[RelatedIncident]:
    """The published incidents most like ``incident``, best first, ties by id (three queries)."""
    statistics = _statistics()
    traits = _traits(incident, statistics)
    weights = _weights(traits, statistics)
    scored = [r for r in _scored_candidates(incident, traits, weights) if r.score > 0]
    scored.sort(key=lambda r: (-r.score, r.id))
    return scored[:limit]


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
