"""Vendor recurrence and "did the fix work?", as stored by a refresh."""

from datetime import UTC, datetime, timedelta

import pytest

from patterns.models import PatternMember, VendorRecurrence
from patterns.services import refresh_patterns
from postmortems.choices import ActionItemStatus, ReviewStatus
from postmortems.models import ChangeType, FailureCategory, IncidentVendor
from tests.factories import ActionItemFactory, FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db


def hit(vendor: str, started_at, *, change_type="config-change", category=None, **kwargs):
    incident = IncidentFactory(started_at=started_at, **kwargs)
    incident.change_types.add(ChangeType.objects.get(slug=change_type))
    if category:
        FactorFactory(incident=incident, category=FailureCategory.objects.get(slug=category))
    IncidentVendor.objects.create(
        incident=incident, vendor=VendorFactory(slug=vendor), is_primary=True
    )
    return incident


def day(n: int) -> datetime:
    return datetime(2023, 1, 1, 12, tzinfo=UTC) + timedelta(days=n)


def recurrences() -> set[tuple]:
    return set(
        VendorRecurrence.objects.values_list(
            "incident__slug", "vendor__slug", "attribute", "previous__slug", "gap"
        )
    )


def test_a_vendor_hit_again_within_the_window_is_flagged_against_the_latest_previous_hit():
    hit("acme", day(0), slug="first")
    hit("acme", day(100), slug="second")
    hit("acme", day(400), slug="third")  # 300 days after the second: still within 365
    hit("acme", day(800), slug="late")  # 400 days after the third: outside

    refresh_patterns()

    assert recurrences() == {
        ("second", "acme", "ct:config-change", "first", timedelta(days=100)),
        ("third", "acme", "ct:config-change", "second", timedelta(days=300)),
    }
    flag = VendorRecurrence.objects.get(incident__slug="second")
    assert flag.attribute_name == "Configuration change"


def test_recurrence_needs_the_same_vendor_and_the_same_attribute_and_publication():
    hit("acme", day(0), slug="acme-config", category="software-bug")
    hit("globex", day(10), slug="other-vendor")
    hit("acme", day(20), slug="other-change", change_type="code-deploy")
    hit("acme", day(30), slug="draft", status=ReviewStatus.DRAFT, category="software-bug")
    hit("acme", day(40), slug="same-category", change_type="code-deploy", category="software-bug")

    refresh_patterns()

    assert recurrences() == {
        ("same-category", "acme", "ct:code-deploy", "other-change", timedelta(days=20)),
        ("same-category", "acme", "cat:software-bug", "acme-config", timedelta(days=40)),
    }


def test_the_window_is_configurable(settings):
    settings.PATTERN_RECURRENCE_DAYS = 30
    hit("acme", day(0), slug="first")
    hit("acme", day(31), slug="second")

    refresh_patterns()

    assert recurrences() == set()


def test_a_refresh_replaces_recurrences_that_no_longer_hold():
    hit("acme", day(0), slug="first")
    second = hit("acme", day(100), slug="second")
    refresh_patterns()
    second.status = ReviewStatus.DRAFT
    second.save()

    refresh_patterns()

    assert recurrences() == set()


def test_a_pattern_member_counts_the_fixes_completed_by_earlier_members():
    # Three incidents of one pattern; the first two shipped fixes, the third recurred anyway.
    first, second, third = (
        hit(f"vendor-{n}", day(n * 400), slug=f"m{n}", category="non-staged-rollout")
        for n in range(3)
    )
    done = {"status": ActionItemStatus.DONE, "completed_at": day(1)}
    ActionItemFactory(incident=first, **done)
    ActionItemFactory(incident=first, **done)
    ActionItemFactory(incident=first, status=ActionItemStatus.OPEN)
    ActionItemFactory(incident=second, **done)
    ActionItemFactory(incident=third, **done)  # its own fix does not count for itself

    refresh_patterns()

    prior = dict(
        PatternMember.objects.filter(
            pattern__key="cat:non-staged-rollout+ct:config-change"
        ).values_list("incident__slug", "prior_completed_actions")
    )
    assert prior == {"m0": 0, "m1": 2, "m2": 3}


def test_members_starting_at_the_same_moment_do_not_count_each_others_fixes():
    twins = [hit(f"v{n}", day(0), category="non-staged-rollout") for n in range(2)]
    later = hit("v3", day(5), category="non-staged-rollout")
    for incident in twins:
        ActionItemFactory(incident=incident, status=ActionItemStatus.DONE, completed_at=day(1))

    refresh_patterns()

    prior = dict(PatternMember.objects.values_list("incident_id", "prior_completed_actions"))
    assert prior == {twins[0].pk: 0, twins[1].pk: 0, later.pk: 2}
