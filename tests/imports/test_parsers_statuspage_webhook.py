"""Statuspage subscriber webhook notifications."""

import json

import pytest

from imports.parsers.statuspage_webhook import parse
from imports.records import PayloadError
from tests.imports.status_page_fixtures import read_fixture, utc

pytestmark = []  # pure parsing: no database


@pytest.fixture(scope="module")
def incident():
    (incident,) = parse(read_fixture("statuspage_webhook.json")).incidents
    return incident


def test_incident_notification_yields_its_incident(incident):
    assert (incident.external_id, incident.title, incident.status, incident.impact) == (
        "wh00kinc0001",
        "Push notifications delayed",
        "resolved",
        "minor",
    )


def test_times_are_utc(incident):
    assert (incident.started_at, incident.resolved_at) == (
        utc(2024, 5, 2, 6, 12, 30, 118000),
        utc(2024, 5, 2, 7, 1, 9, 540000),
    )


def test_updates_come_oldest_first_with_their_ids(incident):
    assert [(u.external_id, u.status) for u in incident.updates] == [
        ("wh00kupd0001", "identified"),
        ("wh00kupd0002", "resolved"),
    ]


def test_url_is_the_shortlink(incident):
    assert incident.url == "https://stspg.io/q0k7e1"


def test_components_are_keyed_by_id(incident):
    assert [(c.external_id, c.name) for c in incident.components] == [
        ("n0t1fycmp001", "Push notifications")
    ]


def test_big_integer_tweet_id_stays_exact_in_raw(incident):
    assert incident.raw["incident_updates"][0]["tweet_id"] == 1785934762109238272


def test_postmortem_fields_are_kept_in_raw(incident):
    assert incident.raw["postmortem_body"] is None
    assert incident.raw["backfilled"] is False


def test_maintenance_notification_is_a_maintenance():
    (maintenance,) = parse(read_fixture("statuspage_webhook_maintenance.json")).incidents
    assert (maintenance.is_maintenance, maintenance.status, maintenance.started_at) == (
        True,
        "in_progress",
        utc(2024, 6, 1, 1, 0),
    )


def test_component_notification_is_an_empty_batch():
    batch = parse(read_fixture("statuspage_webhook_component.json"))
    assert (batch.incidents, batch.errors) == ([], [])


def test_broken_incident_is_reported_not_raised():
    batch = parse(b'{"meta": {}, "page": {}, "incident": {"name": "x", "status": "resolved"}}')
    assert [(e.external_id, e.message) for e in batch.errors] == [("?", "incident has no 'id'")]


def test_api_payload_without_incident_key_is_a_payload_error():
    with pytest.raises(PayloadError, match="expected an 'incident' or 'component_update' key"):
        parse(read_fixture("statuspage_incidents.json"))


def test_incident_that_is_not_an_object_is_a_payload_error():
    with pytest.raises(PayloadError, match="'incident' is a string"):
        parse(b'{"incident": "wh00kinc0001"}')


def test_malformed_json_is_a_payload_error():
    with pytest.raises(PayloadError, match="not Statuspage webhook JSON"):
        parse(read_fixture("malformed.json"))


def test_a_notification_without_a_postmortem_has_none(incident):
    assert incident.postmortem is None


def test_the_vendors_postmortem_is_kept_as_html_dated_when_published():
    (incident,) = parse(read_fixture("statuspage_webhook_postmortem.json")).incidents

    postmortem = incident.postmortem
    assert (postmortem.external_id, postmortem.body_format) == ("postmortem", "html")
    assert postmortem.display_at == utc(2024, 6, 20, 15, 30, 1, 950000)
    assert postmortem.body.startswith("<h2>What happened</h2>")
    assert "postmortem" not in [u.external_id for u in incident.updates]


def test_an_unpublished_postmortem_is_dated_when_last_edited():
    payload = json.loads(read_fixture("statuspage_webhook_postmortem.json"))
    payload["incident"]["postmortem_published_at"] = None

    (incident,) = parse(json.dumps(payload).encode()).incidents

    assert incident.postmortem.display_at == utc(2024, 6, 20, 15, 29, 48, 120000)
