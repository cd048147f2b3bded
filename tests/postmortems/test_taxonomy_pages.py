from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from postmortems.choices import FactorRole, ReviewStatus
from postmortems.demo.loader import load_demo
from postmortems.models import ChangeType, FailureCategory, IncidentVendor
from postmortems.tallies import take_counts
from tests.factories import FactorFactory, IncidentFactory, VendorFactory
from tests.pages import next_link

pytestmark = pytest.mark.django_db

TAXONOMY_URL = reverse("postmortems:taxonomy")


def change_type_url(slug: str) -> str:
    return reverse("postmortems:change-type-detail", args=[slug])


def category_url(slug: str) -> str:
    return reverse("postmortems:category-detail", args=[slug])


def category(slug: str) -> FailureCategory:
    return FailureCategory.objects.get(slug=slug)


def incident_with(*, change_type: str = "config-change", cause: str = "software-bug", **fields):
    incident = IncidentFactory(**fields)
    IncidentVendor.objects.create(incident=incident, vendor=VendorFactory(), is_primary=True)
    incident.change_types.add(ChangeType.objects.get(slug=change_type))
    FactorFactory(incident=incident, category=category(cause), role=FactorRole.ROOT_CAUSE)
    return incident


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def change_type_counts(response) -> dict[str, int]:
    return {item.entry.slug: item.incident_count for item in response.context["change_types"]}


def category_counts(response) -> dict[str, int]:
    return {
        item.entry.slug: item.incident_count
        for group in response.context["category_groups"]
        for item in group.rows
    }


@pytest.fixture
def draft(author):
    """A draft by ``author`` citing a config change and a software bug."""
    incident = incident_with(title="Secret draft outage", status=ReviewStatus.DRAFT)
    incident.authors.add(author)
    return incident


@pytest.fixture
def published():
    return incident_with(title="Public outage")


# --- Sign-in -------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [TAXONOMY_URL, change_type_url("config-change"), category_url("software-bug")]
)
def test_anonymous_visitors_are_sent_to_sign_in(client, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


# --- Taxonomy index ------------------------------------------------------------


def test_taxonomy_lists_every_change_type_and_category_with_its_definition(client, viewer):
    client.force_login(viewer)

    response = client.get(TAXONOMY_URL)

    content = response.content.decode()
    assert set(change_type_counts(response)) == set(
        ChangeType.objects.values_list("slug", flat=True)
    )
    assert set(category_counts(response)) == set(
        FailureCategory.objects.values_list("slug", flat=True)
    )
    assert "A setting, flag or configuration file changed without new code." in content
    assert "Usually contributing" in content  # typical roles are shown
    assert f'href="{category_url("retry-storm")}"' in content
    assert response.context["nav"] == "taxonomy"


def test_taxonomy_groups_sub_categories_under_their_parent(client, viewer):
    client.force_login(viewer)

    groups = {
        group.root.entry.slug: [(i.entry.slug, i.depth) for i in group.descendants]
        for group in client.get(TAXONOMY_URL).context["category_groups"]
    }

    assert groups["software-bug"] == [("error-not-propagated", 1), ("time-handling", 1)]
    assert groups["cascading-failure"] == [("automation-amplified", 1), ("retry-storm", 1)]
    assert "time-handling" not in groups  # not a group of its own


def test_taxonomy_shows_nested_sub_categories_beneath_their_grandparent(client, viewer):
    leap = FailureCategory.objects.create(
        slug="leap-day",
        name="Leap day",
        definition="29 February.",
        parent=category("time-handling"),
    )
    client.force_login(viewer)

    software = next(
        g
        for g in client.get(TAXONOMY_URL).context["category_groups"]
        if g.root.entry.slug == "software-bug"
    )

    assert [(i.entry, i.depth) for i in software.descendants] == [
        (category("error-not-propagated"), 1),
        (category("time-handling"), 1),
        (leap, 2),
    ]


def test_viewer_taxonomy_counts_leave_out_drafts(client, viewer, draft, published):
    client.force_login(viewer)

    response = client.get(TAXONOMY_URL)

    assert change_type_counts(response)["config-change"] == 1
    assert category_counts(response)["software-bug"] == 1
    assert change_type_counts(response)["os-upgrade"] == 0


@pytest.mark.parametrize("user_fixture", ["author", "reviewer"])
def test_taxonomy_counts_include_drafts_for_their_author_and_reviewers(
    client, request, user_fixture, draft, published
):
    client.force_login(request.getfixturevalue(user_fixture))

    response = client.get(TAXONOMY_URL)

    assert change_type_counts(response)["config-change"] == 2
    assert category_counts(response)["software-bug"] == 2


def test_taxonomy_counts_follow_the_demo_outages(client, viewer):
    load_demo()
    client.force_login(viewer)

    response = client.get(TAXONOMY_URL)

    # Twelve of the demo's outages began with a configuration change (AWS 2011, Azure
    # storage 2014, Cloudflare 2019 and 2025, Google Cloud 2025…); two cascaded (AWS 2011,
    # Azure 2009); three were time bugs (the 2012 leap day, the 2012 and 2016 leap seconds).
    assert change_type_counts(response)["config-change"] == 12
    assert category_counts(response)["cascading-failure"] == 2
    assert category_counts(response)["time-handling"] == 3


# --- Change type detail --------------------------------------------------------


def test_change_type_page_shows_definition_and_its_visible_postmortems(
    client, viewer, draft, published
):
    incident_with(title="Unrelated deploy", change_type="code-deploy")
    client.force_login(viewer)

    response = client.get(change_type_url("config-change"))

    content = response.content.decode()
    assert "<h1>Configuration change</h1>" in content
    assert "<code>config-change</code>" in content
    assert "A setting, flag or configuration file changed without new code." in content
    assert list(response.context["page"].items) == [published]
    assert "Secret draft outage" not in content and "Unrelated deploy" not in content


def test_change_type_page_shows_drafts_to_their_author(client, author, draft, published):
    client.force_login(author)

    response = client.get(change_type_url("config-change"))

    assert set(response.context["page"].items) == {draft, published}


def test_change_type_postmortems_are_paged_25_at_a_time_newest_first(client, viewer):
    base = datetime(2021, 1, 1, tzinfo=UTC)
    incidents = [incident_with(started_at=base + timedelta(days=n)) for n in range(26)]
    client.force_login(viewer)

    first = client.get(change_type_url("config-change"))
    second = client.get(change_type_url("config-change") + next_link(first))

    assert list(first.context["page"].items) == incidents[::-1][:25]
    assert list(second.context["page"].items) == [incidents[0]]
    assert 'rel="next"' not in second.content.decode()


def test_unknown_change_type_or_category_is_not_found(client, viewer):
    client.force_login(viewer)

    assert client.get(change_type_url("teleport")).status_code == 404
    assert client.get(category_url("gremlins")).status_code == 404


# --- Category detail -----------------------------------------------------------


def test_category_page_shows_parent_children_and_typical_role(client, viewer):
    client.force_login(viewer)

    software = client.get(category_url("software-bug")).content.decode()
    leap = client.get(category_url("time-handling")).content.decode()

    assert "Code behaved differently from its intent." in software
    assert "Usually a root cause" in software
    assert f'<a href="{category_url("time-handling")}">Time handling</a>' in software
    assert f'<a href="{category_url("software-bug")}">Software bug</a>' in leap


def test_category_page_counts_each_role_it_appears_in(client, viewer):
    bug = category("software-bug")
    as_cause = [incident_with(cause="software-bug") for _ in range(2)]
    contributing = IncidentFactory()
    FactorFactory(incident=contributing, category=bug, role=FactorRole.CONTRIBUTING)
    # Two contributing factors in one postmortem: still one postmortem.
    FactorFactory(incident=as_cause[0], category=bug, role=FactorRole.CONTRIBUTING)
    hidden = IncidentFactory(status=ReviewStatus.DRAFT)
    FactorFactory(incident=hidden, category=bug, role=FactorRole.MITIGATING)
    client.force_login(viewer)

    response = client.get(category_url("software-bug"))

    assert [(r.role, r.incident_count) for r in response.context["role_counts"]] == [
        (FactorRole.ROOT_CAUSE, 2),
        (FactorRole.CONTRIBUTING, 2),
        (FactorRole.MITIGATING, 0),
    ]
    # Listed once each, although one cites the category twice; the draft is not listed.
    assert sorted(i.id for i in response.context["page"].items) == sorted(
        i.id for i in [*as_cause, contributing]
    )


def test_category_page_includes_drafts_for_reviewers(client, reviewer, draft, published):
    client.force_login(reviewer)

    response = client.get(category_url("software-bug"))

    assert set(response.context["page"].items) == {draft, published}
    assert response.context["role_counts"][0].incident_count == 2
    assert "Secret draft outage" in response.content.decode()


# --- Query counts --------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        # session, user, permissions (2), which counts exist, (once counted) the ids the
        # viewer sees beyond them; per change type and per category: the tally or the live
        # count (a viewer with nothing beyond the counts has none to take), the entries
        (TAXONOMY_URL, {False: 9, True: 10}),
        # session, user, permissions (2), change type, which counts exist, the rows beyond
        # them, the total, page rows, their vendor links, vendors, change types
        (change_type_url("config-change"), {False: 12, True: 13}),
        # session, user, permissions (2), category, its children, which counts exist,
        # rows and outages beyond them, the total, role counts, page rows, their vendor
        # links, vendors, change types
        (category_url("software-bug"), {False: 14, True: 16}),
    ],
)
@pytest.mark.parametrize("counted_ahead", [False, True], ids=["live", "counted-ahead"])
def test_taxonomy_pages_queries_do_not_grow_with_postmortems(
    client, viewer, url, expected, counted_ahead
):
    client.force_login(viewer)
    for _ in range(2):
        incident_with(cause="software-bug")
    if counted_ahead:
        take_counts()
    with_two = count_queries(client, url)
    for _ in range(18):
        incident_with(cause="software-bug")
    if counted_ahead:
        take_counts()
    with_twenty = count_queries(client, url)

    assert with_two == with_twenty == expected[counted_ahead]
