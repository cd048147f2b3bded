"""Vendor recurrence and "did the fix work?", as read after a refresh."""

from datetime import UTC, datetime, timedelta

import pytest

from patterns.insights import incident_patterns
from patterns.models import Pattern
from patterns.recurrence import incident_recurrences, vendor_recurrences
from patterns.services import refresh_patterns
from postmortems.choices import ActionItemStatus, ReviewStatus
from postmortems.models import ChangeType, FailureCategory, Incident, IncidentVendor, Vendor
from tests.factories import ActionItemFactory, FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db

UNSTAGED_CONFIG = "cat:non-staged-rollout+ct:config-change"


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
    """Every incident page's recurrences."""
    return {
        (r.incident.slug, r.vendor.slug, r.attribute, r.previous.slug, r.gap)
        for incident in Incident.objects.all()
        for r in incident_recurrences(incident)
    }


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
    [flag] = incident_recurrences(Incident.objects.get(slug="second"))
    assert (flag.attribute_name, flag.vendor.slug) == ("Configuration change", "acme")


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


def test_incidents_starting_at_the_same_moment_are_ordered_by_id():
    first = hit("acme", day(0))
    second = hit("acme", day(0))

    refresh_patterns()

    assert incident_recurrences(first) == []
    [flag] = incident_recurrences(second)
    assert (flag.previous.pk, flag.gap) == (first.pk, timedelta(0))


def test_the_window_is_configurable(settings):
    settings.PATTERN_RECURRENCE_DAYS = 30
    hit("acme", day(0), slug="first")
    hit("acme", day(31), slug="second")

    refresh_patterns()

    assert recurrences() == set()


def test_recurrences_follow_the_last_refresh():
    hit("acme", day(0), slug="first")
    second = hit("acme", day(100), slug="second")
    refresh_patterns()
    second.status = ReviewStatus.DRAFT
    second.save()
    third = hit("acme", day(200), slug="third")

    assert [r.previous.slug for r in incident_recurrences(third)] == []  # not refreshed yet
    refresh_patterns()

    assert recurrences() == {("third", "acme", "ct:config-change", "first", timedelta(days=200))}


def test_a_vendor_lists_its_latest_recurrences_newest_first():
    for n in range(60):  # more incidents than one batch, a recurrence each after the first
        hit("acme", day(n), category="software-bug", slug=f"hit-{n}")
    hit("acme", day(70), change_type="code-deploy", slug="new-change")  # nothing to repeat
    refresh_patterns()
    acme = Vendor.objects.get(slug="acme")

    latest = vendor_recurrences(acme, limit=5)

    assert [(r.incident.slug, r.attribute_name, r.previous.slug) for r in latest] == [
        ("hit-59", "Configuration change", "hit-58"),
        ("hit-59", "Software bug", "hit-58"),
        ("hit-58", "Configuration change", "hit-57"),
        ("hit-58", "Software bug", "hit-57"),
        ("hit-57", "Configuration change", "hit-56"),
    ]
    assert len(vendor_recurrences(acme, limit=500)) == 118


def test_a_vendor_with_rare_recurrences_is_read_back_to_its_first_incident():
    hit("acme", day(0), change_type="os-upgrade", slug="first-upgrade")
    hit("acme", day(5), change_type="os-upgrade", slug="second-upgrade")
    for n in range(200):  # newer incidents, each with a change type of its own vendor... none
        hit("acme", day(400 + n * 400), change_type="code-deploy")
    refresh_patterns()

    [flag] = vendor_recurrences(Vendor.objects.get(slug="acme"))

    assert (flag.incident.slug, flag.previous.slug) == ("second-upgrade", "first-upgrade")


# --- Did the fix work? -------------------------------------------------------------------------


def priors_on_pattern_page() -> dict[str, int]:
    pattern = Pattern.objects.get(key=UNSTAGED_CONFIG)
    slugs = dict(Incident.objects.values_list("id", "slug"))
    return {
        slugs[pk]: prior
        for pk, prior in zip(pattern.latest_members, pattern.latest_prior_actions, strict=True)
    }


def priors_on_incident_pages() -> dict[str, int]:
    return {
        incident.slug: membership.prior_completed_actions
        for incident in Incident.objects.published()
        for membership in incident_patterns(incident)
        if membership.pattern.key == UNSTAGED_CONFIG
    }


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

    assert priors_on_pattern_page() == {"m0": 0, "m1": 2, "m2": 3}
    assert priors_on_incident_pages() == {"m0": 0, "m1": 2, "m2": 3}


def test_members_starting_at_the_same_moment_do_not_count_each_others_fixes():
    twins = [hit(f"v{n}", day(0), category="non-staged-rollout", slug=f"twin-{n}")
             for n in range(2)]  # fmt: skip
    hit("v3", day(5), category="non-staged-rollout", slug="later")
    for incident in twins:
        ActionItemFactory(incident=incident, status=ActionItemStatus.DONE, completed_at=day(1))

    refresh_patterns()

    assert priors_on_pattern_page() == {"twin-0": 0, "twin-1": 0, "later": 2}
    assert priors_on_incident_pages() == {"twin-0": 0, "twin-1": 0, "later": 2}


def test_an_incident_page_counts_earlier_fixes_in_its_own_quarter_and_before():
    # Fixes of members in earlier quarters come from the pattern's counts, those earlier in
    # the same quarter from the members themselves; later members never count.
    starts = {"q1-early": day(10), "q2-early": day(100), "q2-mid": day(120),
              "q2-late": day(150), "q3": day(200)}  # fmt: skip
    for slug, started_at in starts.items():
        incident = hit(f"vendor-{slug}", started_at, slug=slug, category="non-staged-rollout")
        ActionItemFactory(incident=incident, status=ActionItemStatus.DONE, completed_at=day(1))
    ActionItemFactory(
        incident=Incident.objects.get(slug="q2-early"),
        status=ActionItemStatus.DONE,
        completed_at=day(1),
    )

    refresh_patterns()

    expected = {"q1-early": 0, "q2-early": 1, "q2-mid": 3, "q2-late": 4, "q3": 5}
    assert priors_on_incident_pages() == expected
    assert priors_on_pattern_page() == expected
