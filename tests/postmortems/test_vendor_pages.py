import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from postmortems.analytics import YearDowntime
from postmortems.choices import FactorRole, ReviewStatus, VendorKind
from postmortems.demo.loader import load_demo
from postmortems.models import ChangeType, FailureCategory, IncidentVendor, Service, Vendor
from postmortems.tallies import take_counts
from tests.factories import FactorFactory, IncidentFactory, VendorFactory
from tests.pages import next_link, previous_link

pytestmark = pytest.mark.django_db

LIST_URL = reverse("postmortems:vendor-list")
CREATE_URL = reverse("postmortems:vendor-create")
HTMX = {"HTTP_HX_REQUEST": "true"}


def at(year: int, month: int = 1, day: int = 1, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def incident_of(vendor: Vendor, *, authors=(), change_types=(), **fields):
    incident = IncidentFactory(**fields)
    IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)
    incident.authors.add(*authors)
    incident.change_types.add(*change_types)
    return incident


def detail_url(vendor: Vendor) -> str:
    return reverse("postmortems:vendor-detail", args=[vendor.slug])


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries)


def rows_by_slug(response) -> dict:
    return {row.vendor.slug: row for row in response.context["rows"]}


@pytest.fixture
def acme(db):
    return VendorFactory(name="Acme Cloud", slug="acme", kind=VendorKind.CLOUD)


@pytest.fixture
def draft(acme, author):
    """A draft by ``author``: only its author, reviewers and admins may count it."""
    return incident_of(
        acme,
        title="Secret draft outage",
        status=ReviewStatus.DRAFT,
        authors=[author],
        started_at=at(2024, 6, 1),
        resolved_at=at(2024, 6, 1, 10),
        change_types=[ChangeType.objects.get(slug="os-upgrade")],
    )


@pytest.fixture
def published(acme, author):
    return incident_of(
        acme,
        title="Public outage",
        authors=[author],
        started_at=at(2024, 3, 1),
        resolved_at=at(2024, 3, 1, 2),
        change_types=[ChangeType.objects.get(slug="config-change")],
    )


# --- Sign-in -------------------------------------------------------------------


@pytest.mark.parametrize("url", [LIST_URL, CREATE_URL, "/vendors/acme/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, acme, url):
    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


# --- Vendor list ---------------------------------------------------------------


def test_vendor_list_shows_kind_count_and_last_incident_of_every_vendor(client, viewer, acme):
    quiet = VendorFactory(name="Quiet SaaS", slug="quiet", kind=VendorKind.SAAS)
    incident_of(acme, started_at=at(2023, 5, 2))
    incident_of(acme, started_at=at(2024, 7, 9))
    client.force_login(viewer)

    response = client.get(LIST_URL)

    rows = rows_by_slug(response)
    assert (rows["acme"].incident_count, rows["acme"].last_started_at) == (2, at(2024, 7, 9))
    assert (rows["quiet"].incident_count, rows["quiet"].last_started_at) == (0, None)
    content = response.content.decode()
    assert "Cloud provider" in content and "SaaS" in content
    assert "9 Jul 2024" in content
    assert f'href="{detail_url(quiet)}"' in content
    assert response.context["nav"] == "vendors"


def test_vendor_list_sorts_by_name_or_by_incident_count(client, viewer):
    busy = VendorFactory(name="Zulu", slug="zulu")
    calm = VendorFactory(name="alpha", slug="alpha")
    for _ in range(3):
        incident_of(busy)
    incident_of(calm)
    client.force_login(viewer)

    by_name = [row.vendor.id for row in client.get(LIST_URL).context["rows"]]
    by_count = [row.vendor.id for row in client.get(LIST_URL, {"sort": "count"}).context["rows"]]

    # Names sort without regard to case.
    assert by_name == [calm.id, busy.id]
    assert by_count == [busy.id, calm.id]


def test_vendor_list_filters_by_kind(client, viewer, acme):
    VendorFactory(name="Team DB", slug="team-db", kind=VendorKind.INTERNAL)
    client.force_login(viewer)

    response = client.get(LIST_URL, {"kind": VendorKind.INTERNAL})

    assert list(rows_by_slug(response)) == ["team-db"]
    assert "Acme Cloud" not in response.content.decode()


def test_unknown_sort_or_kind_falls_back_to_every_vendor_by_name(client, viewer, acme):
    client.force_login(viewer)

    response = client.get(LIST_URL, {"sort": "drop table", "kind": "alien"})

    assert response.status_code == 200
    assert list(rows_by_slug(response)) == ["acme"]


@pytest.mark.parametrize(("user_fixture", "sees_link"), [("viewer", False), ("author", True)])
def test_new_vendor_link_shows_only_to_people_who_may_add_vendors(
    client, request, user_fixture, sees_link
):
    client.force_login(request.getfixturevalue(user_fixture))

    response = client.get(LIST_URL)

    assert (f'href="{CREATE_URL}"' in response.content.decode()) is sees_link


# --- Drafts never leak ---------------------------------------------------------


def test_viewer_counts_and_lists_leave_out_drafts(client, viewer, acme, draft, published):
    client.force_login(viewer)

    listing = client.get(LIST_URL)
    detail = client.get(detail_url(acme))

    assert rows_by_slug(listing)["acme"].incident_count == 1
    assert rows_by_slug(listing)["acme"].last_started_at == published.started_at
    assert list(detail.context["page"].items) == [published]
    assert [y.downtime for y in detail.context["downtime"]] == [timedelta(hours=2)]
    assert [t.entry.slug for t in detail.context["top_change_types"]] == ["config-change"]
    assert "Secret draft outage" not in detail.content.decode()


@pytest.mark.parametrize("user_fixture", ["author", "reviewer", "admin_user"])
def test_drafts_count_for_their_author_and_reviewers(
    client, request, user_fixture, acme, draft, published
):
    client.force_login(request.getfixturevalue(user_fixture))

    listing = client.get(LIST_URL)
    detail = client.get(detail_url(acme))

    assert rows_by_slug(listing)["acme"].incident_count == 2
    assert set(detail.context["page"].items) == {published, draft}
    assert [y.downtime for y in detail.context["downtime"]] == [timedelta(hours=12)]
    assert "Secret draft outage" in detail.content.decode()
    assert "Draft" in detail.content.decode()  # marked as such in the list


def test_another_author_does_not_see_someone_elses_draft(
    client, other_author, acme, draft, published
):
    client.force_login(other_author)

    assert rows_by_slug(client.get(LIST_URL))["acme"].incident_count == 1


def test_postmortem_with_two_authors_counts_once(client, viewer, author, other_author, acme):
    incident_of(
        acme,
        authors=[author, other_author],
        started_at=at(2024, 1, 1),
        resolved_at=at(2024, 1, 1, 1),
        change_types=[ChangeType.objects.get(slug="code-deploy")],
    )
    client.force_login(other_author)

    listing = client.get(LIST_URL)
    detail = client.get(detail_url(acme))

    assert rows_by_slug(listing)["acme"].incident_count == 1
    assert detail.context["downtime"][0].downtime == timedelta(hours=1)
    assert detail.context["top_change_types"][0].incident_count == 1


# --- Vendor detail -------------------------------------------------------------


def test_vendor_detail_shows_links_notes_and_services(client, viewer):
    vendor = VendorFactory(
        name="Acme",
        slug="acme-links",
        website="https://acme.example",
        status_page_url="https://status.acme.example",
        notes="Runs **everything** in one region.",
    )
    Service.objects.create(vendor=vendor, name="Object Storage")
    client.force_login(viewer)

    content = client.get(detail_url(vendor)).content.decode()

    assert '<a href="https://acme.example" rel="noopener noreferrer">' in content
    assert '<a href="https://status.acme.example" rel="noopener noreferrer">' in content
    assert "<strong>everything</strong>" in content
    assert "Object Storage" in content


def test_downtime_per_year_sums_known_durations_by_year_of_start(client, viewer, acme):
    incident_of(acme, started_at=at(2023, 2, 1), resolved_at=at(2023, 2, 1, 2))
    # Starts on New Year's Eve: its downtime belongs to the year it started.
    incident_of(acme, started_at=at(2023, 12, 31, 23, 30), resolved_at=at(2024, 1, 1, 0, 30))
    incident_of(acme, started_at=at(2024, 5, 1), resolved_at=at(2024, 5, 2, 6))
    incident_of(acme, started_at=at(2024, 8, 1), resolved_at=None)
    client.force_login(viewer)

    response = client.get(detail_url(acme))

    assert response.context["downtime"] == [
        YearDowntime(2023, 2, timedelta(hours=3), percent_of_longest=10.0),
        YearDowntime(2024, 1, timedelta(hours=30), percent_of_longest=100.0),
    ]
    content = response.content.decode()
    assert "1 incident with unknown duration" in content
    assert "1 d 6 h" in content and "3 h" in content
    # The chart's bars are SVG widths, and its text alternative carries the figures.
    assert 'width="10.0"' in content and 'width="100.0"' in content
    assert 'role="img" aria-label="Bar chart of downtime per year: 2023, 3 h; 2024, 1 d 6 h."' in (
        content
    )
    assert "style=" not in content


def test_vendor_without_known_durations_says_so(client, viewer, acme):
    incident_of(acme, started_at=None)
    incident_of(acme, started_at=None)
    client.force_login(viewer)

    content = client.get(detail_url(acme)).content.decode()

    assert "No postmortem with both a start and a resolution time." in content
    assert "2 incidents with unknown duration" in content


def test_vendor_detail_ranks_change_types_and_categories_by_postmortem_count(client, viewer, acme):
    config, deploy, upgrade = (
        ChangeType.objects.get(slug=s) for s in ("config-change", "code-deploy", "os-upgrade")
    )
    first = incident_of(acme, change_types=[config, deploy])
    second = incident_of(acme, change_types=[config])
    third = incident_of(acme, change_types=[config, upgrade, deploy])
    for incident in (first, second, third):
        FactorFactory(incident=incident, category=FailureCategory.objects.get(slug="software-bug"))
    # One postmortem citing a category twice counts once for it.
    FactorFactory(incident=first, category=FailureCategory.objects.get(slug="retry-storm"))
    FactorFactory(
        incident=first,
        category=FailureCategory.objects.get(slug="retry-storm"),
        role=FactorRole.CONTRIBUTING,
    )
    client.force_login(viewer)

    response = client.get(detail_url(acme))

    assert [(t.entry.slug, t.incident_count) for t in response.context["top_change_types"]] == [
        ("config-change", 3),
        ("code-deploy", 2),
        ("os-upgrade", 1),
    ]
    assert [(c.entry.slug, c.incident_count) for c in response.context["top_categories"]] == [
        ("software-bug", 3),
        ("retry-storm", 1),
    ]
    content = response.content.decode()
    assert f'href="{reverse("postmortems:change-type-detail", args=["config-change"])}"' in content
    assert f'href="{reverse("postmortems:category-detail", args=["retry-storm"])}"' in content


def test_top_change_types_stop_at_five(client, viewer, acme):
    incident_of(acme, change_types=ChangeType.objects.all()[:7])
    client.force_login(viewer)

    assert len(client.get(detail_url(acme)).context["top_change_types"]) == 5


def test_vendor_postmortems_are_paged_25_at_a_time_newest_first(client, viewer, acme):
    base = at(2020, 1, 1)
    incidents = [incident_of(acme, started_at=base + timedelta(days=n)) for n in range(27)]
    unknown_start = incident_of(acme, started_at=None)
    client.force_login(viewer)

    first = client.get(detail_url(acme))
    second = client.get(detail_url(acme) + next_link(first))
    back = client.get(detail_url(acme) + previous_link(second))

    assert list(first.context["page"].items) == incidents[::-1][:25]
    assert list(second.context["page"].items) == [*incidents[1::-1], unknown_start]
    assert list(back.context["page"].items) == incidents[::-1][:25]
    assert 'rel="prev"' not in first.content.decode()
    assert 'rel="next"' not in second.content.decode()


def test_vendor_postmortem_table_shows_severity_start_and_duration(client, viewer, acme):
    incident = incident_of(
        acme, title="Disk full", started_at=at(2024, 3, 1, 12), resolved_at=at(2024, 3, 1, 13, 30)
    )
    client.force_login(viewer)

    content = client.get(detail_url(acme)).content.decode()

    assert f'href="{reverse("postmortems:incident-detail", args=[incident.slug])}"' in content
    assert '<span class="badge severity-major">Major</span>' in content
    assert '<time datetime="2024-03-01T12:00:00+00:00"' in content
    assert "1 h 30 min" in content


def test_unknown_vendor_is_not_found(client, viewer):
    client.force_login(viewer)

    assert client.get("/vendors/nobody/").status_code == 404


def test_demo_vendor_downtime_per_year_follows_the_real_outages(client, viewer):
    load_demo()
    client.force_login(viewer)

    azure = client.get("/vendors/microsoft-azure/").context["downtime"]

    # Outages whose end is unknown (South Central US, 2018) add nothing.
    assert [(y.year, y.downtime) for y in azure] == [
        (2009, timedelta(hours=21, minutes=54)),
        (2012, timedelta(days=1, hours=10, minutes=15)),
        (2013, timedelta(seconds=41947)),
        (2014, timedelta(hours=11)),
        (2020, timedelta(hours=5)),
        (2021, timedelta(hours=14, minutes=37)),
        (2023, timedelta(hours=5, minutes=38)),
    ]


# --- Query counts --------------------------------------------------------------


@pytest.mark.parametrize("counted_ahead", [False, True], ids=["live", "counted-ahead"])
def test_vendor_list_queries_do_not_grow_with_vendors(client, viewer, counted_ahead):
    def add_vendors(n: int) -> None:
        for _ in range(n):
            vendor = VendorFactory()
            incident_of(vendor, started_at=at(2024, 1, 1))
        if counted_ahead:
            take_counts()

    client.force_login(viewer)
    add_vendors(2)
    with_two = count_queries(client, LIST_URL)
    add_vendors(18)
    with_twenty = count_queries(client, LIST_URL)

    # session, user, the viewer's permissions (2), which counts exist, the outages
    # beyond them, then the vendors' tallies or live counts, and the vendors
    assert with_two == with_twenty == (8 if counted_ahead else 7)


@pytest.mark.parametrize("counted_ahead", [False, True], ids=["live", "counted-ahead"])
def test_vendor_detail_queries_do_not_grow_with_postmortems(client, viewer, acme, counted_ahead):
    config = ChangeType.objects.get(slug="config-change")

    def add_incidents(n: int) -> None:
        for i in range(n):
            incident = incident_of(
                acme,
                started_at=at(2020 + i % 5, 1, 1),
                resolved_at=at(2020 + i % 5, 1, 2),
                change_types=[config],
            )
            FactorFactory(incident=incident)
        Service.objects.create(vendor=acme, name=f"Service {Service.objects.count()}")
        if counted_ahead:
            take_counts()

    client.force_login(viewer)
    add_incidents(2)
    with_two = count_queries(client, detail_url(acme))
    add_incidents(18)
    with_twenty = count_queries(client, detail_url(acme))

    # session, user, permissions (2), vendor, services, which counts exist, the rows
    # and outages beyond them; the total, downtime, unknown durations, top change types
    # and categories (from the tallies or counted live) and their entries; page rows,
    # their vendor links, vendors, change types, polled status sources, recurrences
    assert with_two == with_twenty == (24 if counted_ahead else 22)


# --- Vendor create -------------------------------------------------------------


def test_author_adds_a_vendor_and_lands_on_its_page(client, author):
    client.force_login(author)

    response = client.post(
        CREATE_URL,
        {
            "name": "Fastly CDN",
            "slug": "",
            "kind": VendorKind.NETWORK,
            "website": "https://www.fastly.com",
            "status_page_url": "https://status.fastly.com",
            "notes": "Edge network.",
        },
    )

    vendor = Vendor.objects.get(name="Fastly CDN")
    assert vendor.slug == "fastly-cdn"  # derived from the name
    assert vendor.kind == VendorKind.NETWORK
    assert response.status_code == 302
    assert response["Location"] == detail_url(vendor)


def test_new_vendor_form_page_has_labelled_fields(client, author):
    client.force_login(author)

    response = client.get(CREATE_URL)

    content = response.content.decode()
    assert "<h1" in content and "New vendor" in content
    for field in ("name", "slug", "kind", "website", "status_page_url", "notes"):
        assert f'<label for="id_vendor_{field}">' in content


@pytest.mark.parametrize("slug", ["", "acme"])
def test_taken_slug_is_refused_with_a_clear_message(client, author, acme, slug):
    client.force_login(author)

    response = client.post(CREATE_URL, {"name": "Acme", "slug": slug, "kind": VendorKind.OTHER})

    assert response.status_code == 200
    assert Vendor.objects.filter(name="Acme").count() == 0
    assert "The slug “acme” is already used by Acme Cloud. Enter a different slug." in (
        response.content.decode()
    )


def test_viewer_may_not_add_vendors(client, viewer):
    client.force_login(viewer)

    assert client.get(CREATE_URL).status_code == 403
    assert client.post(CREATE_URL, {"name": "Sneaky", "kind": "other"}).status_code == 403
    assert not Vendor.objects.filter(name="Sneaky").exists()


def test_htmx_get_returns_only_the_form_fragment(client, author):
    client.force_login(author)

    response = client.get(CREATE_URL, **HTMX)

    content = response.content.decode()
    assert "<html" not in content
    assert content.strip().startswith('<section id="vendor-form"')
    assert f'hx-post="{CREATE_URL}"' in content
    assert 'name="csrfmiddlewaretoken"' in content
    assert "HX-Request" in response["Vary"]


def test_htmx_post_returns_a_selected_option_and_announces_the_vendor(client, author):
    client.force_login(author)

    response = client.post(CREATE_URL, {"name": "Cloud & Co", "kind": VendorKind.CLOUD}, **HTMX)

    vendor = Vendor.objects.get(slug="cloud-co")
    assert response.status_code == 200
    assert response.content.decode() == (
        f'<option value="{vendor.id}" selected>Cloud &amp; Co</option>'
    )
    assert json.loads(response["HX-Trigger"]) == {
        "vendorCreated": {"id": vendor.id, "name": "Cloud & Co"}
    }


def test_htmx_post_with_errors_puts_the_form_back_in_place(client, author, acme):
    client.force_login(author)

    response = client.post(CREATE_URL, {"name": "Acme", "slug": "acme", "kind": "other"}, **HTMX)

    assert response.status_code == 200
    assert response["HX-Retarget"] == "#vendor-form"
    assert response["HX-Reswap"] == "outerHTML"
    assert "HX-Trigger" not in response
    assert "is already used by Acme Cloud" in response.content.decode()
