"""Recurring-pattern mining: which change types and failure categories keep occurring together.

An incident's *attributes* are its change types (``ct:<slug>``) and the categories of its
factors whatever their role (``cat:<slug>``). Only published incidents count. Every
combination of 2 or 3 attributes shared by at least ``min_support`` incidents is counted in
PostgreSQL; only *closed* combinations are kept (a combination is dropped when a larger one
containing it has exactly the same member incidents: it says nothing the larger one does not).

Ranking::

    score = support * log2(1 + lift) * (1 + log2(vendors)) * recency

* ``support``  — number of member incidents.
* ``lift``     — observed support / expected support under independence, where
  expected = N * Π p_i, p_i = count(attr_i) / N and N = number of published incidents.
  A lift of 1 means the attributes meet no more often than chance; log2(1 + lift) keeps
  chance-level combinations from dominating merely because their attributes are common.
* ``vendors``  — distinct vendors among the members (at least 1 in the formula): the same
  weakness at several companies is a lesson for the industry, not one company's quirk.
* ``recency``  — (1 + 0.5 ** (age / HALF_LIFE)) / 2, age = now - the last member's start
  (never negative): 1 for a pattern seen today, 3/4 two years on, never below 1/2. A
  knowledge base of past outages must still rank a large old pattern above a small new
  one, so recency only breaks near-ties; a pattern without any dated member gets 3/4.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.utils import timezone

from postmortems.models import ChangeType, Factor, FailureCategory, Incident, IncidentVendor

CHANGE_TYPE_PREFIX = "ct:"
CATEGORY_PREFIX = "cat:"
HALF_LIFE = timedelta(days=2 * 365)
MAX_SIZE = 3


@dataclass(frozen=True)
class MinedPattern:
    attributes: tuple[str, ...]
    members: tuple[int, ...]
    support: int
    lift: float = 0.0
    vendors: tuple[str, ...] = ()
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    quarter_counts: dict[str, int] = field(default_factory=dict)
    title: str = ""
    score: float = 0.0

    @property
    def key(self) -> str:
        return "+".join(self.attributes)


@dataclass(frozen=True)
class _Context:
    """What scoring and titles need, fetched once for all patterns (no per-pattern queries)."""

    total: int
    attribute_counts: dict[str, int]
    names: dict[str, str]
    started: dict[int, datetime | None]
    vendors: dict[int, set[str]]
    now: datetime


def recurring_patterns(
    min_support: int = 3, max_size: int = MAX_SIZE, *, now: datetime | None = None
) -> list[MinedPattern]:
    """Closed attribute combinations shared by ≥ ``min_support`` published incidents, best first."""
    if not 2 <= max_size <= MAX_SIZE:
        raise ValueError(f"max_size must be 2 or 3, not {max_size}.")
    raw = closed_patterns(_count_combinations(max(min_support, 1), max_size))
    if not raw:
        return []
    context = _load_context(raw, now or timezone.now())
    mined = [_describe(attributes, members, context) for attributes, members in raw]
    return sorted(mined, key=lambda p: (-p.score, p.key))


# --- Counting in SQL ----------------------------------------------------------------------


def _attribute_pairs_sql() -> tuple[str, list]:
    """The DISTINCT (incident_id, attr) pairs of published incidents, as a CTE body."""
    through = Incident.change_types.through._meta.db_table
    published, params = Incident.objects.published().order_by().values("id").query.sql_with_params()
    # Table names come from our own models' metadata, never from input; values are parameters.
    # COLLATE "C" makes SQL's ``<`` agree with Python's sorted(): a linguistic collation would
    # ignore the hyphens and colons and order some attributes differently.
    sql = f"""
        SELECT DISTINCT raw.incident_id, raw.attr COLLATE "C" AS attr FROM (
            SELECT t.incident_id, %s || ct.slug AS attr
            FROM {through} t JOIN {ChangeType._meta.db_table} ct ON ct.id = t.changetype_id
            UNION ALL
            SELECT f.incident_id, %s || c.slug
            FROM {Factor._meta.db_table} f
            JOIN {FailureCategory._meta.db_table} c ON c.id = f.category_id
        ) raw
        WHERE raw.incident_id IN ({published})
    """
    return sql, [CHANGE_TYPE_PREFIX, CATEGORY_PREFIX, *params]


_COMBINATIONS_SQL = """
    WITH attrs AS ({attrs}),
    pairs AS (
        SELECT a1.attr AS a1, a2.attr AS a2,
               array_agg(a1.incident_id ORDER BY a1.incident_id) AS members
        FROM attrs a1 JOIN attrs a2 ON a2.incident_id = a1.incident_id AND a1.attr < a2.attr
        GROUP BY a1.attr, a2.attr
        HAVING count(*) >= %s
    ),
    triples AS (
        -- A triple can only be frequent if its first two attributes are a frequent pair
        -- (support only shrinks as attributes are added), so extend frequent pairs only.
        SELECT p.a1, p.a2, a3.attr AS a3,
               array_agg(a3.incident_id ORDER BY a3.incident_id) AS members
        FROM pairs p
        CROSS JOIN LATERAL unnest(p.members) AS m(incident_id)
        JOIN attrs a3 ON a3.incident_id = m.incident_id AND a3.attr > p.a2
        WHERE %s >= 3
        GROUP BY p.a1, p.a2, a3.attr
        HAVING count(*) >= %s
    )
    SELECT ARRAY[a1, a2], members FROM pairs
    UNION ALL
    SELECT ARRAY[a1, a2, a3], members FROM triples
"""


def _count_combinations(min_support: int, max_size: int) -> list[tuple[tuple, tuple]]:
    attrs_sql, params = _attribute_pairs_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            _COMBINATIONS_SQL.format(attrs=attrs_sql),
            [*params, min_support, max_size, min_support],
        )
        return [(tuple(attrs), tuple(members)) for attrs, members in cursor.fetchall()]


def _attribute_counts(attributes: set[str]) -> dict[str, int]:
    attrs_sql, params = _attribute_pairs_sql()
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH attrs AS ({attrs_sql}) SELECT attr, count(*) FROM attrs "
            "WHERE attr = ANY(%s) GROUP BY attr",
            [*params, sorted(attributes)],
        )
        return dict(cursor.fetchall())


# --- Closedness -----------------------------------------------------------------------------


def closed_patterns(raw: list[tuple[tuple, tuple]]) -> list[tuple[tuple, tuple]]:
    """Drop combinations whose member set equals that of a larger combination containing them."""
    by_members: dict[tuple, list[tuple]] = defaultdict(list)
    for attributes, members in raw:
        by_members[members].append(attributes)
    closed = []
    for members, groups in by_members.items():
        sets = [set(a) for a in groups]
        for attributes, attribute_set in zip(groups, sets, strict=True):
            # A superset always has a member set ⊆ ours, so equal members only need a check
            # among combinations with the same member tuple.
            if not any(attribute_set < other for other in sets):
                closed.append((attributes, members))
    return closed


# --- Description and scoring ----------------------------------------------------------------


def _load_context(raw: list[tuple[tuple, tuple]], now: datetime) -> _Context:
    attributes = {a for attrs, _ in raw for a in attrs}
    incident_ids = {i for _, members in raw for i in members}
    vendors: dict[int, set[str]] = defaultdict(set)
    links = IncidentVendor.objects.filter(incident_id__in=incident_ids)
    for incident_id, slug in links.values_list("incident_id", "vendor__slug"):
        vendors[incident_id].add(slug)
    return _Context(
        total=Incident.objects.published().count(),
        attribute_counts=_attribute_counts(attributes),
        names=_attribute_names(attributes),
        started=dict(Incident.objects.filter(id__in=incident_ids).values_list("id", "started_at")),
        vendors=vendors,
        now=now,
    )


def _attribute_names(attributes: set[str]) -> dict[str, str]:
    names = {}
    for prefix, model in ((CHANGE_TYPE_PREFIX, ChangeType), (CATEGORY_PREFIX, FailureCategory)):
        slugs = [a.removeprefix(prefix) for a in attributes if a.startswith(prefix)]
        if slugs:
            rows = model.objects.filter(slug__in=slugs).values_list("slug", "name")
            names.update({f"{prefix}{slug}": name for slug, name in rows})
    return names


def _describe(attributes: tuple, members: tuple, context: _Context) -> MinedPattern:
    dates = sorted(d for i in members if (d := context.started.get(i)) is not None)
    vendors = tuple(sorted(set().union(*(context.vendors.get(i, set()) for i in members))))
    first_seen, last_seen = (dates[0], dates[-1]) if dates else (None, None)
    lift = compute_lift(
        len(members), [context.attribute_counts[a] for a in attributes], context.total
    )
    return MinedPattern(
        attributes=attributes,
        members=members,
        support=len(members),
        lift=lift,
        vendors=vendors,
        first_seen=first_seen,
        last_seen=last_seen,
        quarter_counts=quarter_counts(dates),
        title=pattern_title(attributes, context.names, len(members), len(vendors), first_seen),
        score=compute_score(len(members), lift, len(vendors), last_seen, context.now),
    )


def compute_lift(support: int, attribute_counts: list[int], total: int) -> float:
    """Observed support over the support expected if the attributes were independent."""
    expected = total * math.prod(count / total for count in attribute_counts)
    return support / expected if expected else 0.0


def recency_weight(last_seen: datetime | None, now: datetime) -> float:
    if last_seen is None:
        return 0.75
    age = max(now - last_seen, timedelta(0))
    return (1 + 0.5 ** (age / HALF_LIFE)) / 2


def compute_score(
    support: int, lift: float, vendor_count: int, last_seen: datetime | None, now: datetime
) -> float:
    """The ranking formula of the module docstring."""
    vendor_factor = 1 + math.log2(max(vendor_count, 1))
    return support * math.log2(1 + lift) * vendor_factor * recency_weight(last_seen, now)


def quarter_counts(dates: list[datetime]) -> dict[str, int]:
    """Members per calendar quarter in UTC, oldest quarter first (``{"2014-Q4": 2}``)."""
    counts: dict[str, int] = defaultdict(int)
    for moment in sorted(dates):
        utc = moment.astimezone(UTC)
        counts[f"{utc.year}-Q{(utc.month - 1) // 3 + 1}"] += 1
    return dict(counts)


def pattern_title(
    attributes: tuple,
    names: dict[str, str],
    support: int,
    vendor_count: int,
    first_seen: datetime | None,
) -> str:
    """A plain-language title.

    E.g. "Configuration change + Rollout not staged — 7 incidents across 5 vendors since 2014".
    """
    # Change types first: the trigger reads before the weaknesses it exposed.
    ordered = sorted(attributes, key=lambda a: (not a.startswith(CHANGE_TYPE_PREFIX), a))
    label = " + ".join(names.get(a, a.split(":", 1)[1]) for a in ordered)
    text = f"{label} — {support} incident{'s' if support != 1 else ''}"
    if vendor_count:
        text += f" across {vendor_count} vendor{'s' if vendor_count != 1 else ''}"
    if first_seen is not None:
        text += f" since {first_seen.year}"
    return text


def attribute_names() -> dict[str, str]:
    """Every term's name by attribute key (the vocabularies are small: two queries)."""
    names = {}
    for prefix, model in ((CHANGE_TYPE_PREFIX, ChangeType), (CATEGORY_PREFIX, FailureCategory)):
        names.update(
            {f"{prefix}{slug}": name for slug, name in model.objects.values_list("slug", "name")}
        )
    return names
