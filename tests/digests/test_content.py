"""What a subscriber's weekly digest contains."""

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from digests.content import DigestCache, NumberUnit, WeekNumber, build_digest
from digests.content.entries import SEVERITY_ORDER
from digests.emails import render_digest
from digests.models import DigestSubscription
from digests.schedule import DigestPeriod, due_moment_in_week, period_ending
from patterns.models import IncidentProfile, Pattern, StatsSnapshot
from postmortems.choices import ActionItemStatus, FactorRole, ReviewStatus, Severity
from postmortems.models import FailureCategory, IncidentVendor
from tests.factories import (
    ActionItemFactory,
    DigestSubscriptionFactory,
    FactorFactory,
    IncidentFactory,
    UserFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db

# Monday 16 Nov 2026 09:00 UTC up to Monday 23 Nov 09:00 UTC.
PERIOD = period_ending(datetime(2026, 11, 23, 9, tzinfo=UTC), "UTC")
SITE = settings.SITE_URL
LONG_AGO = datetime(2020, 1, 6, 9, tzinfo=UTC)


def during(weeks_ago: int = 0, hours: float = 1) -> datetime:
    """A moment ``hours`` into the week that began ``weeks_ago`` weeks before the period."""
    return PERIOD.start - timedelta(weeks=weeks_ago) + timedelta(hours=hours)


def published(weeks_ago: int = 0, hours: float = 1, **kwargs):
    """A published incident, published ``during(weeks_ago, hours)``."""
    return IncidentFactory(published_at=during(weeks_ago, hours), **kwargs)


def with_vendor(incident, vendor):
    IncidentVendor.objects.create(incident=incident, vendor=vendor)
    return incident


def category(slug: str) -> FailureCategory:
    return FailureCategory.objects.get(slug=slug)


def titles(entries) -> list[str]:
    return [entry.title for entry in entries]


@pytest.fixture
def subscription():
    return DigestSubscriptionFactory()


@pytest.fixture
def reader(viewer):
    return DigestSubscriptionFactory(user=viewer, email="viewer@example.com")


def digest_for(subscription):
    return build_digest(subscription, PERIOD)


# --- Postmortems ------------------------------------------------------------------------------


def test_lists_postmortems_published_in_the_period(subscription):
    published(title="This week")
    published(weeks_ago=1, title="Last week")

    assert titles(digest_for(subscription).postmortems) == ["This week"]


def test_drafts_and_postmortems_in_review_never_appear(subscription):
    published(title="Draft", status=ReviewStatus.DRAFT)
    published(title="In review", status=ReviewStatus.IN_REVIEW)

    assert digest_for(subscription).postmortems == []


def test_period_includes_its_start_and_excludes_its_end(subscription):
    IncidentFactory(title="Before", published_at=PERIOD.start - timedelta(microseconds=1))
    IncidentFactory(title="At start", published_at=PERIOD.start)
    IncidentFactory(title="At end", published_at=PERIOD.end)

    assert titles(digest_for(subscription).postmortems) == ["At start"]


def test_vendor_filter_keeps_incidents_of_the_chosen_vendors(subscription):
    azure, aws = VendorFactory(name="Azure"), VendorFactory(name="AWS")
    subscription.vendors.add(azure)
    with_vendor(published(title="Azure outage"), azure)
    with_vendor(published(title="AWS outage"), aws)
    published(title="No vendor")

    assert titles(digest_for(subscription).postmortems) == ["Azure outage"]


def test_category_filter_keeps_incidents_with_a_factor_in_the_category(subscription):
    subscription.categories.add(category("software-bug"))
    FactorFactory(incident=published(title="Bug"), category=category("software-bug"))
    FactorFactory(
        incident=published(title="Contributing bug"),
        category=category("software-bug"),
        role=FactorRole.CONTRIBUTING,
    )
    FactorFactory(incident=published(title="Config"), category=category("config-error"))
    # As on the incident list: a child category is not its parent.
    FactorFactory(incident=published(title="Leap day"), category=category("time-handling"))

    assert set(titles(digest_for(subscription).postmortems)) == {"Bug", "Contributing bug"}


def test_minimum_severity_keeps_incidents_at_least_that_severe(subscription):
    subscription.min_severity = Severity.MAJOR
    for severity in Severity.values:
        published(title=severity, severity=severity)

    assert titles(digest_for(subscription).postmortems) == ["critical", "major"]


def test_postmortems_come_most_severe_first_then_newest(subscription):
    published(hours=1, title="Old minor", severity=Severity.MINOR)
    published(hours=2, title="Old critical", severity=Severity.CRITICAL)
    published(hours=3, title="New critical", severity=Severity.CRITICAL)
    published(hours=4, title="New major", severity=Severity.MAJOR)

    assert titles(digest_for(subscription).postmortems) == [
        "New critical",
        "Old critical",
        "New major",
        "Old minor",
    ]


def test_shows_ten_postmortems_and_counts_the_rest(subscription):
    for hour in range(12):
        published(hours=hour + 1, title=f"Outage {hour}")

    digest = digest_for(subscription)

    assert len(digest.postmortems) == 10
    assert digest.postmortems[0].title == "Outage 11"
    assert digest.more_postmortems == 2
    assert digest.subject == "12 new postmortems — week of 16 Nov"


def test_more_url_opens_the_incident_list_filtered_like_the_subscription(subscription):
    subscription.vendors.add(VendorFactory(slug="azure"))
    subscription.categories.add(category("software-bug"))
    subscription.min_severity = Severity.MAJOR

    assert digest_for(subscription).more_url == (
        f"{SITE}/?vendor=azure&category=software-bug&severity=critical&severity=major"
    )


def test_more_url_without_filters_is_the_plain_list(subscription):
    assert digest_for(subscription).more_url == f"{SITE}/"


def test_postmortem_entry_describes_the_incident(subscription):
    incident = published(
        title="Storage outage",
        slug="storage-outage",
        severity=Severity.CRITICAL,
        started_at=datetime(2026, 11, 16, 10, tzinfo=UTC),
        resolved_at=datetime(2026, 11, 16, 13, 20, tzinfo=UTC),
    )
    with_vendor(incident, VendorFactory(name="Zeta"))
    IncidentVendor.objects.create(incident=incident, vendor=VendorFactory(name="Azure"))

    [entry] = digest_for(subscription).postmortems

    assert entry.url == f"{SITE}/incidents/storage-outage/"
    assert entry.vendors == ["Azure", "Zeta"]
    assert entry.severity == "Critical"
    assert entry.duration == "3 h 20 min"
    assert entry.published_at == incident.published_at


@pytest.mark.parametrize(
    ("moments", "expected"),
    [
        ({"resolved_at": None}, "ongoing"),
        ({"started_at": None, "resolved_at": None}, "unknown"),
        ({"resolved_at": None, "duration_unknown": True}, "unknown"),
    ],
)
def test_duration_says_when_it_is_ongoing_or_unknown(subscription, moments, expected):
    published(**moments)

    assert digest_for(subscription).postmortems[0].duration == expected


def test_headline_root_cause_is_the_first_root_cause_by_position(subscription):
    incident = published()
    FactorFactory(
        incident=incident, role=FactorRole.CONTRIBUTING, position=0, description="Not this."
    )
    FactorFactory(
        incident=incident,
        category=category("config-error"),
        position=2,
        description="Second root cause.",
    )
    FactorFactory(
        incident=incident,
        category=category("time-handling"),
        position=1,
        description="The **leap day** was not\nhandled. Certificates then failed.",
    )

    root_cause = digest_for(subscription).postmortems[0].root_cause

    assert root_cause == "Time handling: The leap day was not handled."


def test_headline_root_cause_is_capped_at_160_characters(subscription):
    FactorFactory(incident=published(), description="word " * 80)

    root_cause = digest_for(subscription).postmortems[0].root_cause

    assert len(root_cause) <= 160
    assert root_cause.startswith("Software bug: word word")
    assert root_cause.endswith("…")


def test_headline_root_cause_is_the_category_alone_without_a_description(subscription):
    FactorFactory(incident=published(), description="")

    assert digest_for(subscription).postmortems[0].root_cause == "Software bug"


def test_headline_root_cause_is_empty_without_a_root_cause(subscription):
    FactorFactory(incident=published(), role=FactorRole.MITIGATING)

    assert digest_for(subscription).postmortems[0].root_cause == ""


# --- Patterns -----------------------------------------------------------------------------------


@pytest.fixture
def min_support(settings):
    settings.PATTERN_MIN_SUPPORT = 3
    return 3


CHANGE_KINDS = itertools.count()


def pattern(title: str, published_at: list[datetime], **kwargs) -> Pattern:
    """A recurring pattern whose members were published at the given moments, as a refresh
    leaves it: the pattern, and its members' attributes in their profiles."""
    attributes = kwargs.pop("attributes", None) or [
        "cat:software-bug",
        f"ct:change-{next(CHANGE_KINDS)}",  # each pattern its own, so members match only it
    ]
    row = Pattern.objects.create(
        key="+".join(attributes),
        title=title,
        detected_at=min(published_at),
        attributes=attributes,
        support=len(published_at),
        lift=2.0,
        vendor_count=len(kwargs.get("vendors", [])),
        top_vendors=kwargs.get("vendors", [])[:5],
        score=kwargs.pop("score", 1.0),
        computed_at=max(published_at),
        **kwargs,
    )
    for moment in published_at:
        member = IncidentFactory(published_at=moment)
        IncidentProfile.objects.create(incident=member, attributes=attributes)
    return row


def test_a_pattern_that_reaches_the_minimum_support_in_the_period_is_new(subscription, min_support):
    crossed = pattern("Crossed", [during(2), during(2), during(0)])
    pattern("Detected", [during(0)] * 3)

    digest = digest_for(subscription)

    assert titles(digest.new_patterns) == ["Crossed", "Detected"]
    assert digest.new_patterns[0].url == f"{SITE}/patterns/{crossed.pk}/"
    assert digest.new_patterns[0].support == 3
    assert digest.new_patterns[0].new_members == 1
    assert digest.grown_patterns == []


def test_a_recurring_pattern_that_gained_members_has_grown(subscription, min_support):
    pattern("Grown", [during(3)] * 3 + [during(0), during(0, hours=5)], vendors=["azure"])

    digest = digest_for(subscription)

    assert digest.new_patterns == []
    [grown] = digest.grown_patterns
    assert (grown.title, grown.support, grown.new_members) == ("Grown", 5, 2)
    assert grown.vendors == ["azure"]


def test_unchanged_emerging_and_later_patterns_are_left_out(subscription, min_support):
    pattern("Unchanged", [during(3)] * 3)
    pattern("Emerging", [during(0)] * 2)
    pattern("Crossed after the period", [during(0), during(0), PERIOD.end])

    digest = digest_for(subscription)

    assert digest.new_patterns == digest.grown_patterns == []


def test_a_member_published_after_the_last_refresh_is_not_counted_yet(subscription, min_support):
    pattern("Grown", [during(3)] * 3 + [during(0)])
    IncidentFactory(published_at=during(0))  # same attributes, but no refresh has seen it

    [grown] = digest_for(subscription).grown_patterns

    assert (grown.support, grown.new_members) == (4, 1)


def test_a_member_matches_every_pattern_its_attributes_contain(subscription, min_support):
    pair = pattern("Pair", [during(3)] * 3, attributes=["cat:config-error", "ct:os-upgrade"])
    triple = pattern(
        "Triple",
        [during(3)] * 3,
        attributes=["cat:config-error", "cat:software-bug", "ct:os-upgrade"],
    )
    member = IncidentFactory(published_at=during(0))
    IncidentProfile.objects.create(
        incident=member, attributes=["cat:config-error", "cat:software-bug", "ct:os-upgrade"]
    )
    Pattern.objects.filter(pk__in=[pair.pk, triple.pk]).update(support=4)

    digest = digest_for(subscription)

    assert {(g.title, g.new_members) for g in digest.grown_patterns} == {
        ("Pair", 1),
        ("Triple", 1),
    }


def test_a_family_of_variants_is_listed_once_by_its_head(subscription, min_support):
    pair = pattern("Pair", [during(3)] * 3, attributes=["cat:config-error", "ct:os-upgrade"])
    pattern(
        "Variant",
        [during(3)] * 3,
        attributes=["cat:config-error", "cat:software-bug", "ct:os-upgrade"],
        variant_of=pair,
    )
    member = IncidentFactory(published_at=during(0))
    IncidentProfile.objects.create(
        incident=member, attributes=["cat:config-error", "cat:software-bug", "ct:os-upgrade"]
    )
    Pattern.objects.update(support=4)

    digest = digest_for(subscription)

    assert [g.title for g in digest.grown_patterns] == ["Pair"]


def test_a_contributing_factor_pattern_follows_its_category_filter(subscription, min_support):
    subscription.categories.add(category("non-staged-rollout"))
    pattern("Weakness", [during(0)] * 3, attributes=["cf:non-staged-rollout"])
    pattern("Bug", [during(0)] * 3, attributes=["cat:software-bug", "ct:config-change"])

    assert titles(digest_for(subscription).new_patterns) == ["Weakness"]


def test_patterns_follow_the_vendor_filter(subscription, min_support):
    subscription.vendors.add(VendorFactory(name="Azure", slug="azure"))
    pattern("Azure pattern", [during(0)] * 3, vendors=["aws", "azure"])
    pattern("AWS pattern", [during(0)] * 3, vendors=["aws"])

    assert titles(digest_for(subscription).new_patterns) == ["Azure pattern"]


def test_patterns_follow_the_category_filter(subscription, min_support):
    subscription.categories.add(category("config-error"))
    pattern("Config", [during(0)] * 3, attributes=["cat:config-error", "ct:os-upgrade"])
    pattern("Bug", [during(0)] * 3, attributes=["cat:software-bug", "ct:config-change"])

    assert titles(digest_for(subscription).new_patterns) == ["Config"]


# --- Rising categories --------------------------------------------------------------------------


def rising_row(kind: str, slug: str, name: str, window_days: int = 30, p_value: float = 0.001):
    return {
        "kind": kind,
        "slug": slug,
        "name": name,
        "window_days": window_days,
        "observed": 6,
        "baseline": 12,
        "expected": 1.0,
        "p_value": p_value,
    }


@pytest.fixture
def snapshot():
    return StatsSnapshot.objects.create(
        computed_at=PERIOD.end,
        data={
            "rising": [
                rising_row("category", "config-error", "Configuration error", 30, 0.0001),
                rising_row("change_type", "config-change", "Configuration change"),
                rising_row("category", "software-bug", "Software bug", 90, 0.002),
                rising_row("category", "config-error", "Configuration error", 90, 0.003),
            ]
        },
    )


def test_rising_lists_categories_from_the_latest_snapshot(subscription, snapshot):
    rising = digest_for(subscription).rising

    assert [(r.name, r.window_days) for r in rising] == [
        ("Configuration error", 30),
        ("Software bug", 90),
    ]
    assert rising[0].url == f"{SITE}/categories/config-error/"
    assert (rising[0].observed, rising[0].baseline) == (6, 1.0)


def test_rising_follows_the_category_filter(subscription, snapshot):
    subscription.categories.add(category("software-bug"))

    assert titles_of_rising(digest_for(subscription)) == ["Software bug"]


def titles_of_rising(digest) -> list[str]:
    return [r.name for r in digest.rising]


def test_rising_is_empty_before_the_first_refresh(subscription):
    assert digest_for(subscription).rising == []


# --- Action items -------------------------------------------------------------------------------


def test_overdue_items_are_the_readers_own_open_items_due_before_the_end(reader, viewer):
    incident = published(title="Outage", slug="outage")
    due = PERIOD.end.date() - timedelta(days=1)
    ActionItemFactory(incident=incident, owner=viewer, title="Mine", due_date=due)
    ActionItemFactory(
        incident=incident,
        owner=viewer,
        title="Mine in progress",
        due_date=due - timedelta(days=30),
        status=ActionItemStatus.IN_PROGRESS,
    )
    ActionItemFactory(
        incident=incident, owner=viewer, title="Due today", due_date=due + timedelta(1)
    )
    ActionItemFactory(incident=incident, owner=viewer, title="No due date")
    ActionItemFactory(incident=incident, owner=UserFactory(), title="Someone else's", due_date=due)
    ActionItemFactory(
        incident=incident,
        owner=viewer,
        title="Won't do",
        due_date=due,
        status=ActionItemStatus.WONT_DO,
    )

    overdue = digest_for(reader).overdue_items

    assert titles(overdue) == ["Mine in progress", "Mine"]
    assert overdue[1].incident_title == "Outage"
    assert overdue[1].url == f"{SITE}/incidents/outage/"
    assert (overdue[1].owner, overdue[1].due_date) == ("viewer", due)


def test_overdue_items_skip_postmortems_the_reader_may_not_see(reader, viewer):
    draft = IncidentFactory(status=ReviewStatus.DRAFT)
    ActionItemFactory(incident=draft, owner=viewer, due_date=date(2026, 1, 1))

    assert digest_for(reader).overdue_items == []


def test_overdue_items_include_the_readers_own_drafts(author):
    reader = DigestSubscriptionFactory(user=author)
    draft = IncidentFactory(status=ReviewStatus.DRAFT)
    draft.authors.add(author)
    ActionItemFactory(incident=draft, owner=author, due_date=date(2026, 1, 1))

    assert len(digest_for(reader).overdue_items) == 1


def test_email_only_subscriptions_have_no_overdue_items(subscription, viewer):
    ActionItemFactory(owner=viewer, due_date=date(2026, 1, 1))

    assert digest_for(subscription).overdue_items == []


def done(incident, completed_at: datetime, **kwargs):
    return ActionItemFactory(
        incident=incident, status=ActionItemStatus.DONE, completed_at=completed_at, **kwargs
    )


def test_completed_items_are_those_done_in_the_period(subscription, viewer):
    incident = published(weeks_ago=20, title="Outage", slug="outage")
    done(incident, during(0, hours=1), title="Earlier", owner=viewer)
    done(incident, during(0, hours=2), title="Later")
    done(incident, during(1), title="Last week")
    done(incident, PERIOD.end, title="After the period")
    done(IncidentFactory(status=ReviewStatus.DRAFT), during(0), title="On a draft")

    completed = digest_for(subscription).completed_items

    assert titles(completed) == ["Later", "Earlier"]
    assert (completed[1].owner, completed[0].owner) == ("viewer", "")
    assert completed[1].completed_at == during(0, hours=1)
    assert completed[1].url == f"{SITE}/incidents/outage/"


def test_completed_items_follow_the_filters(subscription):
    subscription.min_severity = Severity.CRITICAL
    done(published(severity=Severity.CRITICAL), during(0), title="Critical")
    done(published(severity=Severity.MINOR), during(0), title="Minor")

    assert titles(digest_for(subscription).completed_items) == ["Critical"]


# --- The week in numbers ------------------------------------------------------------------------


def numbers(subscription) -> dict[str, WeekNumber]:
    return {number.label: number for number in digest_for(subscription).numbers}


def test_postmortems_published_against_last_week_and_the_twelve_before(subscription):
    for weeks_ago in (0, 0, 0, 1, 3, 12, 13):
        published(weeks_ago=weeks_ago)
    published(status=ReviewStatus.DRAFT)

    number = numbers(subscription)["Postmortems published"]

    assert (number.this_week, number.previous_week) == (3, 1)
    assert number.trailing_average == pytest.approx(3 / 12)  # weeks -1, -3 and -12
    assert number.change == "+2 vs last week"
    assert number.unit == NumberUnit.COUNT
    assert (number.this_week_text, number.trailing_average_text) == ("3", "0.2")


def started(weeks_ago: int, hours_long: float | None, **kwargs):
    """A published incident (published long ago) that started in the given week."""
    start = during(weeks_ago)
    end = None if hours_long is None else start + timedelta(hours=hours_long)
    return IncidentFactory(started_at=start, resolved_at=end, published_at=during(100), **kwargs)


def test_incidents_started_and_downtime_by_start_week(subscription):
    started(0, 2)
    started(0, None)  # ongoing: no downtime yet
    started(0, None, duration_unknown=True)
    started(1, 0.5)
    started(5, 10.5)
    started(0, 100, status=ReviewStatus.DRAFT)

    started_number = numbers(subscription)["Incidents started"]
    downtime = numbers(subscription)["Downtime"]

    assert (started_number.this_week, started_number.previous_week) == (3, 1)
    assert started_number.trailing_average == pytest.approx(2 / 12)
    assert downtime.unit == NumberUnit.DURATION
    assert (downtime.this_week, downtime.previous_week) == (7200, 1800)
    assert downtime.trailing_average == pytest.approx((1800 + 37800) / 12)
    assert (downtime.this_week_text, downtime.trailing_average_text) == ("2 h", "55 min")
    assert downtime.change == "+1 h 30 min vs last week"


def test_action_items_completed_per_week(subscription):
    incident = published(weeks_ago=30)
    for weeks_ago in (0, 0, 2, 2, 2):
        done(incident, during(weeks_ago))
    done(published(weeks_ago=30, status=ReviewStatus.DRAFT), during(0))

    number = numbers(subscription)["Action items completed"]

    assert (number.this_week, number.previous_week, number.trailing_average) == (2, 0, 0.25)
    assert number.change == "+2 vs last week"


def test_numbers_follow_the_filters(subscription):
    subscription.min_severity = Severity.CRITICAL
    published(severity=Severity.CRITICAL)
    published(weeks_ago=1, severity=Severity.CRITICAL)
    published(severity=Severity.MAJOR)

    number = numbers(subscription)["Postmortems published"]

    assert (number.this_week, number.previous_week) == (1, 1)
    assert number.change == "same as last week"


def test_change_reads_as_a_decrease():
    number = WeekNumber("Downtime", 0, 5400, 0, unit=NumberUnit.DURATION)

    assert number.change == "-1 h 30 min vs last week"
    assert number.this_week_text == "0 min"


# --- Quiet weeks and subjects -------------------------------------------------------------------


def test_a_week_with_nothing_new_is_quiet(subscription):
    published(weeks_ago=1)

    digest = digest_for(subscription)

    assert digest.quiet
    assert digest.subject == "Nothing new — week of 16 Nov"


def test_overdue_items_alone_do_not_make_a_week_eventful(reader, viewer):
    ActionItemFactory(incident=published(weeks_ago=3), owner=viewer, due_date=date(2026, 1, 1))

    digest = digest_for(reader)

    assert digest.quiet
    assert digest.subject == "Nothing new, 1 overdue action item — week of 16 Nov"


@pytest.mark.parametrize("what", ["rising", "completed"])
def test_rising_categories_or_completed_items_make_a_week_eventful(subscription, what):
    if what == "rising":
        StatsSnapshot.objects.create(
            computed_at=PERIOD.end, data={"rising": [rising_row("category", "x", "X")]}
        )
    else:
        done(published(weeks_ago=4), during(0))

    digest = digest_for(subscription)

    assert not digest.quiet
    assert (
        digest.subject
        == {
            "rising": "1 rising failure category — week of 16 Nov",
            "completed": "1 action item completed — week of 16 Nov",
        }[what]
    )


def test_subject_counts_postmortems_and_patterns(subscription, min_support):
    pattern("Crossed", [during(0)] * 3)  # three postmortems published this week

    assert digest_for(subscription).subject == (
        "3 new postmortems, 1 recurring pattern — week of 16 Nov"
    )


def test_subject_counts_new_and_grown_patterns_together(subscription, min_support):
    pattern("New", [during(0)] * 3)
    pattern("Grown", [during(2)] * 3 + [during(0)])

    # The members published this week are its postmortems too.
    assert digest_for(subscription).subject == (
        "4 new postmortems, 2 recurring patterns — week of 16 Nov"
    )


def test_subject_for_one_postmortem(subscription):
    published()

    assert digest_for(subscription).subject == "1 new postmortem — week of 16 Nov"


def test_subject_mentions_the_readers_overdue_items(reader, viewer):
    incident = published()
    for _ in range(2):
        ActionItemFactory(incident=incident, owner=viewer, due_date=date(2026, 1, 1))

    assert digest_for(reader).subject == (
        "1 new postmortem, 2 overdue action items — week of 16 Nov"
    )


# --- Queries ------------------------------------------------------------------------------------


def busy_week(count: int, owner, name: str = "") -> None:
    """``count`` postmortems with vendors, root causes, items and patterns."""
    vendor = VendorFactory(name="Azure", slug="azure")
    for n in range(count):
        incident = with_vendor(published(hours=n + 1), vendor)
        FactorFactory(incident=incident)
        done(incident, during(0, hours=n + 1), owner=owner)
        ActionItemFactory(incident=incident, owner=owner, due_date=date(2026, 1, 1))
        pattern(f"Pattern {name}{n}", [during(0)] * 3, vendors=["azure"])
    StatsSnapshot.objects.create(
        computed_at=PERIOD.end,
        data={"rising": [rising_row("category", "software-bug", "Software bug")]},
    )


def fresh(subscription) -> DigestSubscription:
    """The subscription as a sending run loads it: nothing related cached yet."""
    return DigestSubscription.objects.get(pk=subscription.pk)


def queries_for(subscription, cache=None) -> int:
    with CaptureQueriesContext(connection) as queries:
        build_digest(subscription, PERIOD, cache=cache)
    return len(queries)


def test_digest_queries_do_not_grow_with_the_week(reader, viewer, min_support):
    busy_week(2, viewer)
    few = queries_for(fresh(reader))
    busy_week(20, viewer, "more ")
    many = queries_for(fresh(reader))

    assert few == many


def test_a_digest_with_everything_in_it_issues_a_fixed_number_of_queries(
    reader, viewer, min_support, django_assert_num_queries
):
    busy_week(3, viewer)
    reader.vendors.add(VendorFactory(slug="azure"))

    reader = fresh(reader)

    # 1-2 the subscription's vendors and categories; 3-4 the thirteen weeks' incidents and
    # completed items; 5 their vendor links (for the vendor filter); 6-8 new postmortems,
    # their vendors and root causes; 9 completed items; 10-11 the attributes of the
    # incidents published since the week began, then the patterns they match; 12 the stats
    # snapshot; 13 the reader; 14-15 their permissions; 16 their overdue items.
    with django_assert_num_queries(16):
        build_digest(reader, PERIOD)


def test_a_second_subscriber_with_the_same_filters_reuses_the_shared_part(
    reader, viewer, min_support
):
    busy_week(3, viewer)
    other = DigestSubscriptionFactory()
    cache = DigestCache()

    first = queries_for(fresh(other), cache)
    # The filters (two queries), then the reader's own part: user, permissions, items.
    second = queries_for(fresh(reader), cache)

    assert first == 11
    assert second == 6
    assert build_digest(reader, PERIOD, cache=cache).postmortems == (
        build_digest(other, PERIOD).postmortems
    )


def test_subscribers_with_other_filters_read_the_weeks_only_once(min_support):
    busy_week(3, None)
    cache = DigestCache()
    everything = DigestSubscriptionFactory()
    major = DigestSubscriptionFactory(min_severity=Severity.MAJOR)

    queries_for(fresh(everything), cache)
    # The filters (two queries): its postmortems and completed items were read already.
    assert queries_for(fresh(major), cache) == 2


def test_subscribers_with_other_filters_do_not_share_results(subscription):
    cache = DigestCache()
    vendor = VendorFactory()
    with_vendor(published(title="Vendor outage"), vendor)
    published(title="Other outage")
    filtered = DigestSubscriptionFactory()
    filtered.vendors.add(vendor)

    everything = build_digest(subscription, PERIOD, cache=cache)
    only_vendor = build_digest(filtered, PERIOD, cache=cache)

    assert len(everything.postmortems) == 2
    assert titles(only_vendor.postmortems) == ["Vendor outage"]


def test_subscribers_sharing_hours_but_not_dates_keep_their_own_week():
    # 09:00 on Monday at +14 is 09:00 on Sunday at -10: the same hours, other dates.
    end = datetime(2026, 11, 22, 19, tzinfo=UTC)
    east = period_ending(end, "Pacific/Kiritimati")
    west = period_ending(end, "Pacific/Honolulu")
    cache = DigestCache()

    first = build_digest(DigestSubscriptionFactory(), east, cache=cache)
    second = build_digest(DigestSubscriptionFactory(), west, cache=cache)

    assert first.subject == "Nothing new — week of 16 Nov"
    assert second.subject == "Nothing new — week of 15 Nov"
    assert second.period.time_zone == "Pacific/Honolulu"


# --- One cache for a sending run ----------------------------------------------------------------

ZONES = ["UTC", "America/New_York", "Asia/Tokyo", "Australia/Sydney", "Pacific/Honolulu"]


def due(time_zone: str, week: int = 48, weekday: int = 0, hour: int = 9):
    """The period of a digest due in the given ISO week of 2026, at a local weekday and hour."""
    moment = due_moment_in_week(2026, week, weekday=weekday, hour=hour, time_zone=time_zone)
    return period_ending(moment, time_zone)


@pytest.fixture
def filter_sets():
    """Subscribers with no filters, a vendor, a category or a minimum severity."""
    azure = VendorFactory(name="Azure", slug="azure")
    return [
        {},
        {"vendors": [azure]},
        {"categories": [category("config-error")]},
        {"min_severity": Severity.MAJOR},
    ]


def subscribed(filters: dict) -> DigestSubscription:
    subscription = DigestSubscriptionFactory(min_severity=filters.get("min_severity", ""))
    subscription.vendors.set(filters.get("vendors", []))
    subscription.categories.set(filters.get("categories", []))
    return subscription


@pytest.fixture
def spread_weeks(filter_sets, min_support):
    """Postmortems, items and pattern members every 29 hours, from sixteen weeks before the
    period to four after it: each zone's periods split them differently."""
    azure = filter_sets[1]["vendors"][0]
    severities = itertools.cycle(SEVERITY_ORDER)
    for n, hours in enumerate(range(-16 * 7 * 24, 4 * 7 * 24, 29)):
        moment = PERIOD.start + timedelta(hours=hours)
        start = moment - timedelta(hours=n % 5)
        end = None if n % 7 == 0 else start + timedelta(minutes=(37 * n) % 600)
        incident = IncidentFactory(
            published_at=moment, started_at=start, resolved_at=end, severity=next(severities)
        )
        if n % 3 == 0:
            with_vendor(incident, azure)
        slug = "config-error" if n % 2 else "software-bug"
        FactorFactory(incident=incident, category=category(slug), description=f"Cause {n}.")
        if n % 4 == 0:
            done(incident, moment + timedelta(hours=7), title=f"Item {n}")
    hours = (-400, -200, -30, -5, 3, 20, 100, 160, 170)
    pattern("Spread", [PERIOD.start + timedelta(hours=h) for h in hours], vendors=["azure"])
    pattern("Edges", [PERIOD.start + timedelta(hours=h) for h in (-6, 2, 165, 175)])
    StatsSnapshot.objects.create(
        computed_at=PERIOD.end,
        data={"rising": [rising_row("category", "config-error", "Configuration error")]},
    )


def test_a_shared_cache_builds_the_digests_each_reader_would_get_alone(filter_sets, spread_weeks):
    runs = [
        (subscribed(filters), due(zone, weekday=weekday, hour=hour))
        for zone in ZONES
        for weekday, hour in [(0, 9), (3, 7)]
        for filters in filter_sets
    ]
    # A late retry of an older week and a preview of a later one widen the run's window.
    runs.insert(5, (subscribed(filter_sets[1]), due("Europe/London", week=44)))
    runs.append((subscribed(filter_sets[0]), due("Asia/Tokyo", week=50, weekday=4, hour=18)))
    cache = DigestCache()

    together = [build_digest(fresh(s), period, cache=cache) for s, period in runs]
    alone = [build_digest(fresh(s), period) for s, period in runs]

    assert together == alone
    # The zones' periods do see different weeks, and every section has something in it.
    assert len({(tuple(titles(d.postmortems)), tuple(d.numbers)) for d in together}) > len(ZONES)
    assert all(d.postmortems for d in together)
    for section in ("completed_items", "rising", "new_patterns", "grown_patterns"):
        assert any(getattr(d, section) for d in together), section


def test_a_pattern_names_its_biggest_vendors_and_counts_the_others(subscription, min_support):
    # Some patterns span thousands of vendors: the email names five, as the dashboard does.
    vendors = [f"vendor-{n}" for n in range(1800)]
    pattern("Everywhere at once", [during(0)] * 3, vendors=vendors)

    email = render_digest(digest_for(subscription), unsubscribe_url=SITE, preferences_url="")

    named = "vendor-0, vendor-1, vendor-2, vendor-3, vendor-4 and 1795 more vendors"
    assert named in email.text and named in email.html
    assert "vendor-5," not in email.text and len(email.text) < 20_000


def test_vendor_slugs_that_need_escaping_are_still_escaped_in_html(subscription, min_support):
    pattern("Odd vendors", [during(0)] * 3, vendors=["azure", "r&d"])

    email = render_digest(digest_for(subscription), unsubscribe_url=SITE, preferences_url="")

    assert "azure, r&amp;d" in email.html
    assert "azure, r&d" in email.text


def in_every_period(minutes: int) -> datetime:
    """A moment every test zone's period of week 48 contains, whatever its day and hour."""
    return datetime(2026, 11, 18, 9, tzinfo=UTC) + timedelta(minutes=minutes)


def run_queries(runs: list[tuple[DigestSubscription, DigestPeriod]]) -> int:
    """Queries of a run beyond each reader's own filters (two queries each)."""
    runs = [(fresh(subscription), period) for subscription, period in runs]
    cache = DigestCache()
    with CaptureQueriesContext(connection) as queries:
        for subscription, period in runs:
            build_digest(subscription, period, cache=cache)
    return len(queries) - 2 * len(runs)


def test_a_run_reads_the_week_once_however_many_zones_and_filters(filter_sets, min_support):
    azure = filter_sets[1]["vendors"][0]
    for n in range(4):
        incident = with_vendor(IncidentFactory(published_at=in_every_period(n)), azure)
        FactorFactory(incident=incident, category=category("config-error"))
        done(incident, in_every_period(n + 10))
    pattern("Everywhere", [in_every_period(20)] * 3, vendors=["azure"])
    StatsSnapshot.objects.create(computed_at=PERIOD.end, data={"rising": []})
    readers = [subscribed(filters) for filters in filter_sets for _ in range(2)]
    periods = [
        due(zone, weekday=day, hour=hour) for zone in ZONES for day, hour in [(0, 9), (3, 9)]
    ]

    few = run_queries([(reader, PERIOD) for reader in readers])
    many = run_queries([(reader, period) for reader in readers for period in periods])

    # Once per run: the weeks' incidents and completed items, the vendor and the category
    # links (once some reader filters by them), the new postmortems with their vendors and
    # root causes, the completed items, the new members' attributes, the patterns, and the
    # statistics snapshot.
    assert few == many == 11
