"""Reading and writing incidents through the API, always through the services."""

from datetime import timedelta

import pytest
from django.urls import reverse

from postmortems.choices import ReviewActionKind, ReviewStatus, Severity
from postmortems.models import ChangeType, Incident, ReviewAction, Source
from tests.api.conftest import T0, error_of, link_vendor
from tests.factories import (
    ActionItemFactory,
    FactorFactory,
    IncidentFactory,
    TimelineEventFactory,
    VendorFactory,
)
from timeline.choices import EventKind

pytestmark = pytest.mark.django_db
LIST = reverse("postmortems-api:incident-list")


def detail(incident) -> str:
    return reverse("postmortems-api:incident-detail", args=[incident.slug])


def action(name: str, incident) -> str:
    return reverse(f"postmortems-api:incident-{name}", args=[incident.slug])


@pytest.fixture
def full_incident(acme):
    """A published incident with every part filled in."""
    incident = IncidentFactory(
        slug="storage-outage",
        started_at=T0,
        detected_at=T0 + timedelta(minutes=10),
        resolved_at=T0 + timedelta(hours=2),
        regions_affected=12,
        regions_total=17,
    )
    link_vendor(incident, acme, primary=True)
    link_vendor(incident, VendorFactory(slug="cdn-co", name="CDN Co"))
    incident.change_types.add(ChangeType.objects.get(slug="config-change"))
    TimelineEventFactory(incident=incident, kind=EventKind.DETECTION, description="Alarms.")
    FactorFactory(incident=incident, description="A typo.")
    ActionItemFactory(incident=incident)
    Source.objects.create(incident=incident, url="https://example.com/pm", kind="news")
    return incident


def test_an_incident_reads_with_its_parts(client_for, viewer, full_incident):
    response = client_for(viewer).get(detail(full_incident))

    body = response.json()
    assert response["ETag"] == f'"{full_incident.version}"'
    assert body["vendors"] == [
        {"slug": "acme", "name": "Acme Cloud", "primary": True},
        {"slug": "cdn-co", "name": "CDN Co", "primary": False},
    ]
    assert body["primary_vendor"] == "acme"
    assert body["change_types"] == ["config-change"]
    assert body["factors"][0]["category"] == "software-bug"
    assert body["timeline"][0]["kind"] == EventKind.DETECTION
    assert body["action_items"][0]["title"] == "Add a canary stage"
    assert body["sources"][0]["url"] == "https://example.com/pm"
    assert body["blast_radius"] == "12 of 17 regions"
    assert body["time_to_detect"] == 600
    assert body["time_to_resolve"] == 7200
    assert body["time_to_mitigate"] is None
    assert body["mitigated_at"] is None


def test_creating_goes_through_the_service_as_the_tokens_user(client_for, author, acme):
    body = {
        "title": "Queue backlog",
        "severity": Severity.MINOR,
        "vendors": ["acme"],
        "primary_vendor": "acme",
        "change_types": ["config-change"],
        "started_at": T0.isoformat(),
        "resolved_at": (T0 + timedelta(hours=1)).isoformat(),
    }

    response = client_for(author).post(LIST, body)

    assert response.status_code == 201
    incident = Incident.objects.get(slug=response.json()["slug"])
    assert response["ETag"] == f'"{incident.version}"'
    assert response["Location"].endswith(detail(incident))
    assert incident.status == ReviewStatus.DRAFT
    assert list(incident.authors.all()) == [author]
    assert incident.primary_vendor == acme
    assert incident.history.earliest().history_user == author
    # Each moment given becomes a timeline event, as in the editor.
    kinds = set(incident.events.values_list("kind", flat=True))
    assert kinds == {EventKind.IMPACT_START, EventKind.RESOLUTION}


def test_moments_out_of_order_are_refused_by_field(client_for, author):
    body = {
        "title": "Backwards",
        "started_at": T0.isoformat(),
        "detected_at": (T0 - timedelta(hours=1)).isoformat(),
    }

    response = client_for(author).post(LIST, body)

    assert response.status_code == 400
    assert "is before started" in error_of(response)["fields"]["detected_at"][0]
    assert not Incident.objects.filter(title="Backwards").exists()


def test_editing_goes_through_the_service_with_history(client_for, author, incident_by, acme):
    incident = incident_by(author, summary="Old text.")
    link_vendor(incident, acme, primary=True)
    other = VendorFactory(slug="other", name="Other")

    response = client_for(author).patch(
        detail(incident),
        {"summary": "New text.", "vendors": ["acme", "other"], "change_types": ["os-upgrade"]},
        HTTP_IF_MATCH=f'"{incident.version}"',
    )

    assert response.status_code == 200, response.json()
    incident.refresh_from_db()
    assert incident.summary == "New text."
    assert incident.version == 2
    assert response["ETag"] == '"2"'
    assert incident.primary_vendor == acme  # kept: still among the vendors
    assert set(incident.vendors.all()) == {acme, other}
    assert [c.slug for c in incident.change_types.all()] == ["os-upgrade"]
    latest = incident.history.latest()
    assert latest.history_user == author
    assert latest.summary == "New text."


def test_a_new_primary_vendor_alone_keeps_the_other_vendors(client_for, author, incident_by, acme):
    incident = incident_by(author)
    link_vendor(incident, acme, primary=True)
    VendorFactory(slug="other", name="Other")

    client_for(author).patch(
        detail(incident), {"primary_vendor": "other", "version": incident.version}
    )

    assert incident.primary_vendor.slug == "other"
    assert {v.slug for v in incident.vendors.all()} == {"acme", "other"}


def test_changing_the_status_by_patch_is_refused(client_for, author, incident_by):
    incident = incident_by(author, status=ReviewStatus.DRAFT)

    response = client_for(author).patch(
        detail(incident), {"status": ReviewStatus.PUBLISHED, "version": incident.version}
    )

    assert response.status_code == 400
    assert "/submit/" in error_of(response)["fields"]["status"][0]
    assert Incident.objects.get(pk=incident.pk).status == ReviewStatus.DRAFT


def test_moving_a_moment_by_patch_is_refused(client_for, author, incident_by):
    incident = incident_by(author, started_at=T0)

    response = client_for(author).patch(
        detail(incident), {"started_at": (T0 + timedelta(hours=1)).isoformat(), "version": 1}
    )

    assert response.status_code == 400
    assert "timeline" in error_of(response)["fields"]["started_at"][0]


def test_sending_back_the_whole_representation_is_accepted(client_for, author, full_incident):
    full_incident.authors.add(author)
    client = client_for(author)
    body = client.get(detail(full_incident)).json()
    slugs = [vendor["slug"] for vendor in body["vendors"]]

    response = client.put(detail(full_incident), {**body, "vendors": slugs, "title": "Renamed"})

    assert response.status_code == 200, response.json()
    assert response.json()["title"] == "Renamed"
    assert response.json()["timeline"] == body["timeline"]


def test_vendors_echoed_as_objects_are_refused_with_a_hint(client_for, author, full_incident):
    full_incident.authors.add(author)
    client = client_for(author)
    body = client.get(detail(full_incident)).json()

    response = client.put(detail(full_incident), body)

    assert response.status_code == 400
    assert "slug" in error_of(response)["fields"]["vendors.0"][0]


def test_the_review_actions_move_the_status(client_for, author, reviewer, incident_by):
    incident = incident_by(author, status=ReviewStatus.DRAFT)

    submitted = client_for(author).post(action("submit", incident))
    returned = client_for(reviewer).post(action("return", incident), {"comment": "More detail."})
    client_for(author).post(action("submit", incident))
    published = client_for(reviewer).post(action("publish", incident))

    assert submitted.json()["status"] == ReviewStatus.IN_REVIEW
    assert returned.json()["status"] == ReviewStatus.DRAFT
    assert published.json()["status"] == ReviewStatus.PUBLISHED
    assert published.json()["published_at"] is not None
    assert published["ETag"] == f'"{Incident.objects.get(pk=incident.pk).version}"'
    kinds = list(ReviewAction.objects.filter(incident=incident).values_list("kind", flat=True))
    assert kinds == [
        ReviewActionKind.SUBMITTED,
        ReviewActionKind.RETURNED,
        ReviewActionKind.SUBMITTED,
        ReviewActionKind.PUBLISHED,
    ]


def test_sending_back_needs_a_comment(client_for, author, reviewer, incident_by):
    incident = incident_by(author, status=ReviewStatus.IN_REVIEW)

    response = client_for(reviewer).post(action("return", incident), {"comment": " "})

    assert response.status_code == 400
    assert error_of(response)["fields"] == {"comment": ["Say what the authors should change."]}


def test_a_review_action_with_a_stale_if_match_is_refused(client_for, author, incident_by):
    incident = incident_by(author, status=ReviewStatus.DRAFT)

    response = client_for(author).post(action("submit", incident), HTTP_IF_MATCH='"99"')

    assert response.status_code == 412
    assert Incident.objects.get(pk=incident.pk).status == ReviewStatus.DRAFT


def test_admins_delete_with_the_current_version(client_for, admin_user, author, incident_by):
    incident = incident_by(author)

    response = client_for(admin_user).delete(detail(incident), HTTP_IF_MATCH='"1"')

    assert response.status_code == 204
    assert not Incident.objects.filter(pk=incident.pk).exists()


def test_deleting_without_a_version_is_refused(client_for, admin_user, author, incident_by):
    incident = incident_by(author)

    response = client_for(admin_user).delete(detail(incident))

    assert response.status_code == 428
    assert "If-Match" in error_of(response)["message"]
    assert Incident.objects.filter(pk=incident.pk).exists()


def test_read_only_fields_are_ignored_on_write(client_for, author):
    response = client_for(author).post(LIST, {"title": "Mine", "slug": "chosen", "version": 9})

    assert response.status_code == 201
    assert response.json()["slug"] == "mine"
    assert response.json()["version"] == 1
