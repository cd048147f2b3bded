"""The patterns dashboard, pattern pages and the pattern panels of incident and vendor pages."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from patterns.models import Pattern
from patterns.services import refresh_patterns
from postmortems.choices import ActionItemStatus, ReviewStatus
from postmortems.models import ChangeType, FailureCategory, Incident, IncidentVendor, Vendor
from tests.factories import ActionItemFactory, FactorFactory, IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db

UNSTAGED_CONFIG = "cat:non-staged-rollout+ct:config-change"


def make_member(n: int, *, vendor: str | None = None, started_at=None, **kwargs) -> Incident:
    """A published incident with a configuration change rolled out without staging."""
    incident = IncidentFactory(
        title=f"Outage number {n}",
        started_at=started_at or datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=40 * n),
        resolved_at=(started_at or datetime(2020, 1, 1, tzinfo=UTC) + timedelta(days=40 * n))
        + timedelta(hours=n + 1),
        lessons=f"Stage rollouts, lesson {n}.",
        **kwargs,
    )
    incident.change_types.add(ChangeType.objects.get(slug="config-change"))
    FactorFactory(
        incident=incident, category=FailureCategory.objects.get(slug="non-staged-rollout")
    )
    IncidentVendor.objects.create(
        incident=incident, vendor=VendorFactory(slug=vendor or f"vendor-{n}"), is_primary=True
    )
    return incident


def get(client, name, *args, **params):
    return client.get(reverse(name, args=args), params)


def count_queries(client, url) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


def test_dashboard_lists_top_patterns_and_draws_the_three_charts_with_tables(client, viewer):
    members = [make_member(n) for n in range(4)]
    ActionItemFactory(
        incident=members[0], status=ActionItemStatus.DONE, completed_at=members[0].started_at
    )
    refresh_patterns()
    client.force_login(viewer)

    response = get(client, "patterns:dashboard")

    page = response.content.decode()
    pattern = Pattern.objects.get(key=UNSTAGED_CONFIG)
    assert (
        "Configuration change + Rollout not staged — 4 incidents across 4 vendors since 2020"
        in page
    )
    assert reverse("patterns:pattern-detail", args=[pattern.pk]) in page
    assert page.count('<svg class="chart-svg"') == 3
    assert page.count("<summary>Data table</summary>") == 3
    assert "Incidents per month by change type" in page
    assert "Time to resolve by change type" in page
    assert "Incidents by vendor and failure category" in page
    # Medians, not means: 1, 2, 3 and 4 hours to resolve give a median of 2 h 30 min.
    assert "2 h 30 min" in page


def test_dashboard_names_a_patterns_top_vendors_and_counts_the_others(client, viewer):
    for n in range(7):
        make_member(n, vendor=f"vendor-{n}")
    for _ in range(2):  # the most incidents of all, so named first
        IncidentVendor.objects.create(
            incident=IncidentFactory(), vendor=Vendor.objects.get(slug="vendor-6"), is_primary=True
        )
    Vendor.objects.filter(slug="vendor-6").update(name="Globex")
    refresh_patterns()
    client.force_login(viewer)

    page = get(client, "patterns:dashboard").content.decode()

    assert "Globex, Vendor" in page and " and 2 more vendors</p>" in page


def test_the_dashboard_draws_each_snapshot_once_and_shows_the_latest(client, viewer, monkeypatch):
    from patterns import views

    drawn = []
    draw = views.dashboard_charts
    monkeypatch.setattr(views, "dashboard_charts", lambda stats: drawn.append(1) or draw(stats))
    for n in range(3):
        make_member(n)
    refresh_patterns()
    client.force_login(viewer)

    first = get(client, "patterns:dashboard").content.decode()
    again = get(client, "patterns:dashboard").content.decode()
    drawn_before_refresh = len(drawn)
    make_member(3)
    refresh_patterns()
    after = get(client, "patterns:dashboard").content.decode()

    assert drawn_before_refresh == 1 and len(drawn) == 2
    assert "<td>3 / 0</td>" in first and "<td>3 / 0</td>" in again
    assert "<td>4 / 0</td>" in after and "<td>3 / 0</td>" not in after


def test_the_dashboard_lists_patterns_once_per_refresh_and_minimum(client, viewer, monkeypatch):
    from patterns import insights

    listed = []
    top = insights.top_patterns
    monkeypatch.setattr(
        insights, "top_patterns", lambda m, **kw: listed.append((m, kw)) or top(m, **kw)
    )
    for n in range(3):
        make_member(n)
    refresh_patterns()
    client.force_login(viewer)

    first = get(client, "patterns:dashboard").content.decode()
    get(client, "patterns:dashboard")
    get(client, "patterns:dashboard", min_support=2)
    get(client, "patterns:dashboard", hand_labelled=1)
    get(client, "patterns:dashboard", hand_labelled=1)
    # Once per minimum support and switch.
    assert listed == [
        (3, {"hand_labelled": False}),
        (2, {"hand_labelled": False}),
        (3, {"hand_labelled": True}),
    ]
    assert "3 incidents across 3 vendors" in first

    make_member(3)
    refresh_patterns()
    after = get(client, "patterns:dashboard").content.decode()

    assert listed[-1] == (3, {"hand_labelled": False}) and len(listed) == 4
    assert "4 incidents across 4 vendors" in after and "3 incidents across" not in after


def test_dashboard_before_the_first_refresh_says_so(client, viewer):
    client.force_login(viewer)

    page = get(client, "patterns:dashboard").content.decode()

    assert "Patterns have not been computed yet" in page


def test_two_incident_combinations_are_emerging_not_patterns(client, viewer):
    make_member(1)
    make_member(2)
    refresh_patterns()
    client.force_login(viewer)

    default = get(client, "patterns:dashboard").content.decode()
    lowered = get(client, "patterns:dashboard", min_support=2).content.decode()

    assert "No change type, contributing factor or combination of them recurs in 3" in default
    assert "Emerging" in default and "2 incidents" in default
    assert "No change type" not in lowered


def test_the_dashboard_costs_the_same_queries_for_few_or_many_patterns(client, viewer):
    client.force_login(viewer)
    for n in range(3):
        make_member(n)
    refresh_patterns()
    few = count_queries(client, reverse("patterns:dashboard"))
    categories = FailureCategory.objects.exclude(slug="non-staged-rollout")[:4]
    for n in range(3, 30):
        incident = make_member(n, vendor=f"vendor-{n % 7}")
        # Each category on the members whose number has its bit: pairs and triples of
        # them have members of their own, so they are patterns of their own.
        for bit, category in enumerate(categories):
            if n % 16 >> bit & 1:
                FactorFactory(incident=incident, category=category)
    refresh_patterns()
    assert Pattern.objects.recurring().count() > 10

    many = count_queries(client, reverse("patterns:dashboard"))

    # Session, user and whether they are an admin; the stats snapshot, top patterns, their
    # top vendors (one query for all), emerging patterns.
    assert few == many


def test_pattern_page_shows_members_lessons_action_items_and_the_fixes_it_recurred_after(
    client, viewer
):
    members = [make_member(n, vendor="azure" if n < 2 else "aws") for n in range(3)]
    ActionItemFactory(
        incident=members[0], title="Add a canary stage", status=ActionItemStatus.DONE,
        completed_at=members[0].started_at,
    )  # fmt: skip
    ActionItemFactory(incident=members[1], title="Batch the config push")
    refresh_patterns()
    pattern = Pattern.objects.get(key=UNSTAGED_CONFIG)
    client.force_login(viewer)

    page = get(client, "patterns:pattern-detail", pattern.pk).content.decode()

    for incident in members:
        assert incident.title in page
        assert f"lesson {members.index(incident)}" in page
    assert "Add a canary stage" in page and "Batch the config push" in page
    assert "Recurred after 1 completed action item from earlier incidents" in page
    assert ">Configuration change</a>" in page and ">Rollout not staged</a>" in page
    assert "Members per quarter" in page


def test_pattern_page_names_every_vendor(client, viewer):
    for n in range(8):
        make_member(n, vendor=f"vendor-{n}")
    refresh_patterns()
    pattern = Pattern.objects.get(key=UNSTAGED_CONFIG)
    client.force_login(viewer)

    page = get(client, "patterns:pattern-detail", pattern.pk).content.decode()

    for n in range(8):
        assert reverse("postmortems:vendor-detail", args=[f"vendor-{n}"]) in page


def test_a_large_pattern_page_shows_its_latest_members_and_the_fixes_they_recurred_after(
    client, viewer
):
    members = [make_member(n) for n in range(52)]
    for incident in members[:2]:  # the two oldest shipped a fix each
        ActionItemFactory(
            incident=incident, status=ActionItemStatus.DONE, completed_at=incident.started_at
        )
    refresh_patterns()
    pattern = Pattern.objects.get(key=UNSTAGED_CONFIG)
    client.force_login(viewer)

    page = get(client, "patterns:pattern-detail", pattern.pk).content.decode()

    assert "The 50 most recent of 52 incidents." in page
    assert page.index("Outage number 51<") < page.index("Outage number 50<")  # newest first
    assert "Outage number 2<" in page
    assert "Outage number 1<" not in page and "Outage number 0<" not in page
    assert page.count("Recurred after 2 completed action items") == 50


def test_an_incident_is_part_of_every_pattern_its_attributes_contain(client, viewer):
    members = [make_member(n) for n in range(3)]
    gap = FailureCategory.objects.get(slug="monitoring-gap")
    for incident in members[:2]:
        FactorFactory(incident=incident, category=gap)
    refresh_patterns()
    client.force_login(viewer)

    both = get(client, "postmortems:incident-detail", members[0].slug).content.decode()
    only_pair = get(client, "postmortems:incident-detail", members[2].slug).content.decode()

    triple = "Configuration change + Monitoring gap + Rollout not staged — 2 incidents"
    assert "Configuration change + Rollout not staged — 3 incidents" in both
    assert "Configuration change + Rollout not staged — 3 incidents" in only_pair
    # The triple's two incidents are two of the pair's three: it is the pair's variant, and
    # the family shows once, by its head.
    variant = Pattern.objects.get(title__startswith=triple)
    assert variant.variant_of.key == UNSTAGED_CONFIG
    assert triple not in both and triple not in only_pair
    family = get(client, "patterns:pattern-detail", variant.variant_of_id).content.decode()
    assert "Variants" in family and triple in family


def test_a_pattern_page_costs_the_same_queries_for_3_or_30_members(client, viewer):
    client.force_login(viewer)
    for n in range(3):
        make_member(n)
    refresh_patterns()
    pattern = Pattern.objects.get(key=UNSTAGED_CONFIG)
    few = count_queries(client, reverse("patterns:pattern-detail", args=[pattern.pk]))
    for n in range(3, 30):
        ActionItemFactory(incident=make_member(n))
    refresh_patterns()

    many = count_queries(client, reverse("patterns:pattern-detail", args=[pattern.pk]))

    assert few == many


def pattern_links(page: str) -> set[str]:
    return set(re.findall(r'href="(/patterns/\d+/)"', page))


def test_every_pattern_a_page_links_to_has_its_page_whatever_its_support(client, viewer):
    members = [make_member(n) for n in range(3)]
    gap = FailureCategory.objects.get(slug="monitoring-gap")
    for incident in members[:2]:  # an emerging combination of two of them
        FactorFactory(incident=incident, category=gap)
    refresh_patterns()
    client.force_login(viewer)
    emerging = Pattern.objects.get(support=2)

    links = set()
    for params in ({}, {"min_support": 2}, {"min_support": 3}):
        links |= pattern_links(get(client, "patterns:dashboard", **params).content.decode())
    for incident in members:
        page = get(client, "postmortems:incident-detail", incident.slug).content.decode()
        links |= pattern_links(page)
    # The emerging triple is a variant of the pair: its head's page lists it.
    for link in list(links):
        links |= pattern_links(client.get(link).content.decode())

    assert reverse("patterns:pattern-detail", args=[emerging.pk]) in links
    assert len(links) == Pattern.objects.count() == 2
    for link in links:
        response = client.get(link)
        assert response.status_code == 200, link
    page = client.get(reverse("patterns:pattern-detail", args=[emerging.pk])).content.decode()
    assert "Emerging" in page and "Monitoring gap" in page


def test_incidents_sharing_four_attributes_make_one_pattern_page_naming_all_four(client, viewer):
    error = FailureCategory.objects.get(slug="config-error")
    gap = FailureCategory.objects.get(slug="monitoring-gap")
    for n in range(3):
        incident = make_member(n)
        FactorFactory(incident=incident, category=error)
        FactorFactory(incident=incident, category=gap)
    refresh_patterns()
    client.force_login(viewer)

    dashboard = get(client, "patterns:dashboard").content.decode()
    incident = get(client, "postmortems:incident-detail", incident.slug).content.decode()

    # Not the 4 triples of the four attributes, each with the same three incidents.
    [pattern] = Pattern.objects.all()
    assert (
        pattern_links(dashboard)
        == pattern_links(incident)
        == {reverse("patterns:pattern-detail", args=[pattern.pk])}
    )
    assert dashboard.count("3 incidents across 3 vendors") == 1
    page = get(client, "patterns:pattern-detail", pattern.pk).content.decode()
    for name in ("Configuration change", "Rollout not staged", "Configuration error",
                 "Monitoring gap"):  # fmt: skip
        assert f">{name}</a>" in page


def test_an_unknown_pattern_is_a_404(client, viewer):
    client.force_login(viewer)

    assert get(client, "patterns:pattern-detail", 999999).status_code == 404


def test_incident_page_shows_its_patterns_related_incidents_and_recurrence(client, viewer):
    first = make_member(0, vendor="azure")
    second = make_member(1, vendor="azure")  # 40 days later: a recurrence
    third = make_member(2)
    IncidentFactory(title="Disk full")  # so that sharing the pattern's terms is informative
    ActionItemFactory(incident=first, status=ActionItemStatus.DONE, completed_at=first.started_at)
    refresh_patterns()
    client.force_login(viewer)

    page = get(client, "postmortems:incident-detail", second.slug).content.decode()

    assert "Part of recurring patterns" in page
    assert "Configuration change + Rollout not staged — 3 incidents" in page
    assert "recurred after 1 completed action item" in page
    assert "Related incidents" in page
    assert first.title in page and third.title in page
    assert "Both: Rollout not staged" in page and "Same vendor: Vendor" in page
    assert "was hit by <strong>configuration change</strong> again, 40 d after" in page


def test_a_draft_shows_related_incidents_but_no_patterns(client, author):
    published = make_member(0)
    draft = make_member(1, status=ReviewStatus.DRAFT)
    draft.authors.add(author)
    refresh_patterns()
    client.force_login(author)

    page = get(client, "postmortems:incident-detail", draft.slug).content.decode()

    assert "joins them once it is published" in page
    assert published.title in page


def test_vendor_page_lists_the_times_it_was_hit_again(client, viewer):
    make_member(0, vendor="azure")
    again = make_member(1, vendor="azure")
    refresh_patterns()
    client.force_login(viewer)

    page = get(client, "postmortems:vendor-detail", "azure").content.decode()

    assert "Hit again" in page
    assert again.title in page and "Configuration change" in page and "Rollout not staged" in page


def test_only_admins_can_queue_a_refresh(client, viewer, admin_user, monkeypatch):
    from patterns import tasks

    queued = []
    monkeypatch.setattr(tasks.refresh_patterns, "delay", lambda: queued.append(True))
    client.force_login(viewer)
    assert client.post(reverse("patterns:refresh")).status_code == 403
    client.force_login(admin_user)

    response = client.post(reverse("patterns:refresh"))

    assert response.status_code == 302 and queued == [True]


def test_quarter_range_fills_the_gaps_between_members():
    from patterns.views import quarter_range

    assert quarter_range(["2012-Q4", "2013-Q3"]) == ["2012-Q4", "2013-Q1", "2013-Q2", "2013-Q3"]
    assert quarter_range([]) == []
