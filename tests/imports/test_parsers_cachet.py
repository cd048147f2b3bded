"""Cachet API v1 incidents."""

import pytest

from imports.parsers.cachet import parse
from imports.records import ItemError, PayloadError
from tests.imports.status_page_fixtures import by_id, read_fixture, utc

pytestmark = []  # pure parsing: no database


@pytest.fixture(scope="module")
def batch():
    return parse(read_fixture("cachet.json"))


@pytest.fixture(scope="module")
def incidents(batch):
    return by_id(batch)


def test_every_readable_incident_is_parsed_with_string_ids(batch):
    assert [i.external_id for i in batch.incidents] == ["101", "102", "103", "104", "106", "107"]


def test_unknown_status_is_reported_and_the_rest_parse(batch):
    assert batch.errors == [ItemError("105", "incident status 9 is not a Cachet status (0-4)")]


@pytest.mark.parametrize(
    ("incident_id", "status"),
    [("101", "resolved"), ("102", "investigating"), ("104", "scheduled"), ("107", "monitoring")],
)
def test_numeric_status_maps_to_lifecycle_words(incidents, incident_id, status):
    assert incidents[incident_id].status == status


def test_incident_message_is_the_first_update(incidents):
    first = incidents["101"].updates[0]
    assert (first.external_id, first.status, first.body, first.display_at) == (
        "101-message",
        "investigating",
        "Logins **fail** for some users.",
        utc(2023, 5, 4, 9, 0),
    )


def test_updates_come_oldest_first_with_their_own_ids(incidents):
    assert [(u.external_id, u.status) for u in incidents["101"].updates] == [
        ("101-message", "investigating"),
        ("551", "identified"),
        ("552", "resolved"),
    ]


def test_naive_times_are_read_as_utc(incidents):
    assert incidents["102"].started_at == utc(2023, 5, 6, 14, 0)


def test_fixed_incident_ends_at_its_last_fixed_update_not_updated_at(incidents):
    assert incidents["101"].resolved_at == utc(2023, 5, 4, 10, 45)


def test_fixed_incident_without_updates_ends_at_updated_at(incidents):
    assert incidents["103"].resolved_at == utc(2014, 12, 31, 15, 38, 25)


def test_epoch_strings_are_seconds(incidents):
    assert incidents["103"].started_at == utc(2014, 12, 31, 14, 38, 25)


def test_fixed_incident_created_already_fixed_has_unknown_end(incidents):
    incident = incidents["106"]
    assert (incident.status, incident.started_at, incident.resolved_at) == (
        "resolved",
        utc(2015, 1, 1, 14, 38, 25),
        None,
    )


def test_open_incident_has_no_end(incidents):
    assert incidents["102"].resolved_at is None


def test_status_zero_is_a_maintenance_at_its_scheduled_time(incidents):
    maintenance = incidents["104"]
    assert (maintenance.is_maintenance, maintenance.impact, maintenance.started_at) == (
        True,
        "maintenance",
        utc(2023, 6, 1, 22, 0),
    )


def test_bodies_are_markdown(incidents):
    assert {u.body_format for i in incidents.values() for u in i.updates} == {"markdown"}


@pytest.mark.parametrize(
    ("incident_id", "impact"),
    [("101", "major"), ("106", "major"), ("102", "minor"), ("107", "minor")],
)
def test_impact_is_inferred_from_the_name(incidents, incident_id, impact):
    assert incidents[incident_id].impact == impact


def test_unicode_name_survives(incidents):
    assert incidents["101"].title == "Störung der Anmelde-API 🚧"


def test_named_component_is_kept_by_id(incidents):
    assert [(c.external_id, c.name) for c in incidents["101"].components] == [("3", "Login API")]


def test_component_id_without_a_name_adds_no_component(incidents):
    assert incidents["102"].components == []


def test_updates_key_variant_and_empty_message(incidents):
    assert [u.external_id for u in incidents["107"].updates] == ["560"]


def test_single_incident_object_is_accepted():
    batch = parse(
        b'{"data": {"id": 7, "name": "Slow API", "status": 2, "message": "Slow.",'
        b' "created_at": "2023-01-01 10:00:00", "updated_at": "2023-01-01 10:00:00"}}'
    )
    assert [(i.external_id, i.status) for i in batch.incidents] == [("7", "identified")]


def test_missing_data_is_a_payload_error():
    with pytest.raises(PayloadError, match="expected a 'data' array, got null"):
        parse(read_fixture("statuspage_incidents.json"))


def test_malformed_json_is_a_payload_error():
    with pytest.raises(PayloadError, match="not Cachet v1 incidents JSON"):
        parse(read_fixture("malformed.json"))
