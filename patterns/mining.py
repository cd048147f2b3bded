"""Recurring-pattern mining: what keeps coming back, and how strongly the evidence says so.

An incident's attributes are its change types (``ct:``), its factors' categories whatever the
role (``cat:``) and its contributing factors' categories (``cf:``); see
``patterns.attributes``. Only published incidents count. Candidates are every combination of
2 or 3 change types and categories, and every single change type or contributing factor,
shared by at least ``min_support`` incidents, counted from the sets of attributes SQL groups
the incidents into. Only *closed* candidates are kept, one per set of member incidents: a
candidate is dropped when a larger one containing it has exactly the same members (it says
nothing the larger one does not); candidates with exactly the same members otherwise (the
3-attribute subsets of members sharing four attributes, a contributing factor all of whose
incidents share a trigger) are folded into one, which names the others as its
``equivalents`` (see ``same_members``), a combination standing for a single attribute.

Each pattern is tested against chance and ranked by the evidence (``patterns.evidence``).
Then **variants are folded into families**: walking down the ranking, a pattern whose members
overlap a stronger family head's by a Jaccard index of at least ``VARIANT_OVERLAP`` (half of
all the members of either are members of both) joins that family as a *variant*; otherwise
it heads a family of its own. Only patterns one attribute apart are compared (one more, one
less or one different: a single and a pair sharing it, two pairs sharing one, a pair and a
triple containing it, two triples sharing two), a contributing factor counting as its
category: variants are the same cluster told a little differently. A variant keeps its key
and id.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import reduce
from itertools import chain, combinations
from operator import attrgetter, is_, or_

import numpy as np
from django.db import connection, transaction
from django.db.models import CharField, Value
from django.db.models.functions import Concat
from django.utils import timezone

from patterns import evidence, profiles
from patterns.attributes import (
    CATEGORY_PREFIX,
    CHANGE_TYPE_PREFIX,
    CONTRIBUTING_PREFIX,
    MAX_SIZE,
    attribute_label,
    combines,
    stands_alone,
    term_key,
)
from patterns.models import LATEST_MEMBERS, TOP_VENDORS
from patterns.profiles import Vocabulary
from postmortems.models import ChangeType, FailureCategory, IncidentVendor, Vendor

# A pattern whose members overlap a stronger one's by this Jaccard index or more is its variant.
VARIANT_OVERLAP = 0.5
# Candidates with at least this many incidents count as tested (see ``patterns.evidence``),
# whatever the minimum support asked for: the evidence does not depend on it.
TESTED_SUPPORT = 2
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
    # The test against chance (``patterns.evidence``): its measure, what chance predicts
    # (incidents, or vendors for spread), log10 of the p-value, and the evidence in decades.
    measure: str = evidence.ASSOCIATION
    expected: float = 0.0
    log10_p: float = 0.0
    strength: float = 0.0
    score: float = 0.0
    # The other combinations with exactly these members, folded into this one.
    equivalents: tuple[tuple[str, ...], ...] = ()
    # The key of the family head this is a variant of, and how much their members overlap.
    variant_of: str | None = None
    overlap: float = 0.0
    variant_count: int = 0  # of a head: the variants in its family

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
    vendor_sizes: list[int]  # published incidents of each vendor, by bit


def recurring_patterns(
    min_support: int = 3, max_size: int = MAX_SIZE, *, now: datetime | None = None
) -> list[MinedPattern]:
    """Closed patterns shared by ≥ ``min_support`` published incidents, best first."""
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
    Python lists, for each candidate, the sets containing it and adds them up. ``stored``
    maps the keys of the patterns already stored to their ids: of candidates with the same
    members, a stored one represents them, so the pattern keeps its id (see ``_representative``).
    """
    if not 2 <= max_size <= MAX_SIZE:
        raise ValueError(f"max_size must be 2 or 3, not {max_size}.")
    loaded = _load_sets()
    alone = frozenset(code for code, key in enumerate(vocabulary.keys) if stands_alone(key))
    combined = frozenset(code for code, key in enumerate(vocabulary.keys) if combines(key))
    containing = _combine(loaded.sets, max_size, alone, combined)
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
        vendor_sizes=loaded.vendor_sizes,
        now=now or timezone.now(),
        tested=sum(1 for n in supports.values() if n >= TESTED_SUPPORT),
    )
    folded = same_members(kept, containing, supports)
    away = {combo for others in folded.values() for combo in others}
    described, members = [], {}
    for combo in kept:
        if combo in away:
            continue
        group = (combo, *folded.get(combo, ()))
        named = [tuple(vocabulary.keys[code] for code in codes) for codes in group]
        first = _representative(named, supports[combo], context, stored or {})
        others = tuple(attributes for attributes in named if attributes != first)
        pattern = _describe(first, containing[combo], context, others)
        described.append(pattern)
        members[pattern.key] = containing[combo]
    ranked = sorted(_with_evidence(described, context, supports, vocabulary),
                    key=lambda p: (-p.score, p.key))  # fmt: skip
    return fold_variants(ranked, members, supports, vocabulary)


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
    return _Loaded(sets, first_quarter, width, ranked, [incidents[v] for v in ranked])


def _combine(
    sets: dict[int, _Set], max_size: int, alone: frozenset[int], combined: frozenset[int]
) -> dict[tuple, list[_Set]]:
    """Every candidate with the sets containing it: the single attributes that stand alone
    (codes in ``alone``) and every combination of 2 to ``max_size`` of those that combine.

    Each list runs from the set with the latest member to the one with the earliest, so
    finding a candidate's latest members can stop early.
    """
    containing: dict[tuple, list[_Set]] = {}
    for group in sorted(sets.values(), key=_LAST, reverse=True):
        codes = [code for code in group.codes if code in combined]
        singles = [(code,) for code in group.codes if code in alone]
        sizes = range(2, min(max_size, len(codes)) + 1)
        for combo in chain(singles, *(combinations(codes, size) for size in sizes)):
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
    is enough (a larger one still with the same support is sandwiched between them). A
    single change type is the smaller one of its pairs; a contributing factor is in no
    combination, and ``same_members`` folds it where its members equal one's.
    """
    folded = set()
    for combo, support in supports.items():
        if len(combo) > 1:
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
        WHERE cardinality(codes) >= 1
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
    vendor_sizes: list[int]  # by bit
    now: datetime
    tested: int  # candidates with at least TESTED_SUPPORT incidents


def _vendor_slugs(vendor_ids: list[int]) -> list[str]:
    slugs = dict(Vendor.objects.filter(id__in=vendor_ids).values_list("id", "slug"))
    return [slugs.get(pk, str(pk)) for pk in vendor_ids]


def _representative(
    group: list[tuple], support: int, context: _Context, stored: Mapping[str, int]
) -> tuple:
    """The combination that stands for a group with the same members.

    A combination before a single attribute (the single one folds into it); then a stored
    one, the oldest if several are (its id and URL stay as they were); then the most
    attributes, then the highest lift (the rarest attributes: the most telling combination),
    then the key, so a new group gets the same one on every refresh.
    """
    if len(group) == 1:
        return group[0]

    def rank(attributes: tuple) -> tuple:
        stored_id = stored.get("+".join(attributes))
        lift = compute_lift(
            support, [context.attribute_counts[a] for a in attributes], context.total
        )
        return (len(attributes) == 1, stored_id is None, stored_id or 0, -len(attributes),
                -lift, attributes)  # fmt: skip

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
        equivalents=equivalents,
    )


def _with_evidence(
    patterns: list[MinedPattern],
    context: _Context,
    supports: dict[tuple, int],
    vocabulary: Vocabulary,
) -> list[MinedPattern]:
    """The patterns with their test against chance and their score (``patterns.evidence``).

    Each measure runs once over arrays of every pattern it applies to.
    """
    code_of = {key: code for code, key in enumerate(vocabulary.keys)}
    counts, total = context.attribute_counts, context.total
    tests: dict[int, tuple[str, float, float]] = {}  # index -> (measure, log10 p, expected)

    def run(indexes: list[int], measure: str, outcome: evidence.Tested, measures=None) -> None:
        for n, index in enumerate(indexes):
            name = measure if measures is None else measures[n]
            tests[index] = (name, float(outcome.log10_p[n]), float(outcome.expected[n]))

    by_size: dict[int, list[int]] = defaultdict(list)
    for index, pattern in enumerate(patterns):
        by_size[len(pattern.attributes)].append(index)
    pairs = by_size.get(2, [])
    if pairs:
        run(pairs, evidence.ASSOCIATION, evidence.association(
            [patterns[i].support for i in pairs],
            [counts[patterns[i].attributes[0]] for i in pairs],
            [counts[patterns[i].attributes[1]] for i in pairs],
            total,
        ))  # fmt: skip
    triples = by_size.get(3, [])
    if triples:
        run(triples, evidence.ASSOCIATION, _triple_association(
            [patterns[i] for i in triples], counts, supports, code_of, total
        ))  # fmt: skip
    singles = by_size.get(1, [])
    if singles:
        attributes = [patterns[i].attributes[0] for i in singles]
        spread = evidence.spread(
            [len(patterns[i].vendors) for i in singles],
            [patterns[i].support for i in singles],
            context.vendor_sizes,
            total,
        )
        contributing = np.array([a.startswith(CONTRIBUTING_PREFIX) for a in attributes])
        recurrence = evidence.recurrence(
            [patterns[i].support for i in singles], total, _typical_share(counts, total)
        )
        both, recurred = evidence.stronger(spread, recurrence)
        chosen = evidence.Tested(
            np.where(contributing, both.log10_p, spread.log10_p),
            np.where(contributing, both.expected, spread.expected),
        )
        measures = [evidence.RECURRENCE if c and r else evidence.SPREAD
                    for c, r in zip(contributing, recurred, strict=True)]  # fmt: skip
        run(singles, evidence.SPREAD, chosen, measures)
    result = []
    for index, pattern in enumerate(patterns):
        measure, log10_p, expected = tests[index]
        strength = evidence.evidence(log10_p, context.tested)
        observed = len(pattern.vendors) if measure == evidence.SPREAD else pattern.support
        result.append(replace(
            pattern,
            measure=measure,
            expected=expected,
            lift=observed / expected if expected > 0 else 0.0,
            log10_p=log10_p,
            strength=strength,
            score=evidence.score(strength, len(pattern.vendors), pattern.last_seen, context.now),
        ))  # fmt: skip
    return result


def _triple_association(
    triples: list[MinedPattern],
    counts: dict[str, int],
    supports: dict[tuple, int],
    code_of: dict[str, int],
    total: int,
) -> evidence.Tested:
    """Each triple against the least telling of its three (pair, third attribute) splits."""
    support, part, rest = [], [], []
    for pattern in triples:
        codes = [code_of[a] for a in pattern.attributes]
        for third in range(3):
            pair = tuple(code for n, code in enumerate(codes) if n != third)
            support.append(pattern.support)
            part.append(supports[pair])
            rest.append(counts[pattern.attributes[third]])
    tested = evidence.association(support, part, rest, total)
    log10_p = tested.log10_p.reshape(-1, 3)
    worst = log10_p.argmax(axis=1)
    rows = np.arange(len(triples))
    return evidence.Tested(log10_p[rows, worst], tested.expected.reshape(-1, 3)[rows, worst])


def _typical_share(counts: dict[str, int], total: int) -> float:
    """The median share of incidents among the contributing factors that occur."""
    shares = [n / total for key, n in counts.items() if key.startswith(CONTRIBUTING_PREFIX) and n]
    return float(np.median(shares)) if shares and total else 0.0


# --- Families of variants -------------------------------------------------------------------


def fold_variants(
    ranked: list[MinedPattern],
    members: dict[str, list[_Set]],
    supports: dict[tuple, int],
    vocabulary: Vocabulary,
) -> list[MinedPattern]:
    """Mark each pattern that overlaps a stronger family head as its variant (module docstring).

    ``ranked`` runs best first and ``members`` gives each pattern's sets. The overlap of two
    patterns is counted only when nothing rules it out cheaply: a Jaccard index of at least
    ``VARIANT_OVERLAP`` needs supports within a factor two, and the incidents of both share
    every attribute of both, so a sub-combination of those that no incident has, or that has
    too few, settles it without reading the sets.
    """
    code_of = {key: code for code, key in enumerate(vocabulary.keys)}
    # Heads by the terms they are made of: ``by_term`` (heads of 1 or 2 attributes) for a
    # candidate sharing one term, ``by_pair`` (heads of 2 or 3) for one sharing two.
    by_term: dict[str, list[int]] = defaultdict(list)
    by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
    head_of: dict[int, tuple[int, float]] = {}
    member_ids: dict[int, set[int]] = {}
    for index, pattern in enumerate(ranked):
        terms = sorted({term_key(a) for a in pattern.attributes})
        pairs = list(combinations(terms, 2))
        candidates = {h for pair in pairs for h in by_pair[pair]}
        if len(terms) < 3:  # a single or a pair meets heads one term away through any term
            candidates.update(h for term in terms for h in by_term[term])
        for head in sorted(candidates):  # the strongest first
            other = ranked[head]
            if len(other.attributes) == 3 and len(terms) == 1:
                continue  # two terms apart
            overlap = _overlap(pattern, other, members, member_ids, head, supports, code_of)
            if overlap >= VARIANT_OVERLAP:
                head_of[index] = (head, overlap)
                break
        else:
            if len(terms) < 3:
                for term in terms:
                    by_term[term].append(index)
            for pair in pairs:
                by_pair[pair].append(index)
    variants = Counter(head for head, _ in head_of.values())
    result = []
    for index, pattern in enumerate(ranked):
        if index in head_of:
            head, overlap = head_of[index]
            result.append(replace(pattern, variant_of=ranked[head].key, overlap=overlap))
        else:
            result.append(replace(pattern, variant_count=variants[index]))
    return result


def _overlap(
    pattern: MinedPattern,
    head: MinedPattern,
    members: dict[str, list[_Set]],
    member_ids: dict[int, set[int]],
    head_index: int,
    supports: dict[tuple, int],
    code_of: dict[str, int],
) -> float:
    """The Jaccard index of the two patterns' members (0 when ruled out early)."""
    small, large = sorted((pattern.support, head.support))
    if small * 2 < large:
        return 0.0
    needed = (small + large) / (1 + 1 / VARIANT_OVERLAP)  # the intersection J = 0.5 needs
    # An upper bound: every member of both has each combinable sub-combination of the union
    # (a contributing factor's incidents have its category in any role).
    union = tuple(sorted({code_of[term_key(a)] for a in (*pattern.attributes, *head.attributes)}))
    exact = len(union) <= 3 and not any(
        a.startswith(CONTRIBUTING_PREFIX) for a in (*pattern.attributes, *head.attributes)
    )
    if exact:  # the members of both are exactly the union's
        both = supports.get(union, 0)
        return both / (pattern.support + head.support - both)
    for combo in combinations(union, min(len(union), 3)):
        if supports.get(combo, 0) < needed:
            return 0.0
    ids = member_ids.get(head_index)
    if ids is None:
        ids = member_ids[head_index] = set(map(id, members[head.key]))
    both = sum(group.support for group in members[pattern.key] if id(group) in ids)
    return both / (pattern.support + head.support - both)


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

    E.g. "Configuration change + Rollout not staged — 7 incidents across 5 vendors since 2014",
    or "Rollout not staged (contributing factor) — 9 incidents across 7 vendors since 2012".
    """
    # Change types first: the trigger reads before the weaknesses it exposed.
    ordered = sorted(attributes, key=lambda a: (not a.startswith(CHANGE_TYPE_PREFIX), a))
    label = " + ".join(attribute_label(a, names) for a in ordered)
    text = f"{label} — {support} incident{'s' if support != 1 else ''}"
    if vendor_count:
        text += f" across {vendor_count} vendor{'s' if vendor_count != 1 else ''}"
    if first_seen is not None:
        text += f" since {first_seen.year}"
    return text


def attribute_names() -> dict[str, str]:
    """Every term's name by attribute key, ``cf:`` included (two small vocabularies: one query)."""
    change_types, categories, contributing = (
        model.objects.order_by().values_list(
            Concat(Value(prefix), "slug", output_field=CharField()), "name"
        )
        for prefix, model in (
            (CHANGE_TYPE_PREFIX, ChangeType),
            (CATEGORY_PREFIX, FailureCategory),
            (CONTRIBUTING_PREFIX, FailureCategory),
        )
    )
    return dict(change_types.union(categories, contributing, all=True))
