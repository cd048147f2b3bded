"""Google Cloud status incidents.json."""

import json

import pytest

from imports.parsers.google_cloud import parse
from imports.records import ItemError, PayloadError
from tests.imports.status_page_fixtures import by_id, read_fixture, utc

pytestmark = []  # pure parsing: no database


@pytest.fixture(scope="module")
def batch():
    return parse(read_fixture("google_cloud_incidents.json"))


@pytest.fixture(scope="module")
def incidents(batch):
    return by_id(batch)


def test_every_readable_incident_is_parsed(batch):
    assert [i.external_id for i in batch.incidents] == [
        "Op3nInc1dentAAAAAAAA",
        "Z3r0L3ngthCCCCCCCCCC",
        "L0wS3v3r1tyDDDDDDDDD",
        "Xq3vT8mN2pLk9RwYz4Ab",
    ]


def test_one_broken_incident_is_reported_and_the_rest_parse(batch):
    assert batch.errors == [
        ItemError("Br0k3nB3g1nEEEEEEEEE", "begin 'last tuesday' is not a readable timestamp")
    ]


def test_updates_come_oldest_first(incidents):
    assert [u.display_at for u in incidents["Xq3vT8mN2pLk9RwYz4Ab"].updates] == [
        utc(2023, 3, 30, 1, 16, 59),
        utc(2023, 3, 30, 1, 23, 2),
        utc(2023, 3, 30, 17, 30, 12),
    ]


def test_most_recent_update_is_not_an_extra_update(incidents):
    assert len(incidents["Xq3vT8mN2pLk9RwYz4Ab"].updates) == 3


def test_update_ids_are_the_incident_id_and_the_update_created_time(incidents):
    assert [u.external_id for u in incidents["Xq3vT8mN2pLk9RwYz4Ab"].updates] == [
        "Xq3vT8mN2pLk9RwYz4Ab-2023-03-30T01:16:59Z",
        "Xq3vT8mN2pLk9RwYz4Ab-2023-03-30T01:23:02Z",
        "Xq3vT8mN2pLk9RwYz4Ab-2023-03-30T17:30:12Z",
    ]


def test_update_ids_are_stable_when_a_new_update_is_prepended(incidents):
    payload = json.loads(read_fixture("google_cloud_incidents.json"))
    target = next(i for i in payload if i["id"] == "L0wS3v3r1tyDDDDDDDDD")
    newest = dict(target["updates"][0], created="2023-04-03T09:00:00+00:00", text="Report.")
    newest["when"] = newest["created"]
    target["updates"].insert(0, newest)
    again = by_id(parse(json.dumps(payload).encode()))["L0wS3v3r1tyDDDDDDDDD"]
    before = [u.external_id for u in incidents["L0wS3v3r1tyDDDDDDDDD"].updates]
    assert [u.external_id for u in again.updates][:3] == before
    assert again.updates[3].external_id == "L0wS3v3r1tyDDDDDDDDD-2023-04-03T09:00:00Z"


def test_updates_created_in_the_same_second_get_distinct_ids(incidents):
    assert [(u.external_id, u.body) for u in incidents["L0wS3v3r1tyDDDDDDDDD"].updates[:2]] == [
        (
            "L0wS3v3r1tyDDDDDDDDD-2023-04-02T12:00:00Z",
            "Some Cloud Console charts show data up to 30 minutes old.",
        ),
        ("L0wS3v3r1tyDDDDDDDDD-2023-04-02T12:00:00Z-2", "Workaround: reload the page."),
    ]


def test_duplicate_update_texts_are_two_updates(incidents):
    updates = incidents["Op3nInc1dentAAAAAAAA"].updates
    assert len(updates) == 2
    assert updates[0].body == updates[1].body
    assert updates[0].external_id != updates[1].external_id


def test_update_status_is_the_service_health_word(incidents):
    assert [u.status for u in incidents["Xq3vT8mN2pLk9RwYz4Ab"].updates] == [
        "service_disruption",
        "available",
        "available",
    ]


def test_bodies_are_markdown(incidents):
    assert {u.body_format for i in incidents.values() for u in i.updates} == {"markdown"}


@pytest.mark.parametrize(
    ("incident_id", "impact"),
    [
        ("Op3nInc1dentAAAAAAAA", "critical"),
        ("Xq3vT8mN2pLk9RwYz4Ab", "major"),
        ("L0wS3v3r1tyDDDDDDDDD", "minor"),
    ],
)
def test_severity_high_medium_low_maps_to_critical_major_minor(incidents, incident_id, impact):
    assert incidents[incident_id].impact == impact


def test_missing_severity_falls_back_to_status_impact():
    payload = json.loads(read_fixture("google_cloud_incidents.json"))
    del payload[0]["severity"]
    assert parse(json.dumps(payload).encode()).incidents[0].impact == "critical"


def test_begin_is_the_start_and_end_the_resolution(incidents):
    incident = incidents["Xq3vT8mN2pLk9RwYz4Ab"]
    assert (incident.status, incident.started_at, incident.resolved_at) == (
        "resolved",
        utc(2023, 3, 29, 21, 0),
        utc(2023, 3, 29, 22, 27),
    )


def test_incident_without_end_is_open(incidents):
    incident = incidents["Op3nInc1dentAAAAAAAA"]
    assert (incident.status, incident.resolved_at) == ("investigating", None)


def test_zero_length_end_is_taken_from_the_first_available_update(incidents):
    assert incidents["Z3r0L3ngthCCCCCCCCCC"].resolved_at == utc(2023, 5, 10, 9, 45)


def test_renamed_product_takes_its_current_title(incidents):
    assert [(c.external_id, c.name) for c in incidents["Xq3vT8mN2pLk9RwYz4Ab"].components] == [
        ("WdgtSrch0000000000aa", "Cloud Widgets - Search"),
        ("Gzm00000000000000bbb", "Cloud Gizmos Engine"),
    ]


def test_multiline_description_becomes_a_one_line_title(incidents):
    assert incidents["Xq3vT8mN2pLk9RwYz4Ab"].title == (
        "We've received a report of an issue with Cloud Widgets - Search queries."
    )


def test_unicode_survives(incidents):
    assert (
        incidents["Z3r0L3ngthCCCCCCCCCC"].title
        == "Cloud Gizmos: jobs stuck in the São Paulo region"
    )


def test_url_points_at_the_incident_page(incidents):
    assert incidents["Xq3vT8mN2pLk9RwYz4Ab"].url == (
        "https://status.cloud.google.com/incidents/Xq3vT8mN2pLk9RwYz4Ab"
    )


def test_number_stays_a_string_in_raw(incidents):
    assert incidents["Xq3vT8mN2pLk9RwYz4Ab"].raw["number"] == "18134027662519725646"


def test_gcp_has_no_maintenances(incidents):
    assert not any(i.is_maintenance for i in incidents.values())


def test_object_instead_of_array_is_a_payload_error():
    with pytest.raises(PayloadError, match="expected a JSON array, got an object"):
        parse(read_fixture("statuspage_incidents.json"))


def test_malformed_json_is_a_payload_error():
    with pytest.raises(PayloadError, match="not Google Cloud incidents JSON"):
        parse(read_fixture("malformed.json"))
