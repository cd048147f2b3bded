"""The API's incidents are built directly from their rows, not field by field through DRF:
the JSON must be exactly what the serializer's declared fields give (and document)."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from rest_framework import serializers

from postmortems.api.representation import incidents_with_parts, with_parts
from postmortems.api.serializers import IncidentSerializer
from postmortems.choices import ActionItemStatus, FactorRole
from postmortems.models import (
    ChangeType,
    FailureCategory,
    Incident,
    IncidentVendor,
    Service,
    Source,
)
from tests.factories import (
    ActionItemFactory,
    FactorFactory,
    IncidentFactory,
    TimelineEventFactory,
    UserFactory,
    VendorFactory,
)

pytestmark = pytest.mark.django_db

T0 = datetime(2024, 2, 29, 23, 58, 1, 250000, tzinfo=UTC)


def generic(incident: Incident) -> dict:
    """What DRF's field-by-field path makes of the incident (whose people come in no
    particular order: the API lists them alphabetically)."""
    serializer = IncidentSerializer()
    data = dict(serializers.ModelSerializer.to_representation(serializer, incident))
    return {**data, "authors": sorted(data["authors"]), "reviewers": sorted(data["reviewers"])}


def loaded(incident: Incident) -> Incident:
    """The incident as the API reads it; the ORM's statement and the compiled one agree."""
    through_orm = with_parts(Incident.objects.filter(pk=incident.pk)).get()
    (compiled,) = incidents_with_parts([incident.pk])
    assert IncidentSerializer(compiled).data == IncidentSerializer(through_orm).data
    return compiled


def everything() -> Incident:
    """An incident with every part, two of each where there can be two."""
    incident = IncidentFactory(
        started_at=T0,
        detected_at=T0 + timedelta(minutes=7, seconds=30),
        mitigated_at=T0 + timedelta(hours=2),
        resolved_at=T0 + timedelta(days=1, hours=3),
        regions=["westus", "eu-west-1"],
        regions_affected=2,
        regions_total=17,
        detection_method="monitoring",
        data_loss=True,
    )
    primary, other = VendorFactory(name="Zeta Cloud"), VendorFactory(name="Alpha CDN")
    IncidentVendor.objects.create(incident=incident, vendor=primary, is_primary=True)
    IncidentVendor.objects.create(incident=incident, vendor=other)
    incident.services.add(
        Service.objects.create(vendor=primary, name="Blob storage", external_id="svc-1"),
        Service.objects.create(vendor=other, name="Edge"),
    )
    incident.change_types.add(*ChangeType.objects.order_by("slug")[:2])
    incident.authors.add(UserFactory(username="bo"), UserFactory(username="ana"))
    incident.reviewers.add(UserFactory(username="cy"))
    for minutes in (0, 7, 120):
        TimelineEventFactory(incident=incident, occurred_at=T0 + timedelta(minutes=minutes))
    categories = FailureCategory.objects.order_by("slug")
    FactorFactory(incident=incident, role=FactorRole.ROOT_CAUSE, category=categories[0])
    FactorFactory(incident=incident, role=FactorRole.CONTRIBUTING, category=categories[1])
    ActionItemFactory(
        incident=incident,
        owner=UserFactory(username="dee"),
        due_date=date(2024, 3, 15),
        ticket_url="https://tickets.example.com/OPS-1",
        status=ActionItemStatus.DONE,
        completed_at=T0 + timedelta(days=3),
    )
    ActionItemFactory(incident=incident, owner=None, due_date=None, ticket_url="")
    Source.objects.create(incident=incident, url="https://status.example.com/1", title="Status")
    return incident


def test_an_incident_with_every_part_reads_as_the_serializer_declares():
    incident = loaded(everything())
    data = IncidentSerializer(incident).data
    assert data == generic(incident)
    # And it is the data itself, not two empty shells agreeing.
    assert data["primary_vendor"] == incident.primary_vendor.slug
    assert [v["name"] for v in data["vendors"]] == ["Zeta Cloud", "Alpha CDN"]
    assert data["time_to_detect"] == 450
    assert data["started_at"] == "2024-02-29T23:58:01.250000Z"
    assert data["action_items"][0]["due_date"] == "2024-03-15"
    assert data["authors"] == ["ana", "bo"]
    assert len(data["timeline"]) == 3 and len(data["factors"]) == 2


def test_an_incident_with_nothing_optional_reads_the_same_too():
    incident = loaded(
        IncidentFactory(
            started_at=None,
            detected_at=None,
            mitigated_at=None,
            resolved_at=None,
            regions=[],
            regions_affected=None,
            regions_total=None,
        )
    )
    data = IncidentSerializer(incident).data
    assert data == generic(incident)
    assert data["primary_vendor"] is None and data["time_to_resolve"] is None
    assert data["blast_radius"] == ""


def test_times_follow_the_current_time_zone_as_drf_does(settings):
    incident = loaded(everything())
    with timezone.override(ZoneInfo("Asia/Tokyo")):
        data = IncidentSerializer(incident).data
        assert data == generic(incident)
    assert data["started_at"] == "2024-03-01T08:58:01.250000+09:00"


def test_every_declared_field_is_in_the_representation():
    # A field added to the serializer must be added to the representation as well.
    declared = list(IncidentSerializer().fields)
    incident = loaded(everything())
    assert list(IncidentSerializer(incident).data) == declared


def test_the_api_list_and_detail_serve_that_representation(client_for):
    admin = UserFactory(is_superuser=True, is_staff=True)
    incident = loaded(everything())
    client = client_for(admin)
    listed = client.get("/api/incidents/").json()["results"]
    one = client.get(f"/api/incidents/{incident.slug}/").json()
    expected = generic(incident)
    assert [row for row in listed if row["slug"] == incident.slug] == [expected]
    assert one == expected
