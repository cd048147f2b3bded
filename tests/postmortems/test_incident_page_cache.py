"""The incident page's body is rendered once per content and time zone: every change to
what it shows must show on the next view, and nothing of one reader's reaches another."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.services import SESSION_TIME_ZONE
from patterns.models import RelatedList, StatsSnapshot
from postmortems.choices import ReviewStatus
from postmortems.models import ChangeType, FailureCategory, Incident, IncidentVendor, Source
from postmortems.services import IncidentChanges, update_incident
from tests.factories import (
    ActionItemFactory,
    FactorFactory,
    IncidentFactory,
    TimelineEventFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def incident() -> Incident:
    incident = IncidentFactory(summary="The first summary.", started_at=T0)
    IncidentVendor.objects.create(
        incident=incident, vendor=VendorFactory(name="Acme Cloud"), is_primary=True
    )
    return incident


def page(client, incident: Incident) -> str:
    response = client.get(reverse("postmortems:incident-detail", args=[incident.slug]))
    assert response.status_code == 200
    return response.content.decode()


def body_of(html: str) -> str:
    # The rest of the page carries a fresh nonce and CSRF token on every request.
    return html[html.index('<div class="incident-body">') : html.index("</article>")]


def queries(client, incident: Incident) -> int:
    with CaptureQueriesContext(connection) as captured:
        page(client, incident)
    return len(captured)


def test_a_second_view_reads_the_body_from_the_cache(client, viewer, incident):
    client.force_login(viewer)
    FactorFactory(incident=incident, description="A cache stampede.")
    # The first view also stores the related incidents; what it rendered is kept all the same.
    first_queries = queries(client, incident)
    first = page(client, incident)

    assert queries(client, incident) < first_queries - 5
    assert body_of(page(client, incident)) == body_of(first)
    assert "A cache stampede." in body_of(first)


def store_related(incident: Incident) -> None:
    other = IncidentFactory(title="NEW-RELATED")
    item = {"id": other.id, "slug": other.slug, "title": other.title, "score": 1.0}
    RelatedList.objects.update_or_create(
        incident=incident, defaults={"computed_at": T0, "items": [{**item, "reasons": []}]}
    )


# What each change does, and a text only the changed page shows.
CHANGES = {
    "factor": (lambda i: FactorFactory(incident=i, description="NEW-FACTOR"), "NEW-FACTOR"),
    "action item": (lambda i: ActionItemFactory(incident=i, title="NEW-ITEM"), "NEW-ITEM"),
    "timeline event": (
        lambda i: TimelineEventFactory(
            incident=i, occurred_at=T0 + timedelta(minutes=5), description="NEW-EVENT"
        ),
        "NEW-EVENT",
    ),
    "source": (
        lambda i: Source.objects.create(
            incident=i, url="https://status.example.com/x", title="NEW-SOURCE"
        ),
        "NEW-SOURCE",
    ),
    "category renamed": (
        lambda i: FailureCategory.objects.filter(slug="software-bug").update(name="NEW-CATEGORY"),
        "NEW-CATEGORY",
    ),
    "change type added": (
        lambda i: i.change_types.add(
            ChangeType.objects.create(slug="new-ct", name="NEW-CHANGE-TYPE", definition="d")
        ),
        "NEW-CHANGE-TYPE",
    ),
    "related incidents stored": (store_related, "NEW-RELATED"),
}


@pytest.mark.parametrize("change", CHANGES)
def test_every_change_to_what_the_body_shows_shows_on_the_next_view(
    client, viewer, incident, change
):
    FactorFactory(incident=incident)  # a software bug, for the category's rename
    client.force_login(viewer)
    page(client, incident)
    write, text = CHANGES[change]

    write(incident)

    assert text in body_of(page(client, incident))


def test_an_edit_of_a_field_shows_at_once(client, viewer, author, incident):
    client.force_login(viewer)
    page(client, incident)

    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"summary": "The second summary."}),
        user=author,
    )

    body = page(client, incident)
    assert "The second summary." in body and "The first summary." not in body


def test_a_new_refresh_is_a_new_body(client, viewer, incident):
    client.force_login(viewer)
    page(client, incident)
    before = queries(client, incident)

    StatsSnapshot.objects.create(computed_at=T0, data={})

    assert queries(client, incident) > before  # rendered again, not served stale


def test_each_reader_sees_times_in_their_own_zone(client, viewer, reviewer, incident):
    client.force_login(viewer)
    session = client.session
    session[SESSION_TIME_ZONE] = "Asia/Tokyo"
    session.save()
    tokyo = page(client, incident)

    client.force_login(reviewer)
    session = client.session
    session[SESSION_TIME_ZONE] = "America/Los_Angeles"
    session.save()
    los_angeles = page(client, incident)

    assert "1 Mar 2024 21:00 JST" in tokyo and "PST" not in tokyo
    assert "1 Mar 2024 04:00 PST" in los_angeles and "JST" not in los_angeles


def test_what_a_reader_may_do_is_never_taken_from_another_reader(client, viewer, author, incident):
    incident.authors.add(author)
    client.force_login(author)
    assert ">Edit</a>" in page(client, incident)

    client.force_login(viewer)
    assert ">Edit</a>" not in page(client, incident)


def test_drafts_are_rendered_on_every_view(client, author):
    draft = IncidentFactory(status=ReviewStatus.DRAFT, summary="Draft text.")
    draft.authors.add(author)
    client.force_login(author)
    first = queries(client, draft)

    assert queries(client, draft) == first
