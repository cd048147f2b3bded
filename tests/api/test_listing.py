"""Lists: IncidentFilterSet's filters, ordering, cursor pages, and bounded queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.rest import ApiCursorPagination
from postmortems.choices import ReviewStatus, Severity
from postmortems.models import ChangeType, FailureCategory, Incident, Source
from tests.api.conftest import T0, error_of, link_vendor
from tests.factories import (
    ActionItemFactory,
    FactorFactory,
    IncidentFactory,
    TimelineEventFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db
INCIDENTS = reverse("postmortems-api:incident-list")


@pytest.fixture
def client(client_for, admin_user):
    return client_for(admin_user)


def slugs(response) -> list[str]:
    assert response.status_code == 200, response.json()
    return [row["slug"] for row in response.json()["results"]]


@pytest.fixture
def catalogue(acme):
    """Three incidents that differ in every filtered attribute."""
    old = IncidentFactory(
        slug="old", title="Certificate expiry", started_at=T0 - timedelta(days=400),
        severity=Severity.CRITICAL,
    )  # fmt: skip
    link_vendor(old, acme, primary=True)
    old.change_types.add(ChangeType.objects.get(slug="config-change"))
    FactorFactory(incident=old, category=FailureCategory.objects.get(slug="config-error"))
    IncidentFactory(slug="recent", title="Disk failure", started_at=T0, severity=Severity.MINOR)
    IncidentFactory(slug="draft", title="Draft", started_at=T0, status=ReviewStatus.DRAFT)
    Incident.objects.filter(slug="old").update(updated_at=T0 - timedelta(days=30))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"vendor": "acme"}, ["old"]),
        ({"change_type": "config-change"}, ["old"]),
        ({"category": "config-error"}, ["old"]),
        ({"severity": Severity.CRITICAL}, ["old"]),
        ({"status": ReviewStatus.DRAFT}, ["draft"]),
        ({"started_after": str(T0.date())}, ["draft", "recent"]),
        ({"started_before": str((T0 - timedelta(days=1)).date())}, ["old"]),
        ({"q": "certificate"}, ["old"]),
        ({"updated_since": (T0 - timedelta(days=1)).isoformat()}, ["draft", "recent"]),
    ],
)
def test_each_filter_narrows_the_list(client, catalogue, params, expected):
    assert sorted(slugs(client.get(INCIDENTS, params))) == expected


def test_an_unknown_filter_value_is_a_400_naming_the_filter(client, catalogue):
    response = client.get(INCIDENTS, {"vendor": "no-such-vendor"})

    assert response.status_code == 400
    assert "vendor" in error_of(response)["fields"]


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        (None, ["draft", "recent", "old"]),
        ("-started_at", ["draft", "recent", "old"]),
        ("started_at", ["old", "recent", "draft"]),
        ("updated_at", ["old", "recent", "draft"]),
    ],
)
def test_ordering(client, catalogue, ordering, expected):
    params = {"ordering": ordering} if ordering else {}

    assert slugs(client.get(INCIDENTS, params)) == expected


def test_an_unknown_ordering_is_refused(client):
    response = client.get(INCIDENTS, {"ordering": "title"})

    assert response.status_code == 400
    assert "-started_at" in error_of(response)["fields"]["ordering"][0]


@pytest.mark.parametrize("ordering", ["-started_at", "started_at", "-updated_at"])
def test_walking_every_page_visits_each_incident_once(client, ordering):
    # Ties and missing start times are where cursor pagination goes wrong.
    times = [T0, T0, None, T0 + timedelta(days=1), None, T0 - timedelta(days=2), T0]
    created = {IncidentFactory(started_at=t).slug for t in times}
    seen, url, params = [], INCIDENTS, {"ordering": ordering, "page_size": 2}
    while url:
        page = client.get(url, params).json()
        seen += [row["slug"] for row in page["results"]]
        url, params = page["next"], None

    assert len(seen) == len(set(seen)) == len(created)
    assert set(seen) == created


def test_the_previous_link_returns_the_page_before(client):
    for _ in range(5):
        IncidentFactory()
    first = client.get(INCIDENTS, {"page_size": 2}).json()
    second = client.get(first["next"]).json()

    back = client.get(second["previous"]).json()

    assert back["results"] == first["results"]
    assert first["previous"] is None


def test_the_page_size_is_capped(client, monkeypatch):
    monkeypatch.setattr(ApiCursorPagination, "max_page_size", 3)
    for _ in range(5):
        IncidentFactory()

    assert len(client.get(INCIDENTS, {"page_size": 100}).json()["results"]) == 3


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "eyJ2IjpbMV0sImIiOmZhbHNlfQ",  # {"v":[1],"b":false}: wrong length
        "eyJ2IjpbIm5vdCBhIHRpbWUiLDFdLCJiIjpmYWxzZX0",  # {"v":["not a time",1],...}
        "eyJ2IjpbbnVsbCw5OTk5OTk5OTk5OTk5OTk5OTk5OTldLCJiIjpmYWxzZX0",  # an id out of range
        "eyJ2IjpbbnVsbCx7fV0sImIiOmZhbHNlfQ",  # {"v":[null,{}],...}
    ],
)
def test_a_damaged_cursor_is_a_400(client, cursor):
    response = client.get(INCIDENTS, {"cursor": cursor})

    assert response.status_code == 400
    assert "cursor" in error_of(response)["fields"]


def test_listing_never_counts(client, catalogue):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(INCIDENTS, {"q": "certificate", "vendor": "acme"}).status_code == 200

    assert not [q for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]


def make_full_incidents(n: int) -> None:
    vendor = VendorFactory(slug="acme")
    config = ChangeType.objects.get(slug="config-change")
    for _ in range(n):
        incident = IncidentFactory()
        link_vendor(incident, vendor, primary=True)
        incident.change_types.add(config)
        TimelineEventFactory(incident=incident)
        FactorFactory(incident=incident)
        ActionItemFactory(incident=incident)
        Source.objects.create(incident=incident, url="https://example.com", kind="news")


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


@pytest.fixture
def warm_client(client_for, viewer):
    """A token client whose use is already stamped (that UPDATE happens once a minute)."""
    client = client_for(viewer)
    client.get(reverse("postmortems-api:change-type-list"))
    return client


def test_the_incident_list_issues_as_many_queries_for_20_rows_as_for_2(warm_client):
    # 5 queries: the token (with its user), the user's and its groups' permissions,
    # the page's ids, then its incidents with every part.
    make_full_incidents(2)
    few = count_queries(warm_client, INCIDENTS)

    make_full_incidents(18)

    assert count_queries(warm_client, INCIDENTS) == few == 5


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("vendor-list", 3),  # token, vendors, their services
        ("change-type-list", 2),  # token, change types
        ("category-list", 2),  # token, categories with their parents (a join)
    ],
)
def test_reference_lists_issue_a_fixed_number_of_queries(warm_client, endpoint, expected):
    url = reverse(f"postmortems-api:{endpoint}")
    for n in range(2):
        VendorFactory(slug=f"few-{n}").services.create(name="API")
    few = count_queries(warm_client, url)

    for n in range(18):
        VendorFactory(slug=f"many-{n}").services.create(name="API")

    assert count_queries(warm_client, url) == few == expected


def test_one_incident_reads_in_a_fixed_number_of_queries(warm_client):
    make_full_incidents(1)
    slug = Incident.objects.get().slug

    # The token, the permissions, finding the incident the viewer may see, then reading
    # it with every part: one statement.
    assert count_queries(warm_client, reverse("postmortems-api:incident-detail", args=[slug])) == 5
