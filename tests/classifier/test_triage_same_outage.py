"""The triage queue suggests the same outage recorded elsewhere, and confirming it there
links the two records (counted once) and takes the import out of the queue."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from classifier import services
from postmortems.choices import Origin, ReviewStatus
from postmortems.models import Incident, IncidentVendor
from tests.factories import IncidentFactory, VendorFactory

pytestmark = pytest.mark.django_db
START = datetime(2024, 3, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def records(monkeypatch):
    monkeypatch.setattr(services.reference, "examples", lambda: ())
    vendor = VendorFactory(slug="quokka", name="Quokka")
    written = IncidentFactory(
        title="Webhook deliveries delayed after a queue configuration change",
        slug="written",
        started_at=START,
        resolved_at=START.replace(hour=16),
    )
    imported = IncidentFactory(
        title="Delayed webhook deliveries",
        slug="imported",
        summary="A configuration change to the queue delayed webhook deliveries.",
        status=ReviewStatus.DRAFT,
        origin=Origin.IMPORTED,
        import_source="statuspage:quokka",
        external_id="w1",
        started_at=START.replace(minute=10),
        resolved_at=START.replace(hour=15),
    )
    for incident in (written, imported):
        IncidentVendor.objects.create(incident=incident, vendor=vendor, is_primary=True)
    services.classify([imported.id], auto_accept=False)
    return written, imported


def test_the_queue_offers_the_written_postmortem_and_linking_counts_it_once(
    records, admin_user, client
):
    written, imported = records
    client.force_login(admin_user)

    page = client.get(reverse("classifier:triage")).content.decode()
    assert "Possibly the same outage as" in page
    assert reverse("postmortems:incident-detail", args=["written"]) in page

    response = client.post(
        reverse("classifier:same-outage", args=["imported"]), {"other": "written"}
    )

    assert response.status_code == 302
    assert Incident.objects.get(id=imported.id).same_outage_as_id == written.id
    after = client.get(reverse("classifier:triage")).content.decode()
    assert 'id="triage-imported"' not in after


def test_a_viewer_cannot_link_from_the_queue(records, viewer, client):
    client.force_login(viewer)
    response = client.post(
        reverse("classifier:same-outage", args=["imported"]), {"other": "written"}
    )
    assert response.status_code in (403, 404)
    assert Incident.objects.get(slug="imported").same_outage_as_id is None
