"""Recurring-pattern mining: which change types and failure categories keep occurring together.

An incident's *attributes* are its change types (``ct:<slug>``) and the categories of its
factors whatever their role (``cat:<slug>``). Only published incidents count. Every
combination of 2 or 3 attributes shared by at least ``min_support`` incidents is counted in
PostgreSQL; only *closed* combinations are kept (a combination is dropped when a larger one
containing it has exactly the same member incidents: it says nothing the larger one does not).
Members sharing more attributes than a combination holds would still leave every 3-attribute
subset of them standing, each with the same members: such combinations are folded into one,
which lists the others as its ``equivalents`` (see ``same_members``).

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
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import reduce
from itertools import combinations
from operator import attrgetter, is_, or_

from django.db import connection, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Concat
from django.utils import timezone

from patterns import profiles
from patterns.models import LATEST_MEMBERS, MAX_SIZE, TOP_VENDORS
from patterns.profiles import CATEGORY_PREFIX, CHANGE_TYPE_PREFIX, Vocabulary
from postmortems.models import ChangeType, FailureCategory, IncidentVendor, Vendor

HALF_LIFE = timedelta(days=2 * 365)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NO_START = (1, 0)  # sorts after every (0, -start): members without a start come last


@dataclass(frozen=True)
class MinedPattern:
    attributes: tuple[str, ...]
    support: int
    lift: float = 0.0
    vendors: tuple[str, ...] = ()  # alphabetically
    top_vendors: tuple[str, ...] = ()  # the vendors with the most published incidents first
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    quarter_counts: dict[str, int] = field(default_factory=dict)
    completed_actions: int = 0  # done action items of the members with a start
    quarter_completed_actions: dict[str, int] = field(default_factory=dict)
    latest_members: tuple[int, ...] = ()  # newest first
    latest_prior_actions: tuple[int, ...] = ()
    title: str = ""
    score: float = 0.0
    # The other combinations with exactly these members, folded into this one.
    equivalents: tuple[tuple[str, ...], ...] = ()

    @property
    def key(self) -> str:
        return "+".join(self.attributes)

    @property
    def equivalent_keys(self) -> tuple[str, ...]:
        return tuple("+".join(attributes) for attributes in self.equivalents)

    @property
    def shared_attributes(self) -> tuple[str, ...]:
        """Its attributes and its equivalents': every member has all of them."""
        return tuple(sorted({a for attrs in (self.attributes, *self.equivalents) for a in attrs}))


_NO_FIRST = 1 << 62
_NO_LAST = -(1 << 62)


@dataclass(slots=True)
class _Set:
    """Published incidents with one set of attributes, or what a combination's sets add up to.

    Moments are microseconds since the epoch; ``quarters`` and ``quarter_done`` pack a count
    per quarter as fields of one integer (one addition per set and combination instead of one
    per quarter; ``_Loaded.width`` bits each); ``vendors`` has a bit per vendor.
    """

    codes: tuple[int, ...] = ()
    support: int = 0
    done: int = 0  # of the members with a start: only they have earlier members
    first: int = _NO_FIRST
    last: int = _NO_LAST
    quarters: int = 0
    quarter_done: int = 0
    vendors: int = 0
    # The latest members as (0, -start, -id, id, done), or (1, 0, -id, id, 0) without a
    # start, sorted: newest first.
    members: list = field(default_factory=list)


@dataclass(frozen=True)
class _Loaded:
    sets: dict[int, _Set]
    first_quarter: int  # quarter index (year * 4 + quarter - 1) of bit field 0
    width: int  # bits per quarter: wide enough for every incident and every done item
    vendor_ids: list[int]  # by bit


def recurring_patterns(
    min_support: int = 3, max_size: int = MAX_SIZE, *, now: datetime | None = None
) -> list[MinedPattern]:
    """Closed attribute combinations shared by ≥ ``min_support`` published incidents, best first."""
    with transaction.atomic():
        vocabulary = profiles.load_vocabulary()
        profiles.build_working_tables(vocabulary)
        return mine(vocabulary, min_support, max_size, now=now)


def mine(
    vocabulary: Vocabulary,
    min_support: int,
    max_size: int = MAX_SIZE,
    *,
    now: datetime | None,
    stored: Mapping[str, int] | None = None,
) -> list[MinedPattern]:
    """``recurring_patterns`` over the working tables of ``profiles.build_working_tables``.

    SQL groups the incidents by attribute set (a tenth as many rows at a million incidents);
    Python lists, for each combination, the sets containing it and adds them up. ``stored``
    maps the keys of the patterns already stored to their ids: of combinations with the same
    members, a stored one represents them, so the pattern keeps its id (see ``_representative``).
    """
    if not 2 <= max_size <= MAX_SIZE:
        raise ValueError(f"max_size must be 2 or 3, not {max_size}.")
    loaded = _load_sets()
    containing = _combine(loaded.sets, max_size)
    supports = {combo: sum(map(_SUPPORT, sets)) for combo, sets in containing.items()}
    kept = closed_combinations({c: n for c, n in supports.items() if n >= max(min_support, 1)})
    if not kept:
        return []
    _load_latest(loaded.sets)
    context = _Context(
        total=sum(map(_SUPPORT, loaded.sets.values())),
        attribute_counts=_attribute_counts(loaded.sets, vocabulary),
        names=vocabulary.names,
        first_quarter=loaded.first_quarter,
        width=loaded.width,
        vendor_slugs=_vendor_slugs(loaded.vendor_ids),
        now=now or timezone.now(),
    )
    folded = same_members(kept, containing, supports)
    away = {combo for others in folded.values() for combo in others}
    mined = []
    for combo in kept:
        if combo in away:
            continue
        group = (combo, *folded.get(combo, ()))
        named = [tuple(vocabulary.keys[code] for code in codes) for codes in group]
        first = _representative(named, supports[combo], context, stored or {})
        others = tuple(attributes for attributes in named if attributes != first)
        mined.append(_describe(first, containing[combo], context, others))
    return sorted(mined, key=lambda p: (-p.score, p.key))


# --- Attribute sets, in SQL -----------------------------------------------------------------

# Moments as integer microseconds since the epoch, exact (``extract`` would give numerics,
# slow to aggregate; a float8 of seconds would round the microseconds).
_MICROSECONDS = """(date_part('epoch', date_trunc('second', {0}))::bigint * 1000000
                   + mod(date_part('microseconds', {0})::bigint, 1000000))"""

_SETS_SQL = f"""
    SELECT set_id, quarter, n, done, {_MICROSECONDS.format("first")}, {_MICROSECONDS.format("last")}
    FROM (
        SELECT set_id, quarter, count(*) AS n, sum(done) AS done,
               min(started_at) AS first, max(started_at) AS last
        FROM (
            SELECT set_id, done, started_at,
                   date_part('year', started_at AT TIME ZONE 'UTC')::int * 4
                   + date_part('quarter', started_at AT TIME ZONE 'UTC')::int - 1 AS quarter
            FROM refresh_incident
        ) r
        GROUP BY set_id, quarter
    ) q
"""


def _load_sets() -> _Loaded:
    """Per attribute set: support, fixes, first and last start, counts per quarter, vendors."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_id, codes FROM refresh_set")
        sets = {set_id: _Set(codes=tuple(codes)) for set_id, codes in cursor.fetchall()}
        cursor.execute(_SETS_SQL)
        rows = cursor.fetchall()
        first_quarter = min((row[1] for row in rows if row[1] is not None), default=0)
        width = max(sum(row[2] for row in rows), sum(row[3] for row in rows)).bit_length() + 1
        for set_id, quarter, count, done, first, last in rows:
            group = sets[set_id]
            group.support += count
            if quarter is None:
                continue
            shift = (quarter - first_quarter) * width
            group.quarters += count << shift
            group.quarter_done += done << shift
            group.done += done
            group.first = min(group.first, first)
            group.last = max(group.last, last)
        cursor.execute(
            "SELECT r.set_id, l.vendor_id, count(*) FROM refresh_incident r "
            f"JOIN {IncidentVendor._meta.db_table} l ON l.incident_id = r.incident_id "
            "GROUP BY r.set_id, l.vendor_id"
        )
        triples = cursor.fetchall()
    incidents: Counter[int] = Counter()
    for _, vendor_id, count in triples:
        incidents[vendor_id] += count
    # The vendors with the most incidents get the lowest bits: most sets' bitmaps stay small
    # integers, and a combination's first bits are its top vendors. Ties go to the lower id,
    # so the order is the same from one refresh to the next.
    ranked = sorted(incidents, key=lambda vendor: (-incidents[vendor], vendor))
    bits = {vendor: bit for bit, vendor in enumerate(ranked)}
    for set_id, vendor_id, _ in triples:
        sets[set_id].vendors |= 1 << bits[vendor_id]
    return _Loaded(sets, first_quarter, width, ranked)


def _combine(sets: dict[int, _Set], max_size: int) -> dict[tuple, list[_Set]]:
    """Every combination of 2 to ``max_size`` attributes with the sets containing it.

    Each list runs from the set with the latest member to the one with the earliest, so
    finding a combination's latest members can stop early.
    """
    containing: dict[tuple, list[_Set]] = {}
    for group in sorted(sets.values(), key=_LAST, reverse=True):
        codes = group.codes
        for size in range(2, min(max_size, len(codes)) + 1):
            for combo in combinations(codes, size):
                found = containing.get(combo)
                if found is None:
                    containing[combo] = [group]
                else:
                    found.append(group)
    return containing


_SUPPORT, _DONE, _FIRST, _LAST = (attrgetter(a) for a in ("support", "done", "first", "last"))
_QUARTERS, _QUARTER_DONE, _VENDORS = (
    attrgetter(a) for a in ("quarters", "quarter_done", "vendors")
)


def _total(sets: list[_Set]) -> _Set:
    """What the sets add up to (the built-ins loop in C: a large combination has many sets)."""
    return _Set(
        support=sum(map(_SUPPORT, sets)),
        done=sum(map(_DONE, sets)),
        first=min(map(_FIRST, sets)),
        last=max(map(_LAST, sets)),
        quarters=sum(map(_QUARTERS, sets)),
        quarter_done=sum(map(_QUARTER_DONE, sets)),
        vendors=reduce(or_, map(_VENDORS, sets), 0),
    )


def _attribute_counts(sets: dict[int, _Set], vocabulary: Vocabulary) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for group in sets.values():
        for code in group.codes:
            counts[vocabulary.keys[code]] += group.support
    return counts


# --- Closedness -----------------------------------------------------------------------------


def closed_combinations(supports: dict[tuple, int]) -> list[tuple]:
    """Drop combinations a larger one containing them has exactly the same members of.

    A larger combination's members are a subset of each smaller one's, so equal members
    means equal support, and comparing supports with the combinations one attribute larger
    is enough (a larger one still with the same support is sandwiched between them).
    """
    folded = set()
    for combo, support in supports.items():
        if len(combo) > 2:
            folded.update(sub for sub in combinations(combo, len(combo) - 1)
                          if supports.get(sub) == support)  # fmt: skip
    return [combo for combo in supports if combo not in folded]


def same_members(
    combos: list[tuple], containing: dict[tuple, list[_Set]], supports: dict[tuple, int]
) -> dict[tuple, list[tuple]]:
    """Combinations with exactly the members of an earlier one, by that earlier one.

    Closedness compares a combination with those one attribute larger only, so when the
    members of a 3-attribute combination share a fourth attribute, every 3-attribute subset
    of the four stays with exactly the same members. The sets of ``containing`` partition
    the incidents and every list of them runs in one order, so two combinations have the
    same members exactly when their lists hold the same sets: the support, the number of
    sets and the first and last of them pick the candidates, and only those lists are
    compared whole, by identity.
    """
    # The candidates' signature is an int, and a group's list is made only when a second
    # combination joins it: no container per combination for the cycle collector to scan
    # (the refresh holds millions of objects; tuples here cost more than the grouping).
    firsts: dict[int, tuple | list[tuple]] = {}
    folded: dict[tuple, list[tuple]] = {}
    for combo in combos:
        sets = containing[combo]
        signature = id(sets[0]) ^ (id(sets[-1]) << 1) ^ (len(sets) << 64) ^ (supports[combo] << 96)
        found = firsts.setdefault(signature, combo)
        if found is combo:
            continue
        candidates = found if isinstance(found, list) else [found]
        for first in candidates:
            if len(sets) == len(containing[first]) and all(map(is_, sets, containing[first])):
                folded.setdefault(first, []).append(combo)
                break
        else:  # the same signature, other members: rare
            firsts[signature] = [*candidates, combo]
    return folded


# --- The latest members -----------------------------------------------------------------------

_LATEST_SQL = f"""
    SELECT set_id, incident_id, {_MICROSECONDS.format("started_at")}, done
    FROM (
        SELECT set_id, incident_id, started_at, done, rank() OVER (
            PARTITION BY set_id
            ORDER BY started_at DESC NULLS LAST,
                     CASE WHEN started_at IS NULL THEN incident_id END DESC
        ) AS place
        FROM refresh_incident
        WHERE cardinality(codes) >= 2
    ) ranked
    WHERE place <= %s
"""


def _load_latest(sets: dict[int, _Set]) -> None:
    """Each set's latest members, ties on the last start included.

    A combination's latest members are among the latest of each set containing it, and
    so are the members starting at the same moment as its last one, which its "recurred
    after" figures need. Sets are far fewer than incidents, and most are small.
    """
    with connection.cursor() as cursor:
        cursor.execute(_LATEST_SQL, [LATEST_MEMBERS])
        for set_id, incident_id, moment, done in cursor.fetchall():
            order = _NO_START if moment is None else (0, -moment)
            sets[set_id].members.append((*order, -incident_id, incident_id, done))
    for group in sets.values():
        group.members.sort()


def latest_members(
    sets: list[_Set], total: _Set, first_quarter: int, width: int
) -> tuple[list[int], list[int]]:
    """A combination's latest members, newest first, and the fixes each recurred after."""
    cutoff = _cutoff(total, first_quarter, width)
    candidates = []
    for group in sets:
        if cutoff is None:
            candidates += group.members
            continue
        if group.last < cutoff:
            break  # the sets run from the latest last start down: none of the rest qualifies
        # Members starting at or after the cutoff: a prefix, newest first.
        candidates += group.members[: bisect_right(group.members, (0, -cutoff, math.inf))]
    candidates.sort()
    ids, priors = [], []
    later, index = 0, 0  # done items of the members starting at or after the current one
    for member in candidates[:LATEST_MEMBERS]:
        ids.append(member[3])
        if member[0]:  # no start: it cannot be placed after anything
            priors.append(0)
            continue
        while index < len(candidates) and candidates[index][:2] <= member[:2]:
            later += candidates[index][4]
            index += 1
        priors.append(total.done - later)
    return ids, priors


def _cutoff(total: _Set, first_quarter: int, width: int) -> int | None:
    """The start of the latest quarter from which on the combination has enough members.

    None when it has too few with a start: then every member is a candidate.
    """
    seen, quarter, field_mask = 0, total.quarters.bit_length() // width, (1 << width) - 1
    while quarter >= 0:
        seen += (total.quarters >> (quarter * width)) & field_mask
        if seen >= LATEST_MEMBERS:
            return _quarter_start(first_quarter + quarter)
        quarter -= 1
    return None


def _quarter_start(index: int) -> int:
    moment = datetime(index // 4, index % 4 * 3 + 1, 1, tzinfo=UTC)
    return (moment - EPOCH) // timedelta(microseconds=1)


# --- Description and scoring ----------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    """What scoring and titles need, fetched once for all patterns (no per-pattern queries)."""

    total: int
    attribute_counts: dict[str, int]
    names: dict[str, str]
    first_quarter: int
    width: int
    vendor_slugs: list[str]  # by bit
    now: datetime


def _vendor_slugs(vendor_ids: list[int]) -> list[str]:
    slugs = dict(Vendor.objects.filter(id__in=vendor_ids).values_list("id", "slug"))
    return [slugs.get(pk, str(pk)) for pk in vendor_ids]


def _representative(
    group: list[tuple], support: int, context: _Context, stored: Mapping[str, int]
) -> tuple:
    """The combination that stands for a group with the same members.

    A stored one first, the oldest if several are (its id and URL stay as they were); then
    the most attributes, then the highest lift (the rarest attributes: the most telling
    combination), then the key, so a new group gets the same one on every refresh.
    """
    if len(group) == 1:
        return group[0]

    def rank(attributes: tuple) -> tuple:
        stored_id = stored.get("+".join(attributes))
        lift = compute_lift(
            support, [context.attribute_counts[a] for a in attributes], context.total
        )
        return (stored_id is None, stored_id or 0, -len(attributes), -lift, attributes)

    return min(group, key=rank)


def _describe(
    attributes: tuple, sets: list[_Set], context: _Context, equivalents: tuple = ()
) -> MinedPattern:
    total = _total(sets)
    ranked = _bits(total.vendors, context.vendor_slugs)  # most incidents first
    vendors = tuple(sorted(ranked))
    dated = total.last >= total.first
    first_seen = _moment(total.first) if dated else None
    last_seen = _moment(total.last) if dated else None
    lift = compute_lift(
        total.support, [context.attribute_counts[a] for a in attributes], context.total
    )
    ids, priors = latest_members(sets, total, context.first_quarter, context.width)
    return MinedPattern(
        attributes=attributes,
        support=total.support,
        lift=lift,
        vendors=vendors,
        top_vendors=tuple(ranked[:TOP_VENDORS]),
        first_seen=first_seen,
        last_seen=last_seen,
        quarter_counts=_unpack_quarters(total.quarters, context.first_quarter, context.width),
        completed_actions=total.done,
        quarter_completed_actions=_unpack_quarters(
            total.quarter_done, context.first_quarter, context.width
        ),
        latest_members=tuple(ids),
        latest_prior_actions=tuple(priors),
        title=pattern_title(attributes, context.names, total.support, len(vendors), first_seen),
        score=compute_score(total.support, lift, len(vendors), last_seen, context.now),
        equivalents=equivalents,
    )


def _bits(bitmap: int, labels: list[str]) -> list[str]:
    found = []
    while bitmap:
        low = bitmap & -bitmap
        found.append(labels[low.bit_length() - 1])
        bitmap ^= low
    return found


def _moment(microseconds: int) -> datetime:
    return EPOCH + timedelta(microseconds=microseconds)


def _unpack_quarters(packed: int, first_quarter: int, width: int) -> dict[str, int]:
    """``{"2014-Q4": 2}`` for every quarter with a count, oldest first."""
    counts, quarter, field_mask = {}, 0, (1 << width) - 1
    while packed:
        if count := packed & field_mask:
            index = first_quarter + quarter
            counts[f"{index // 4}-Q{index % 4 + 1}"] = count
        packed >>= width
        quarter += 1
    return counts


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
    """Every term's name by attribute key (the vocabularies are small: one query)."""
    change_types, categories = (
        model.objects.order_by().values_list(
            Concat(Value(prefix), "slug", output_field=CharField()), "name"
        )
        for prefix, model in ((CHANGE_TYPE_PREFIX, ChangeType), (CATEGORY_PREFIX, FailureCategory))
    )
    return dict(change_types.union(categories, all=True))
