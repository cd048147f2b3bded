"""status.io public status API."""

import pytest

from imports.parsers.statusio import parse
from imports.records import ItemError, PayloadError
from tests.imports.status_page_fixtures import by_id, read_fixture, utc

pytestmark = []  # pure parsing: no database

OPEN = "64b1f0c2a9e3d5001f7a1b2c"
CLOSED = "64b1f0c2a9e3d5001f7a1b2d"
ACTIVE_MAINTENANCE = "64b0aa00a9e3d5001f7a0001"
UPCOMING_MAINTENANCE = "64b0aa00a9e3d5001f7a0002"


@pytest.fixture(scope="module")
def batch():
    return parse(read_fixture("statusio.json"))


@pytest.fixture(scope="module")
def incidents(batch):
    return by_id(batch)


def test_incidents_and_maintenances_are_parsed(batch):
    assert [i.external_id for i in batch.incidents] == [
        OPEN,
        CLOSED,
        ACTIVE_MAINTENANCE,
        UPCOMING_MAINTENANCE,
    ]


def test_broken_incidents_are_reported_and_the_rest_parse(batch):
    assert batch.errors == [
        ItemError("?", "incident has no 'id'"),
        ItemError("64b1f0c2a9e3d5001f7a1b2f", "datetime_open 'soon' is not a readable timestamp"),
    ]


def test_messages_come_oldest_first(incidents):
    assert [u.display_at for u in incidents[OPEN].updates] == [
        utc(2023, 7, 14, 9, 21),
        utc(2023, 7, 14, 9, 40),
    ]


def test_message_ids_are_the_incident_id_and_the_message_time(incidents):
    assert [u.external_id for u in incidents[OPEN].updates] == [
        f"{OPEN}-2023-07-14T09:21:00Z",
        f"{OPEN}-2023-07-14T09:40:00Z",
    ]


def test_messages_at_the_same_instant_get_distinct_ids(incidents):
    assert [u.external_id for u in incidents[CLOSED].updates] == [
        f"{CLOSED}-2023-07-10T11:00:00Z",
        f"{CLOSED}-2023-07-10T11:00:00Z-2",
    ]


def test_message_state_maps_to_lifecycle_words(incidents):
    assert [u.status for u in incidents[OPEN].updates] == ["investigating", "identified"]


def test_open_incident_status_is_its_latest_state(incidents):
    incident = incidents[OPEN]
    assert (incident.status, incident.started_at, incident.resolved_at) == (
        "identified",
        utc(2023, 7, 14, 9, 21),
        None,
    )


def test_impact_is_the_worst_message_status(incidents):
    assert incidents[OPEN].impact == "critical"  # 400 then 500


def test_degraded_performance_is_minor(incidents):
    assert incidents[CLOSED].impact == "minor"  # 300


def test_incident_with_datetime_resolve_is_resolved_then(incidents):
    incident = incidents[CLOSED]
    assert (incident.status, incident.resolved_at) == ("resolved", utc(2023, 7, 10, 12, 45))


def test_unicode_message_survives(incidents):
    assert incidents[CLOSED].updates[1].body.endswith("monitoring the backlog 📉")


def test_bodies_are_text(incidents):
    assert {u.body_format for u in incidents[OPEN].updates} == {"text"}


def test_components_are_keyed_by_id_without_containers(incidents):
    assert [(c.external_id, c.name) for c in incidents[OPEN].components] == [
        ("5342d1b837768a325c0000aa", "Image Registry")
    ]


def test_active_maintenance_is_in_progress_from_its_planned_start(incidents):
    maintenance = incidents[ACTIVE_MAINTENANCE]
    assert (
        maintenance.is_maintenance,
        maintenance.status,
        maintenance.impact,
        maintenance.started_at,
        maintenance.resolved_at,
    ) == (True, "in_progress", "maintenance", utc(2023, 7, 14, 2, 0), None)


def test_maintenance_message_before_its_window_is_scheduled(incidents):
    assert [u.status for u in incidents[ACTIVE_MAINTENANCE].updates] == ["scheduled"]


def test_upcoming_maintenance_is_scheduled(incidents):
    maintenance = incidents[UPCOMING_MAINTENANCE]
    assert (maintenance.status, maintenance.started_at, maintenance.updates) == (
        "scheduled",
        utc(2023, 8, 1, 1, 0),
        [],
    )


def test_raw_is_the_incidents_own_object(incidents):
    assert incidents[OPEN].raw["_id"] == OPEN


def test_payload_without_result_is_a_payload_error():
    with pytest.raises(PayloadError, match="expected a 'result' object"):
        parse(read_fixture("statuspage_incidents.json"))


def test_result_without_incidents_is_a_payload_error():
    with pytest.raises(PayloadError, match="'result' has no 'incidents' or 'maintenance'"):
        parse(b'{"result": {"status_overall": {"status_code": 100}}}')


def test_malformed_json_is_a_payload_error():
    with pytest.raises(PayloadError, match=r"not status\.io status JSON"):
        parse(read_fixture("malformed.json"))
