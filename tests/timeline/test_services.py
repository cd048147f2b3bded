from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError

from postmortems.models import Incident
from tests.factories import IncidentFactory
from timeline.choices import EventKind
from timeline.models import TimelineEvent
from timeline.services import NewEvent, delete_event, record_event, record_events, update_event

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


def test_marking_events_set_the_incidents_moments():
    incident = IncidentFactory(started_at=T0)

    record_events(
        incident=incident,
        events=[
            NewEvent(occurred_at=T0 + timedelta(minutes=7), kind=EventKind.DETECTION),
            NewEvent(occurred_at=T0 + timedelta(minutes=50), kind=EventKind.MITIGATION),
            NewEvent(occurred_at=T0 + timedelta(hours=3), kind=EventKind.RESOLUTION),
        ],
    )

    incident.refresh_from_db()
    assert incident.detected_at == T0 + timedelta(minutes=7)
    assert incident.mitigated_at == T0 + timedelta(minutes=50)
    assert incident.resolved_at == T0 + timedelta(hours=3)
    assert incident.time_to_detect == timedelta(minutes=7)
    assert incident.time_to_resolve == timedelta(hours=3)


def test_the_earliest_detection_and_the_latest_resolution_count():
    incident = IncidentFactory(started_at=T0)
    for minutes, kind in [
        (30, "detection"),
        (10, "detection"),
        (60, "resolution"),
        (90, "resolution"),
    ]:
        record_event(incident=incident, occurred_at=T0 + timedelta(minutes=minutes), kind=kind)

    incident.refresh_from_db()
    assert incident.detected_at == T0 + timedelta(minutes=10)
    assert incident.resolved_at == T0 + timedelta(minutes=90)


def test_an_event_that_breaks_the_moment_order_is_refused_and_nothing_is_written():
    incident = IncidentFactory(started_at=T0)

    with pytest.raises(ValidationError) as caught:
        record_event(
            incident=incident, occurred_at=T0 - timedelta(hours=1), kind=EventKind.DETECTION
        )

    assert "detected_at" in caught.value.message_dict
    assert not TimelineEvent.objects.filter(incident=incident).exists()
    incident.refresh_from_db()
    assert incident.detected_at is None


def test_deleting_the_only_detection_clears_the_moment_it_set():
    incident = IncidentFactory(started_at=T0)
    event = record_event(incident=incident, occurred_at=T0 + timedelta(minutes=5), kind="detection")

    delete_event(event=event)

    incident.refresh_from_db()
    assert incident.detected_at is None


def test_a_hand_entered_moment_survives_unrelated_timeline_edits():
    incident = IncidentFactory(started_at=T0, resolved_at=T0 + timedelta(hours=4))

    record_event(incident=incident, occurred_at=T0 + timedelta(hours=1), kind=EventKind.NOTE)

    incident.refresh_from_db()
    assert incident.resolved_at == T0 + timedelta(hours=4)


def test_moving_a_mitigation_moves_the_moment():
    incident = IncidentFactory(started_at=T0)
    event = record_event(incident=incident, occurred_at=T0 + timedelta(hours=1), kind="mitigation")

    update_event(event=event, occurred_at=T0 + timedelta(hours=2))

    incident.refresh_from_db()
    assert incident.mitigated_at == T0 + timedelta(hours=2)


def test_timeline_orders_by_time_then_position():
    incident = IncidentFactory(started_at=T0)
    record_events(
        incident=incident,
        events=[
            NewEvent(occurred_at=T0 + timedelta(hours=1), description="second"),
            NewEvent(occurred_at=T0, description="first"),
            NewEvent(occurred_at=T0 + timedelta(hours=1), description="third"),
        ],
    )

    assert [e.description for e in incident.events.all()] == ["first", "second", "third"]


def test_a_moment_change_from_the_timeline_bumps_the_incident_version():
    incident = IncidentFactory(started_at=T0)

    record_event(incident=incident, occurred_at=T0 + timedelta(minutes=5), kind="detection")

    assert Incident.objects.get(id=incident.id).version == incident.version + 1


def test_an_update_id_is_imported_once_per_incident_and_source():
    incident = IncidentFactory()
    fields = {"occurred_at": T0, "source": "statuspage:github", "external_id": "upd-1"}
    record_event(incident=incident, **fields)

    with pytest.raises(ValidationError, match="already imported"):
        record_event(incident=incident, **fields)
