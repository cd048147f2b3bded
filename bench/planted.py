"""Knowledge bases with planted truth, and how the pattern engine does on them.

``plant(n)`` fills an empty knowledge base with ``n`` published incidents in which a few
recurring patterns are planted with a known member set, inside noise whose attributes are
independent by construction; ``evaluate(truth)`` runs the real
``patterns.services.refresh_patterns`` and compares what it stored with that truth. The test
suite imports this module as ``bench.planted``, and ``bench/patterns_eval`` runs it at
100, 10,000 and 1,000,000 incidents in a database of its own.

**The noise.** Every incident, planted or not, gets noise attributes from one product
distribution: each of the 15 seeded change types with probability
``CHANGE_TYPE_RATE / rank ** CHANGE_TYPE_EXPONENT`` (30% for code deploys down to 2%) and each
of the 28 seeded failure categories with probability ``CATEGORY_RATE / rank **
CATEGORY_EXPONENT`` (18% down to 1.7%), Zipf-like, in ``CHANGE_TYPE_RANKS`` and
``CATEGORY_RANKS`` order, every draw independent of every other; an included category is a
contributing factor with probability ``CONTRIBUTING_SHARE``, otherwise a root cause. Vendors
have Zipf-like sizes (``VENDOR_EXPONENT``; one vendor per ``INCIDENTS_PER_VENDOR``
incidents: a few huge, many with a handful of incidents), and an incident's vendor is drawn
independently of its attributes (but for the spread plant's, below). So any combination of
seeded (noise) attributes meets exactly as often as chance predicts: those are the
*chance-level* combinations. Planted incidents carry noise too, drawn the same way, or the
noise attributes would be rarer among them and hence correlated with one another. The
categories' exponent (0.7) leaves five noise contributing factors with at least twice the
median one's share (6.0% down to 1.9%, against 0.95%): with the five planted families that
makes ten genuine findings, so a top 10 can hold every plant and only genuine findings.

**The plants** use failure categories created for them (slugs ``planted-…``), carried by no
other incident, so each planted pattern's members are known exactly (sizes scale with ``n``,
see ``Sizes``):

* ``spread`` — one planted category as a contributing factor (``cf:``) in 2% of the
  incidents, each at a different vendor (nine in ten among the smaller three quarters of
  them): more than twice the typical contributing factor's share, at far more vendors than
  its frequency predicts;
* ``pair`` — a common change type (``PAIR_CHANGE_TYPE``) with a planted root cause, 1%;
* ``triple`` — a change type (``TRIPLE_CHANGE_TYPE``) with two planted root causes, 0.5%;
* ``small-but-strong`` — two planted root causes together and nowhere else, in very few
  incidents (3 at 100, 5 at 10,000, 20 at 1,000,000);
* ``family`` — a core of two planted categories (a + b) in 1% of the incidents; 70% of
  them also carry a third (c), and incidents amounting to 30% more carry a + c without b.
  So a + b, a + b + c and a + c all recur, their members overlapping by Jaccard ≥ 0.5
  (7/10, 7/10 and 7/13): one family, shown once, the others as its variants (b + c has
  exactly the members of a + b + c and is folded away by closedness).

When every member of a planted pattern happens to share a noise attribute, one member
loses it: otherwise a larger combination would have the same members and the planted
one would be folded into it (a change of at most one incident per attribute and plant).

**Genuine, not chance.** Precision@10 counts a top-10 family head as right when it is a
planted pattern, or is genuinely associated by the generator's own truth (never the
engine's): its members overlap a planted pattern's by a Jaccard index ≥ 0.5, or its
attributes all belong to one planted shape, or it is a noise ``cf:`` whose generating
share (its category's probability times ``CONTRIBUTING_SHARE``) is at least twice the median
contributing factor's (the median over every category's generating share as a
contributing factor, the planted one included). Every other head combines independent
draws: chance by construction.

Nothing here imports Django at module level: ``plant`` and ``evaluate`` need Django set up
(the bench's ``common.setup_django`` or the test suite's) and the seeded taxonomy present.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import chain, repeat

import numpy as np

from bench.popularity import CATEGORY_RANKS, CHANGE_TYPE_RANKS

# Moments: starts spread uniformly over eight years; the refresh runs at NOW.
FIRST_START = datetime(2017, 1, 1, tzinfo=UTC)
LAST_START = datetime(2024, 12, 1, tzinfo=UTC)
NOW = datetime(2025, 1, 1, tzinfo=UTC)

# Popularity ranks of the noise: those of bench/generate (seeded terms not listed follow).
CHANGE_TYPE_RATE = 0.30  # the most common change type's share; rank r: RATE / r ** EXPONENT
CHANGE_TYPE_EXPONENT = 1.0
CATEGORY_RATE = 0.18
CATEGORY_EXPONENT = 0.7
CONTRIBUTING_SHARE = 1 / 3  # of the noise factors
VENDOR_EXPONENT = 1.0
INCIDENTS_PER_VENDOR = 25
# A noise contributing factor recurs genuinely when its generating share is this many times
# the median one's.
GENUINE_RECURRENCE = 2.0
TOP = 10
# Planted patterns ranked below the top are listed with the chance-level heads above them, down
# to this rank.
BEYOND = 50

PLANTED_PREFIX = "planted-"
PAIR_CHANGE_TYPE = "config-change"
TRIPLE_CHANGE_TYPE = "network-change"
ROOT, CONTRIBUTING = "root_cause", "contributing"
PLANTED_CATEGORIES = {
    "planted-spread-weakness": "Planted weakness at many vendors",
    "planted-pair-cause": "Planted cause of the pair",
    "planted-triple-a": "Planted triple, first cause",
    "planted-triple-b": "Planted triple, second cause",
    "planted-rare-a": "Planted rare pair, first cause",
    "planted-rare-b": "Planted rare pair, second cause",
    "planted-family-a": "Planted family core, first",
    "planted-family-b": "Planted family core, second",
    "planted-family-c": "Planted family extra",
}
SHAPES = ("spread", "pair", "triple", "small-but-strong", "family")


@dataclass(frozen=True)
class Sizes:
    """How many incidents each plant gets among ``incidents``."""

    incidents: int
    vendors: int
    spread: int
    pair: int
    triple: int
    rare: int
    family_core: int  # a + b
    family_extra: int  # of the core, also c
    family_other: int  # a + c without b

    @classmethod
    def for_incidents(cls, incidents: int) -> Sizes:
        core = max(10, round(0.01 * incidents))
        sizes = cls(
            incidents=incidents,
            vendors=max(24, incidents // INCIDENTS_PER_VENDOR),
            spread=max(10, round(0.02 * incidents)),
            pair=max(6, round(0.01 * incidents)),
            triple=max(5, round(0.005 * incidents)),
            rare=max(3, round(20 * (incidents / 1_000_000) ** 0.3)),
            family_core=core,
            family_extra=round(0.7 * core),
            family_other=round(0.3 * core),
        )
        if sizes.planted * 2 > incidents:
            raise ValueError(f"{incidents} incidents are too few: the plants need {sizes.planted}.")
        return sizes

    @property
    def planted(self) -> int:
        groups = (self.spread, self.pair, self.triple, self.rare, self.family_core)
        return sum(groups) + self.family_other


@dataclass(frozen=True)
class Cluster:
    """A planted pattern: its attributes (the key the engine should give it) and members."""

    shape: str
    name: str
    attributes: tuple[str, ...]  # sorted
    members: tuple[int, ...]  # incident ids, sorted

    @property
    def key(self) -> str:
        return "+".join(self.attributes)


@dataclass(frozen=True)
class Truth:
    """What ``plant`` built."""

    sizes: Sizes
    seed: int
    clusters: tuple[Cluster, ...]
    # The generating share of incidents of each category as a contributing factor, by cf: key.
    contributing_shares: dict[str, float]
    seconds: float

    @property
    def typical_share(self) -> float:
        return float(np.median(list(self.contributing_shares.values())))

    def cluster(self, name: str) -> Cluster:
        return next(c for c in self.clusters if c.name == name)

    def shape_terms(self) -> dict[str, set[str]]:
        """The terms of each shape's attributes (a family's, together)."""
        terms: dict[str, set[str]] = {}
        for cluster in self.clusters:
            terms.setdefault(cluster.shape, set()).update(map(term, cluster.attributes))
        return terms

    def genuinely_recurring(self, key: str) -> bool:
        """A noise contributing factor whose generating share is at least twice the median one's."""
        share = self.contributing_shares.get(key)
        return share is not None and share >= GENUINE_RECURRENCE * self.typical_share


def term(key: str) -> str:
    """``cf:x`` names category x, as ``cat:x`` does."""
    return "cat:" + key[3:] if key.startswith("cf:") else key


def is_noise(key: str) -> bool:
    return not key.split(":", 1)[1].startswith(PLANTED_PREFIX)


def ranked(slugs, ranks: list[str]) -> list[str]:
    position = {slug: i for i, slug in enumerate(ranks)}
    return sorted(slugs, key=lambda s: (position.get(s, len(ranks)), s))


def zipf(count: int, exponent: float) -> np.ndarray:
    return 1 / np.arange(1, count + 1, dtype=float) ** exponent


# --- Building ------------------------------------------------------------------------------


def plant(incidents: int, seed: int = 1, *, now: datetime = NOW) -> Truth:
    """Fill the (empty) knowledge base with ``incidents`` published incidents; see above.

    Rows go in by COPY through Django's connection, in the caller's transaction.
    """
    from core.bulk import copy_rows, reserve_ids
    from postmortems.models import (
        ChangeType,
        Factor,
        FailureCategory,
        Incident,
        IncidentVendor,
        Vendor,
    )

    started = time.perf_counter()
    if Incident.objects.exists():
        raise RuntimeError("plant() needs a knowledge base without incidents.")
    sizes = Sizes.for_incidents(incidents)
    n = incidents
    rng = np.random.default_rng(seed)
    change_types = dict(ChangeType.objects.values_list("slug", "id"))
    seeded = dict(
        FailureCategory.objects.exclude(slug__startswith=PLANTED_PREFIX).values_list("slug", "id")
    )
    planted = {}
    for slug, name in PLANTED_CATEGORIES.items():
        category, _ = FailureCategory.objects.get_or_create(
            slug=slug, defaults={"name": name, "definition": "Planted by bench/planted.py."}
        )
        planted[slug] = category.id
    ct_order = ranked(change_types, CHANGE_TYPE_RANKS)
    cat_order = ranked(seeded, CATEGORY_RANKS)
    ct_rates = CHANGE_TYPE_RATE * zipf(len(ct_order), CHANGE_TYPE_EXPONENT)
    cat_rates = CATEGORY_RATE * zipf(len(cat_order), CATEGORY_EXPONENT)

    # The noise of every incident: independent draws, a column at a time (less memory).
    ct_mask = np.zeros((n, len(ct_order)), dtype=bool)
    for column, rate in enumerate(ct_rates):
        ct_mask[:, column] = rng.random(n) < rate
    cat_mask = np.zeros((n, len(cat_order)), dtype=bool)
    contributing = np.zeros((n, len(cat_order)), dtype=bool)
    for column, rate in enumerate(cat_rates):
        cat_mask[:, column] = rng.random(n) < rate
        contributing[:, column] = rng.random(n) < CONTRIBUTING_SHARE
    weights = zipf(sizes.vendors, VENDOR_EXPONENT)
    vendor_of = rng.choice(sizes.vendors, size=n, p=weights / weights.sum())

    # Which incidents carry which plant: disjoint slices of a random order.
    order = rng.permutation(n)
    groups, start = {}, 0
    for name, count in (
        ("spread", sizes.spread), ("pair", sizes.pair), ("triple", sizes.triple),
        ("rare", sizes.rare), ("core", sizes.family_core), ("other", sizes.family_other),
    ):  # fmt: skip
        groups[name] = np.sort(order[start : start + count])
        start += count
    extra = np.sort(rng.choice(groups["core"], size=sizes.family_extra, replace=False))
    # The weakness at many vendors: one incident per vendor, mostly the smaller ones.
    small = sizes.vendors // 4
    tail = round(0.9 * sizes.spread)
    vendor_of[groups["spread"]] = rng.permutation(np.concatenate([
        rng.choice(np.arange(small, sizes.vendors), size=tail, replace=False),
        rng.choice(np.arange(small), size=sizes.spread - tail, replace=False),
    ]))  # fmt: skip

    ct_column = {slug: i for i, slug in enumerate(ct_order)}
    ct_mask[groups["pair"], ct_column[PAIR_CHANGE_TYPE]] = True
    ct_mask[groups["triple"], ct_column[TRIPLE_CHANGE_TYPE]] = True
    factors: list[tuple[np.ndarray, str, str]] = [
        (groups["spread"], "planted-spread-weakness", CONTRIBUTING),
        (groups["pair"], "planted-pair-cause", ROOT),
        (groups["triple"], "planted-triple-a", ROOT),
        (groups["triple"], "planted-triple-b", ROOT),
        (groups["rare"], "planted-rare-a", ROOT),
        (groups["rare"], "planted-rare-b", ROOT),
        (groups["core"], "planted-family-a", ROOT),
        (groups["other"], "planted-family-a", ROOT),
        (groups["core"], "planted-family-b", ROOT),
        (extra, "planted-family-c", ROOT),
        (groups["other"], "planted-family-c", ROOT),
    ]
    ct_key = lambda slug: f"ct:{slug}"  # noqa: E731
    cat_key = lambda slug: f"cat:{slug}"  # noqa: E731
    patterns = [
        ("spread", "spread: one weakness at many vendors", groups["spread"],
         ("cf:planted-spread-weakness",), None),
        ("pair", "pair: common change type + cause", groups["pair"],
         (cat_key("planted-pair-cause"), ct_key(PAIR_CHANGE_TYPE)), PAIR_CHANGE_TYPE),
        ("triple", "triple: change type + two causes", groups["triple"],
         (cat_key("planted-triple-a"), cat_key("planted-triple-b"), ct_key(TRIPLE_CHANGE_TYPE)),
         TRIPLE_CHANGE_TYPE),
        ("small-but-strong", "small but strong: two rare causes", groups["rare"],
         (cat_key("planted-rare-a"), cat_key("planted-rare-b")), None),
        ("family", "family core: a + b", groups["core"],
         (cat_key("planted-family-a"), cat_key("planted-family-b")), None),
        ("family", "family, one more: a + b + c", extra,
         (cat_key("planted-family-a"), cat_key("planted-family-b"), cat_key("planted-family-c")),
         None),
        ("family", "family, one different: a + c", np.union1d(extra, groups["other"]),
         (cat_key("planted-family-a"), cat_key("planted-family-c")), None),
    ]  # fmt: skip
    for _, _, members, _, forced in patterns:
        keep = {ct_column[forced]} if forced else set()
        _unshare(ct_mask, members, keep, rng)
        _unshare(cat_mask, members, set(), rng)

    ids = np.array(reserve_ids(Incident, n), dtype=np.int64)
    vendor_ids = np.array(reserve_ids(Vendor, sizes.vendors), dtype=np.int64)
    copy_rows(
        Vendor,
        ("id", "name", "slug"),
        (
            (pk, f"Eval vendor {rank + 1}", f"eval-vendor-{rank + 1}")
            for rank, pk in enumerate(vendor_ids.tolist())
        ),
        now=now,
    )
    span = int((LAST_START - FIRST_START).total_seconds())
    offsets = rng.integers(0, span, size=n)
    lasting = rng.integers(10 * 60, 12 * 3600, size=n)
    base = np.datetime64(FIRST_START.replace(tzinfo=None), "s")
    starts = base + offsets.astype("timedelta64[s]")
    ends = starts + lasting.astype("timedelta64[s]")
    published = ends + np.timedelta64(1, "D")
    text = [np.char.add(np.datetime_as_string(m, unit="s"), "+00:00").tolist()
            for m in (starts, ends, published)]  # fmt: skip
    copy_rows(
        Incident,
        ("id", "title", "slug", "status", "started_at", "resolved_at", "published_at"),
        (
            (pk, f"Incident {pk}", f"eval-{pk}", "published", s, e, p)
            for pk, s, e, p in zip(ids.tolist(), *text, strict=True)
        ),
        now=now,
    )
    copy_rows(
        IncidentVendor,
        ("incident_id", "vendor_id", "is_primary"),
        zip(ids.tolist(), vendor_ids[vendor_of].tolist(), repeat(True), strict=False),
        now=now,
    )
    ct_ids = np.array([change_types[slug] for slug in ct_order], dtype=np.int64)
    rows, columns = np.nonzero(ct_mask)
    copy_rows(
        Incident.change_types.through,
        ("incident_id", "changetype_id"),
        zip(ids[rows].tolist(), ct_ids[columns].tolist(), strict=True),
        now=now,
    )
    cat_ids = np.array([seeded[slug] for slug in cat_order], dtype=np.int64)
    rows, columns = np.nonzero(cat_mask)
    roles = np.where(contributing[rows, columns], CONTRIBUTING, ROOT)
    planted_rows = [
        (pk, role, planted[slug]) for members, slug, role in factors for pk in ids[members].tolist()
    ]
    copy_rows(
        Factor,
        ("incident_id", "role", "category_id"),
        chain(
            zip(ids[rows].tolist(), roles.tolist(), cat_ids[columns].tolist(), strict=True),
            planted_rows,
        ),
        now=now,
    )
    _analyze()

    shares = {f"cf:{slug}": float(rate * CONTRIBUTING_SHARE)
              for slug, rate in zip(cat_order, cat_rates, strict=True)}  # fmt: skip
    shares["cf:planted-spread-weakness"] = sizes.spread / n
    clusters = tuple(
        Cluster(shape, name, tuple(sorted(attributes)), tuple(sorted(ids[members].tolist())))
        for shape, name, members, attributes, _ in patterns
    )
    return Truth(sizes, seed, clusters, shares, time.perf_counter() - started)


def _unshare(mask: np.ndarray, members: np.ndarray, keep: set[int], rng) -> None:
    """Take from one member each noise attribute that every member has."""
    for column in np.flatnonzero(mask[members].all(axis=0)).tolist():
        if column not in keep:
            mask[members[rng.integers(len(members))], column] = False


def _analyze() -> None:
    from django.db import connection

    from postmortems.models import Factor, Incident, IncidentVendor, Vendor

    tables = [Vendor, Incident, IncidentVendor, Incident.change_types.through, Factor]
    with connection.cursor() as cursor:
        for model in tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


# --- Evaluating ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    """What the engine made of one planted pattern."""

    cluster: Cluster
    stored: bool  # a pattern with exactly this key exists
    found: bool  # ... and its members (by the incident profiles) are exactly the planted ones
    members: int  # incidents whose profile has all the attributes
    planted_members: int  # of those, planted ones
    rank: int | None  # among the family heads at the default minimum support, 1-based
    variant_of: str | None  # the head's key, when a variant
    head_rank: int | None  # the head's rank, when a variant
    score: float | None
    evidence: str
    note: str = ""

    @property
    def rank_text(self) -> str:
        if self.variant_of is not None:
            return (
                f"variant of #{self.head_rank}" if self.head_rank else "variant of an unlisted head"
            )
        return str(self.rank) if self.rank else "-"

    @property
    def family_rank(self) -> int | None:
        """Its own rank, or its head's when it is a variant."""
        return self.head_rank if self.variant_of is not None else self.rank


@dataclass(frozen=True)
class Head:
    """A pattern with its place and the generator's verdict on it."""

    rank: int | None
    key: str
    support: int
    score: float
    evidence: str
    verdict: str  # "planted", "genuine: …" or "chance…"
    variant_of: str | None = None

    @property
    def right(self) -> bool:
        return not self.verdict.startswith("chance")


@dataclass(frozen=True)
class Evaluation:
    truth: Truth
    refresh_seconds: float
    patterns: int  # stored
    heads: int  # family heads at the default minimum support
    outcomes: tuple[Outcome, ...]
    top: tuple[Head, ...]
    best_chance: Head | None  # the highest-scoring chance-level (noise-only) combination
    min_support: int
    family_heads: tuple[str, ...] = field(default=())  # the family's keys that head a family
    # Of each planted pattern ranked below the top (down to BEYOND), the chance-level heads
    # ranked above it.
    outranked_by: dict[str, tuple[Head, ...]] = field(default_factory=dict)

    @property
    def precision(self) -> float:
        return sum(h.right for h in self.top) / len(self.top) if self.top else 0.0

    def outcome(self, name: str) -> Outcome:
        return next(o for o in self.outcomes if o.cluster.name == name)


def evaluate(truth: Truth, *, now: datetime = NOW) -> Evaluation:
    """Refresh the patterns at ``now`` and compare them with ``truth``."""
    from django.conf import settings

    from patterns.models import Pattern
    from patterns.services import refresh_patterns

    started = time.perf_counter()
    refresh_patterns(now=now)
    seconds = time.perf_counter() - started
    min_support = settings.PATTERN_MIN_SUPPORT
    columns = ("id", "key", "attributes", "support", "score", "variant_of_id", "measure",
               "vendor_count", "expected", "log10_p", "equivalent_keys")  # fmt: skip
    recurring = list(Pattern.objects.recurring().only(*columns))
    heads = [p for p in recurring if p.variant_of_id is None]  # ordered: -score, key
    rank_of = {p.id: n for n, p in enumerate(heads, 1)}
    by_id = {p.id: p for p in recurring}
    outcomes = tuple(_outcome(c, rank_of, by_id) for c in truth.clusters)
    low = [o.family_rank for o in outcomes if o.family_rank and TOP < o.family_rank <= BEYOND]
    judged = [_judge(p, n, truth) for n, p in enumerate(heads[: max([TOP, *low])], 1)]
    top = tuple(judged[:TOP])
    outranked_by = {
        o.cluster.key: tuple(h for h in judged[: o.family_rank - 1] if not h.right)
        for o in outcomes
        if o.family_rank and TOP < o.family_rank <= BEYOND
    }
    chance = [p for p in recurring if len(p.attributes) > 1 and all(map(is_noise, p.attributes))]
    best = None
    if chance:
        p = max(chance, key=lambda p: (p.score, p.key))
        best = Head(rank_of.get(p.id), p.key, p.support, p.score, p.evidence_text, "chance",
                    _head_key(p, by_id))  # fmt: skip
    family = {c.key for c in truth.clusters if c.shape == "family"}
    return Evaluation(
        truth=truth,
        refresh_seconds=seconds,
        patterns=Pattern.objects.count(),
        heads=len(heads),
        outcomes=outcomes,
        top=top,
        best_chance=best,
        min_support=min_support,
        family_heads=tuple(p.key for p in heads if p.key in family),
        outranked_by=outranked_by,
    )


def _head_key(pattern, by_id) -> str | None:
    head = by_id.get(pattern.variant_of_id) if pattern.variant_of_id else None
    if pattern.variant_of_id and head is None:
        return "(a head below the minimum support)"
    return head.key if head else None


_MEMBERS_SQL = """
    WITH m AS (
        SELECT incident_id FROM {profile} WHERE attributes @> %s::varchar[]
    )
    SELECT (SELECT count(*) FROM m),
           (SELECT count(*) FROM m JOIN unnest(%s::bigint[]) AS t(id) ON t.id = m.incident_id)
"""


def _members(attributes, planted: tuple[int, ...]) -> tuple[int, int]:
    """Incidents whose stored profile has every attribute, and how many of them are planted."""
    from django.db import connection

    from patterns.models import IncidentProfile

    sql = _MEMBERS_SQL.format(profile=IncidentProfile._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(sql, [list(attributes), list(planted)])
        return cursor.fetchone()


def _outcome(cluster: Cluster, rank_of: dict, by_id: dict) -> Outcome:
    from patterns.models import Pattern

    members, planted = _members(cluster.attributes, cluster.members)
    pattern = Pattern.objects.filter(key=cluster.key).first()
    exact = members == planted == len(cluster.members)
    if pattern is None:
        folded = Pattern.objects.filter(equivalent_keys__contains=[cluster.key]).first()
        note = (f"not stored; folded into {folded.key} as an equivalent" if folded
                else "no pattern with this key")  # fmt: skip
        if not exact:
            note += f"; profiles: {members} members, {planted} of them planted"
        return Outcome(cluster, False, False, members, planted, None, None, None, None, "", note)
    note = ""
    if not exact or pattern.support != len(cluster.members):
        note = (f"stored with support {pattern.support}; profiles: {members} members, "
                f"{planted} of them planted, of {len(cluster.members)}")  # fmt: skip
    listed = by_id.get(pattern.id)
    if listed is None and not note:
        note = f"support {pattern.support} is below the minimum"
    head = _head_key(pattern, by_id)
    head_rank = rank_of.get(pattern.variant_of_id) if pattern.variant_of_id else None
    return Outcome(
        cluster=cluster,
        stored=True,
        found=exact and pattern.support == len(cluster.members),
        members=members,
        planted_members=planted,
        rank=rank_of.get(pattern.id),
        variant_of=head,
        head_rank=head_rank,
        score=pattern.score,
        evidence=pattern.evidence_text,
        note=note,
    )


def _judge(pattern, rank: int, truth: Truth) -> Head:
    def head(verdict: str) -> Head:
        return Head(rank, pattern.key, pattern.support, pattern.score, pattern.evidence_text,
                    verdict)  # fmt: skip

    if pattern.key in {c.key for c in truth.clusters}:
        return head("planted")
    terms = set(map(term, pattern.attributes))
    for shape, shape_terms in truth.shape_terms().items():
        if terms <= shape_terms:
            return head(f"genuine: attributes of the {shape} plant")
    if len(pattern.attributes) == 1 and truth.genuinely_recurring(pattern.key):
        share = truth.contributing_shares[pattern.key]
        return head(f"genuine: share {share:.2%}, typical {truth.typical_share:.2%}")
    for cluster in truth.clusters:
        members, both = _members(pattern.attributes, cluster.members)
        jaccard = both / (members + len(cluster.members) - both) if members else 0.0
        if jaccard >= 0.5:
            return head(f"genuine: overlaps {cluster.key} (Jaccard {jaccard:.2f})")
    if len(pattern.attributes) == 1 and pattern.key in truth.contributing_shares:
        share = truth.contributing_shares[pattern.key]
        return head(f"chance: share {share:.2%}, typical {truth.typical_share:.2%}")
    return head("chance")


# --- Printing ------------------------------------------------------------------------------


def format_evaluation(evaluation: Evaluation) -> str:
    """The per-size report of ``bench/patterns_eval``."""
    truth, sizes = evaluation.truth, evaluation.truth.sizes
    lines = [
        f"{sizes.incidents:,} published incidents, {sizes.vendors:,} vendors, seed {truth.seed}: "
        f"{evaluation.patterns:,} patterns stored, {evaluation.heads:,} family heads with "
        f"≥ {evaluation.min_support} incidents",
        "",
    ]
    header = ("shape", "key", "planted", "exact", "rank", "evidence")
    rows = [
        (o.cluster.name, o.cluster.key, f"{len(o.cluster.members):,}",
         "yes" if o.found else "no", o.rank_text, o.evidence or "-")
        for o in evaluation.outcomes
    ]  # fmt: skip
    lines += _table(header, rows)
    for o in evaluation.outcomes:
        if o.note:
            lines.append(f"  {o.cluster.name}: {o.note}")
        if above := evaluation.outranked_by.get(o.cluster.key):
            names = ", ".join(f"{h.key} (#{h.rank}, {h.evidence})" for h in above)
            lines.append(f"  {o.cluster.name}: below chance-level heads: {names}")
    best = evaluation.best_chance
    if best is not None:
        place = f"#{best.rank}" if best.rank else f"variant of {best.variant_of}"
        lines.append(f"best chance-level combination: {best.key} ({place}, score "
                     f"{best.score:.2f}): {best.evidence}")  # fmt: skip
    rare = next(o for o in evaluation.outcomes if o.cluster.shape == "small-but-strong")
    if best is not None and rare.score is not None:
        verdict = "above" if rare.score > best.score else "NOT above"
        lines.append(f"small-but-strong pair (score {rare.score:.2f}) ranks {verdict} it")
    lines += ["", f"top {TOP} family heads:"]
    lines += _table(
        ("#", "key", "support", "score", "verdict"),
        [
            (str(h.rank), h.key, f"{h.support:,}", f"{h.score:.2f}", h.verdict)
            for h in evaluation.top
        ],
    )
    right = sum(h.right for h in evaluation.top)
    lines += [
        "",
        f"precision@{TOP}: {evaluation.precision:.2f} ({right} of {len(evaluation.top)} planted "
        "or genuinely associated)",
        f"plant {truth.seconds:.1f} s, refresh {evaluation.refresh_seconds:.1f} s",
    ]
    return "\n".join(lines)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(str(r[i])) for r in (header, *rows)) for i in range(len(header))]
    line = lambda row: "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True))  # noqa: E731
    return [line(header).rstrip(), "  ".join("-" * w for w in widths),
            *(line(r).rstrip() for r in rows)]  # fmt: skip
