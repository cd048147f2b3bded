"""The recurring-pattern engine on a planted knowledge base and on the demo postmortems."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations

import pytest

from patterns import evidence
from patterns.mining import recurring_patterns
from patterns.models import IncidentProfile, Pattern
from patterns.services import refresh_patterns
from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory, Incident, IncidentVendor
from tests.factories import FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2017, 1, 1, tzinfo=UTC)
CONFIG_ROLLOUT = ("cat:non-staged-rollout", "ct:config-change")
LEAP_DAY = ("cat:release-process-bypassed", "cat:time-handling", "ct:code-deploy")


def when(year: int, month: int, day: int = 1) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def make_incident(
    attributes: tuple[str, ...],
    *,
    vendor: str | None = None,
    started_at: datetime | None = None,
    status: str = ReviewStatus.PUBLISHED,
) -> Incident:
    incident = IncidentFactory(status=status, started_at=started_at or when(2016, 1))
    for attribute in attributes:
        kind, slug = attribute.split(":", 1)
        if kind == "ct":
            incident.change_types.add(ChangeType.objects.get(slug=slug))
        else:
            FactorFactory(incident=incident, category=FailureCategory.objects.get(slug=slug))
    if vendor:
        IncidentVendor.objects.create(
            incident=incident, vendor=VendorFactory(slug=vendor), is_primary=True
        )
    return incident


@dataclass
class Planted:
    config_rollout: list[int]
    leap_day: list[int]
    draft: int


@pytest.fixture
def planted() -> Planted:
    """Two planted patterns, a draft that matches one of them, and noise below support 3."""
    config_rollout = [
        make_incident(CONFIG_ROLLOUT, vendor=vendor, started_at=started).id
        for vendor, started in [
            ("azure", when(2014, 11, 19)),
            ("aws", when(2014, 12)),
            ("gcp", when(2015, 2, 10)),
            ("azure", when(2016, 7)),
            ("cloudflare", when(2016, 8, 15)),
        ]
    ]
    leap_day = [
        make_incident(LEAP_DAY, vendor="azure", started_at=when(2012, 2, 29)).id,
        make_incident(LEAP_DAY, vendor="aws", started_at=when(2013, 3)).id,
        make_incident(LEAP_DAY, vendor="azure", started_at=when(2015, 6)).id,
        make_incident(LEAP_DAY, vendor="github", started_at=when(2016, 1)).id,
    ]
    # Noise: every combination here occurs at most twice.
    for attributes in [
        ("ct:os-upgrade", "cat:retry-storm"),
        ("ct:os-upgrade", "cat:retry-storm", "cat:monitoring-gap"),
        ("ct:network-change", "cat:monitoring-gap"),
        ("ct:schema-migration", "cat:hidden-dependency"),
        ("ct:config-change",),
    ]:
        make_incident(attributes, vendor="noise")
    draft = make_incident(CONFIG_ROLLOUT, vendor="draft-vendor", status=ReviewStatus.DRAFT)
    return Planted(config_rollout=config_rollout, leap_day=leap_day, draft=draft.id)


def by_key(patterns) -> dict:
    return {"+".join(p.attributes): p for p in patterns}


def combinations_of(patterns) -> dict:
    """The patterns of two or three attributes, by key (single attributes left out)."""
    return {key: p for key, p in by_key(patterns).items() if len(p.attributes) > 1}


def members(pattern) -> list[int]:
    """The members a pattern lists (all of them, when it has no more than 50)."""
    return sorted(pattern.latest_members)


def test_finds_planted_patterns_with_exact_members(planted):
    mined = recurring_patterns(min_support=3, now=NOW)
    patterns = by_key(mined)

    assert set(combinations_of(mined)) == {"+".join(CONFIG_ROLLOUT), "+".join(LEAP_DAY)}
    # Configuration changes alone: the five planted and one more. Code deploys alone have
    # exactly the leap-day members: closed, they say nothing the combination does not.
    assert set(patterns) - set(combinations_of(mined)) == {"ct:config-change"}
    assert patterns["ct:config-change"].support == 6
    assert members(patterns["+".join(CONFIG_ROLLOUT)]) == sorted(planted.config_rollout)
    assert patterns["+".join(CONFIG_ROLLOUT)].support == 5
    assert members(patterns["+".join(LEAP_DAY)]) == sorted(planted.leap_day)
    assert patterns["+".join(LEAP_DAY)].support == 4


def test_sub_patterns_with_the_same_members_fold_into_the_larger_one(planted):
    attribute_sets = [set(p.attributes) for p in recurring_patterns(min_support=3, now=NOW)]

    assert set(LEAP_DAY) in attribute_sets
    assert not any(s < set(LEAP_DAY) for s in attribute_sets)


def test_sub_pattern_with_more_members_than_the_larger_one_is_kept(planted):
    extra = make_incident(("cat:time-handling", "cat:release-process-bypassed"))

    patterns = by_key(recurring_patterns(min_support=3, now=NOW))

    pair = patterns["cat:release-process-bypassed+cat:time-handling"]
    assert members(pair) == sorted([*planted.leap_day, extra.id])
    assert "+".join(LEAP_DAY) in patterns


# Four attributes the members of one pattern all share: every 3 of them have the same members.
SHARED_FOUR = (
    "cat:config-error", "cat:monitoring-gap", "cat:non-staged-rollout", "ct:config-change",
)  # fmt: skip
# Of the four triples, the one without the common change type is the least likely by chance.
RAREST_THREE = ("cat:config-error", "cat:monitoring-gap", "cat:non-staged-rollout")


def shares_four(count: int = 3) -> list[int]:
    """``count`` incidents with all four attributes, and configuration changes without them."""
    for _ in range(2):
        make_incident(("ct:config-change",), vendor="other")
    return [make_incident(SHARED_FOUR, vendor=f"v{n}").id for n in range(count)]


def test_members_sharing_four_attributes_are_one_pattern_not_four():
    shared = shares_four()

    mined = recurring_patterns(min_support=2, now=NOW)
    patterns = combinations_of(mined)

    # Not the 4 triples of the four attributes, each with these very three members.
    assert len(patterns) == 1
    [pattern] = patterns.values()
    # Beside it, only configuration changes alone (five incidents).
    assert [p.key for p in mined if len(p.attributes) == 1] == ["ct:config-change"]
    assert pattern.attributes == RAREST_THREE
    assert members(pattern) == sorted(shared)
    assert sorted(pattern.equivalents) == sorted(
        triple for triple in combinations(SHARED_FOUR, 3) if triple != RAREST_THREE
    )
    assert pattern.shared_attributes == SHARED_FOUR


def test_members_sharing_five_attributes_are_one_pattern_and_their_subsets_stay_apart():
    five = (*SHARED_FOUR, "cat:hidden-dependency")
    shared = [make_incident(five, vendor=f"v{n}").id for n in range(3)]
    # Two more with three of the five: that triple and its pairs have more members.
    more = [make_incident(SHARED_FOUR[:3], vendor="w").id for _ in range(2)]

    patterns = by_key(recurring_patterns(min_support=3, now=NOW))

    # Of C(5, 3) = 10 triples, 9 have exactly the three members; one has five.
    assert {p.support for p in patterns.values()} == {3, 5}
    assert len(patterns) == 2
    wide = next(p for p in patterns.values() if p.support == 3)
    assert members(wide) == sorted(shared) and len(wide.equivalents) == 8
    assert wide.shared_attributes == tuple(sorted(five))
    assert members(patterns["+".join(SHARED_FOUR[:3])]) == sorted(shared + more)


def test_refresh_stores_one_pattern_per_set_of_members():
    shares_four()

    summary = refresh_patterns()

    [pattern] = Pattern.objects.exclude(key="ct:config-change")
    assert (summary.patterns, summary.members) == (2, 3 + 5)
    assert pattern.key == "+".join(RAREST_THREE)
    assert len(pattern.equivalent_keys) == 3
    assert pattern.shared_attributes == list(SHARED_FOUR)


def test_a_pattern_that_comes_to_share_a_fourth_attribute_keeps_its_id():
    stored = SHARED_FOUR[1:]  # includes the common change type: not the rarest triple
    incidents = [make_incident(stored, vendor=f"v{n}") for n in range(3)]
    for _ in range(2):
        make_incident(("ct:config-change",), vendor="other")
    refresh_patterns(now=datetime(2024, 1, 1, tzinfo=UTC))
    before = Pattern.objects.exclude(key="ct:config-change").get()
    error = FailureCategory.objects.get(slug="config-error")
    for incident in incidents:  # now the members share all four
        FactorFactory(incident=incident, category=error)

    summary = refresh_patterns(now=datetime(2024, 1, 8, tzinfo=UTC))

    [after] = Pattern.objects.exclude(key="ct:config-change")
    assert (after.pk, after.key, after.detected_at) == (before.pk, before.key, before.detected_at)
    assert "+".join(RAREST_THREE) in after.equivalent_keys
    assert (summary.new, summary.retired) == (0, 0)


def test_drafts_are_ignored(planted):
    found = {i for p in recurring_patterns(min_support=3, now=NOW) for i in p.latest_members}

    assert planted.draft not in found


def test_min_support_is_configurable(planted):
    at_two = by_key(recurring_patterns(min_support=2, now=NOW))
    at_five = by_key(recurring_patterns(min_support=5, now=NOW))

    assert at_two["cat:retry-storm+ct:os-upgrade"].support == 2
    assert set(at_five) == {"+".join(CONFIG_ROLLOUT), "ct:config-change"}


def test_max_size_two_reports_pairs_only(planted):
    patterns = recurring_patterns(min_support=3, max_size=2, now=NOW)

    assert {len(p.attributes) for p in patterns} == {1, 2}
    assert "cat:release-process-bypassed+cat:time-handling" in by_key(patterns)


def test_pattern_describes_vendors_dates_quarters_and_title(planted):
    pattern = by_key(recurring_patterns(min_support=3, now=NOW))["+".join(CONFIG_ROLLOUT)]

    assert pattern.vendors == ("aws", "azure", "cloudflare", "gcp")
    assert (pattern.first_seen, pattern.last_seen) == (when(2014, 11, 19), when(2016, 8, 15))
    assert pattern.quarter_counts == {"2014-Q4": 2, "2015-Q1": 1, "2016-Q3": 2}
    assert pattern.title == (
        "Configuration change + Rollout not staged — 5 incidents across 4 vendors since 2014"
    )


def test_top_vendors_are_those_with_the_most_published_incidents_first():
    # Seven vendors share the pattern; outside it, "globex" has three more incidents,
    # "initech" two, "umbrella" one, and a draft of "zeta"'s does not count.
    vendors = ["acme", "globex", "hooli", "initech", "umbrella", "wonka", "zeta"]
    for vendor in vendors:
        make_incident(CONFIG_ROLLOUT, vendor=vendor)
    for vendor, more in (("globex", 3), ("initech", 2), ("umbrella", 1)):
        for _ in range(more):
            make_incident(("ct:os-upgrade",), vendor=vendor)
    for _ in range(5):
        make_incident(("ct:os-upgrade",), vendor="zeta", status=ReviewStatus.DRAFT)

    pattern = by_key(recurring_patterns(min_support=3, now=NOW))["+".join(CONFIG_ROLLOUT)]

    assert pattern.vendors == tuple(vendors)
    # Ties keep the order the vendors were created in.
    assert pattern.top_vendors == ("globex", "initech", "umbrella", "acme", "hooli")


def test_lift_compares_with_independent_attributes(planted):
    pattern = by_key(recurring_patterns(min_support=3, now=NOW))["+".join(CONFIG_ROLLOUT)]
    published = Incident.objects.published().count()
    # ct:config-change is on 6 published incidents, cat:non-staged-rollout on 5.
    expected = published * (6 / published) * (5 / published)

    assert pattern.lift == pytest.approx(5 / expected)


def test_pattern_across_more_vendors_outranks_same_support():
    for vendor in ("a", "b", "c"):
        make_incident(("ct:os-upgrade", "cat:retry-storm"), vendor=vendor)
    for _ in range(3):
        make_incident(("ct:schema-migration", "cat:hidden-dependency"), vendor="a")

    ranked = [p.attributes for p in recurring_patterns(min_support=3, now=NOW)]

    assert ranked == [
        ("cat:retry-storm", "ct:os-upgrade"),
        ("cat:hidden-dependency", "ct:schema-migration"),
    ]


def test_more_recent_pattern_outranks_same_support():
    for year in (2010, 2011, 2012):
        make_incident(("ct:os-upgrade", "cat:retry-storm"), vendor="a", started_at=when(year, 1))
    for year in (2014, 2015, 2016):
        make_incident(
            ("ct:schema-migration", "cat:hidden-dependency"), vendor="a", started_at=when(year, 1)
        )

    ranked = [p.attributes for p in recurring_patterns(min_support=3, now=NOW)]

    assert ranked[0] == ("cat:hidden-dependency", "ct:schema-migration")


def test_recency_fades_by_a_quarter_every_two_years_but_never_below_half():
    now = when(2016, 1)
    recent, older, ancient = (
        evidence.recency_weight(when(year, 1), now) for year in (2016, 2014, 1990)
    )

    assert (recent, older) == (1, pytest.approx(3 / 4, rel=0.01))
    assert ancient == pytest.approx(1 / 2, rel=0.01)
    # In the score, recency is secondary: at most 0.15 decades of evidence.
    gap = evidence.score(2.0, 2, when(2016, 1), now) - evidence.score(2.0, 2, when(1990, 1), now)
    assert gap == pytest.approx(0.5 * math.log10(2), rel=0.01)


def test_a_large_old_pattern_outranks_a_small_recent_one():
    # Six incidents, the last four years before NOW, against three from last year whose
    # attributes are as common: recency only breaks near-ties.
    for _ in range(30):
        make_incident(())
    for year in range(2008, 2014):
        make_incident(("ct:os-upgrade", "cat:retry-storm"), vendor="a", started_at=when(year, 1))
    for month in (1, 6, 11):
        make_incident(
            ("ct:schema-migration", "cat:hidden-dependency"), vendor="a",
            started_at=when(2016, month),
        )  # fmt: skip
        make_incident(("ct:schema-migration",), started_at=when(2016, month))
        make_incident(("cat:hidden-dependency",), started_at=when(2016, month))

    ranked = [p.attributes for p in recurring_patterns(min_support=3, now=NOW)]

    assert ranked[0] == ("cat:retry-storm", "ct:os-upgrade")


def test_mining_issues_a_fixed_number_of_queries(planted, django_assert_num_queries):
    # A savepoint and its release; 2 vocabularies (change types, categories); the working
    # tables: 3 drops, the attributes (created, copied in, analysed), the incidents and the
    # attribute sets (each created and analysed); then the sets' attributes, the sets by
    # quarter, their vendors, their latest members and the vendors' slugs: the same for 2
    # patterns or 200.
    with django_assert_num_queries(19):
        recurring_patterns(min_support=2, now=NOW)


def test_refresh_stores_exact_members(planted):
    summary = refresh_patterns(min_support=3)

    pattern = Pattern.objects.get(key="+".join(LEAP_DAY))
    # Members are the incidents whose attributes contain the pattern's.
    profiles = IncidentProfile.objects.filter(attributes__contains=pattern.attributes)
    assert sorted(profiles.values_list("incident_id", flat=True)) == sorted(planted.leap_day)
    assert sorted(pattern.latest_members) == sorted(planted.leap_day)
    assert pattern.attributes == list(LEAP_DAY)
    assert pattern.vendor_count == 3
    # The two combinations and configuration changes alone (six incidents).
    assert (summary.patterns, summary.new, summary.retired, summary.members) == (3, 3, 0, 15)


def test_a_pattern_keeps_its_id_and_dates_when_it_grows(planted):
    first = datetime(2024, 1, 1, tzinfo=UTC)
    refresh_patterns(min_support=3, now=first)
    before = Pattern.objects.get(key="+".join(CONFIG_ROLLOUT))
    newcomer = make_incident(CONFIG_ROLLOUT, vendor="newco", started_at=when(2016, 6))

    summary = refresh_patterns(min_support=3, now=datetime(2024, 1, 8, tzinfo=UTC))

    after = Pattern.objects.get(key="+".join(CONFIG_ROLLOUT))
    assert (after.pk, after.detected_at, after.support) == (before.pk, first, before.support + 1)
    assert after.computed_at == datetime(2024, 1, 8, tzinfo=UTC)
    assert sorted(after.latest_members) == sorted([*planted.config_rollout, newcomer.pk])
    assert "newco" in after.vendors
    assert (summary.patterns, summary.new, summary.retired, summary.members) == (3, 0, 0, 17)


def test_refresh_drops_patterns_that_no_longer_recur(planted):
    refresh_patterns(min_support=3)
    Incident.objects.filter(id__in=planted.leap_day[:2]).update(status=ReviewStatus.DRAFT)

    refresh_patterns(min_support=3)

    assert set(Pattern.objects.values_list("key", flat=True)) == {
        "+".join(CONFIG_ROLLOUT),
        "ct:config-change",
    }
