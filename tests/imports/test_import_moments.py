"""The moments of an imported incident follow its updates, even when the page's start is late."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from imports.services import import_batch, parse_payload
from postmortems.models import Incident
from tests.factories import VendorFactory
from tests.imports.status_page_fixtures import read_fixture

# The page's started_at is the 9th update ("We have resolved the issue…"); eight
# "investigating" updates come before it, the first at 08:12:40.150.
LATE = "statuspage_incident_started_late.json"
FIRST_UPDATE = datetime(2023, 3, 14, 8, 12, 40, 150000, tzinfo=UTC)
RESOLVED = datetime(2023, 3, 14, 18, 45, 40, 150000, tzinfo=UTC)


@pytest.fixture
def vendor(db):
    return VendorFactory(slug="quokka", name="Quokka")


def run(vendor, data: bytes, fmt: str = "statuspage"):
    return import_batch(vendor=vendor, fmt=fmt, batch=parse_payload(fmt, data))


def test_a_start_set_after_the_first_updates_starts_at_the_first_update(vendor):
    run(vendor, read_fixture(LATE))

    incident = Incident.objects.get()
    assert incident.started_at == incident.detected_at == FIRST_UPDATE
    assert incident.resolved_at == RESOLVED
    assert incident.time_to_detect == timedelta(0)
    assert incident.time_to_resolve == timedelta(hours=10, minutes=33)


def test_the_first_investigating_update_is_the_detection_and_the_rest_are_updates(vendor):
    run(vendor, read_fixture(LATE))

    events = Incident.objects.get().events.order_by("occurred_at")
    kinds = [(e.external_id, e.kind) for e in events]
    assert kinds[0] == ("h2k9d4w7q1xm", "detection")
    assert kinds[8] == ("k2x5m8r1q4gv", "status_update")  # the page's own started_at
    assert {kind for _, kind in kinds[1:-1]} == {"status_update"}
    assert kinds[-1] == ("z8c4p7t2v6jd", "resolution")


def test_the_incident_page_shows_the_span_of_the_updates(vendor, reviewer, client):
    run(vendor, read_fixture(LATE))
    incident = Incident.objects.get()
    client.force_login(reviewer)

    page = client.get(reverse("postmortems:incident-detail", args=[incident.slug])).content

    assert b"<dt>Time to resolve</dt><dd>10 h 33 min</dd>" in page


def test_reimporting_leaves_the_moments_where_they_are(vendor):
    run(vendor, read_fixture(LATE))
    before = Incident.objects.values("started_at", "detected_at", "resolved_at", "version").get()

    report = run(vendor, read_fixture(LATE))

    assert report.unchanged == 1
    assert (
        Incident.objects.values("started_at", "detected_at", "resolved_at", "version").get()
        == before
    )


def test_a_start_the_page_gives_before_its_updates_is_kept(vendor):
    payload = json.loads(read_fixture(LATE))
    payload["incident"]["started_at"] = "2023-03-14T07:55:00.000Z"  # back-dated by the vendor

    run(vendor, json.dumps(payload).encode())

    incident = Incident.objects.get()
    assert incident.started_at == datetime(2023, 3, 14, 7, 55, tzinfo=UTC)
    assert incident.detected_at == FIRST_UPDATE


def test_a_maintenance_still_starts_at_its_window_after_its_announcements(vendor):
    run(vendor, read_fixture("statuspage_maintenances.json"))

    for maintenance in Incident.objects.all():
        raw = maintenance.raw_payload
        window = datetime.fromisoformat(raw["scheduled_for"])
        assert maintenance.started_at == window
