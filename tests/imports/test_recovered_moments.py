"""Moments the page's own fields do not give: backfilled timelines written in an update's
text, a start moved past the end, and Google Cloud's affected locations as regions."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from imports.services import import_batch, parse_payload
from postmortems.models import Incident
from postmortems.services import IncidentChanges, update_incident
from tests.factories import VendorFactory
from tests.imports.status_page_fixtures import read_fixture

LEGACY = "statuspage_legacy_timelines.json"
UNTRUSTED = "statuspage_legacy_timelines_untrusted.json"
LATE_START = "statuspage_started_after_resolved.json"
LOCATIONS = "google_cloud_locations.json"


def at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.fixture
def vendor(db):
    return VendorFactory(slug="wombat", name="Wombat Code")


def run(vendor, data: bytes, fmt: str = "statuspage"):
    return import_batch(vendor=vendor, fmt=fmt, batch=parse_payload(fmt, data))


def imported(vendor, fixture: str, external_id: str, fmt: str = "statuspage") -> Incident:
    run(vendor, read_fixture(fixture), fmt)
    return Incident.objects.get(external_id=external_id)


def page_of(client, user, incident: Incident) -> str:
    client.force_login(user)
    url = reverse("postmortems:incident-detail", args=[incident.slug])
    return client.get(url).content.decode()


def without_the_timeline(payload: dict, external_id: str) -> dict:
    """The incident as an importer that did not read timelines left it."""
    incident = Incident.objects.get(external_id=external_id)
    values = {**incident.imported_values, "resolved_at": None, "duration_unknown": True}
    Incident.objects.filter(id=incident.id).update(
        resolved_at=None, detected_at=None, duration_unknown=True, imported_values=values
    )
    incident.events.update(kind="status_update")
    return payload


# --- Timelines in a backfilled update's text ---------------------------------------------


def test_a_backfill_starts_at_its_first_entry_and_ends_at_its_last(vendor):
    incident = imported(vendor, LEGACY, "l1st3ntr13s1")

    assert incident.started_at == at(2012, 3, 8, 14, 21, 7)
    assert incident.resolved_at == at(2012, 3, 8, 16, 3, 12)
    assert not incident.duration_unknown


def test_the_incident_page_shows_the_duration_the_timeline_gives(vendor, reviewer, client):
    incident = imported(vendor, LEGACY, "l1st3ntr13s1")

    page = page_of(client, reviewer, incident)

    assert "<dt>Duration</dt><dd>1 h 42 min</dd>" in page
    assert "Duration unknown" not in page


def test_a_first_entry_that_says_investigating_is_the_detection(vendor):
    incident = imported(vendor, LEGACY, "l1st3ntr13s1")

    assert incident.detected_at == incident.started_at
    assert incident.time_to_detect == timedelta(0)
    assert incident.events.get().kind == "detection"


def test_a_first_entry_that_does_not_say_investigating_detects_nothing(vendor):
    incident = imported(vendor, LEGACY, "p4r4gr4ph001")

    assert incident.detected_at is None
    assert incident.events.get().kind == "status_update"


def test_the_entry_that_says_resolved_is_the_end_not_a_later_one(vendor):
    # <p> entries with a UTC suffix and en dashes; a note follows the resolution.
    incident = imported(vendor, LEGACY, "p4r4gr4ph001")

    assert incident.started_at == at(2012, 1, 10, 14, 2, 15)
    assert incident.resolved_at == at(2012, 1, 10, 15, 20)


def test_times_without_a_date_take_the_incidents_date(vendor):
    incident = imported(vendor, LEGACY, "h0urm1nut3s1")

    assert (incident.started_at, incident.resolved_at) == (
        at(2018, 12, 6, 15, 14),
        at(2018, 12, 6, 17, 9),
    )


def test_a_time_without_a_date_takes_the_date_of_the_entry_before_it(vendor):
    # 23:30 on the 4th, 00:20 on the 5th, then "01:05 UTC: resolved".
    incident = imported(vendor, LEGACY, "m1dn1ght0001")

    assert incident.started_at == at(2019, 3, 4, 23, 30)
    assert incident.resolved_at == at(2019, 3, 5, 1, 5)


def test_a_list_of_bold_times_and_status_words_is_read(vendor):
    incident = imported(vendor, LEGACY, "b0ldl1st0001")

    assert (incident.started_at, incident.detected_at, incident.resolved_at) == (
        at(2019, 3, 4, 14, 5),
        at(2019, 3, 4, 14, 5),
        at(2019, 3, 4, 15, 25),
    )


def test_a_plain_text_timeline_written_to_the_minute_is_read(vendor):
    # The page stamped the update 14.717 s into the minute its first entry gives.
    incident = imported(vendor, LEGACY, "pl41nt3xt001")

    assert incident.started_at == at(2019, 5, 7, 10, 35)
    assert incident.detected_at == at(2019, 5, 7, 10, 35, 14, 717000)
    assert incident.resolved_at == at(2019, 5, 7, 11, 23)


def test_times_without_a_zone_are_in_the_zone_the_page_writes_its_own_times_in(vendor):
    # "Incident on 2016-03-04 18:22:00 PST": the page writes -08:00, its entries no zone.
    incident = imported(vendor, "statuspage_incidents.json", "b4ckf1ll3d01")

    assert incident.started_at == at(2016, 3, 5, 2, 22)
    assert incident.resolved_at == at(2016, 3, 5, 3, 47)


@pytest.mark.parametrize(
    "external_id",
    [
        pytest.param("0utof0rd3r01", id="entries-out-of-order"),
        pytest.param("3ndb3f0r3001", id="end-dated-before-the-start"),
        pytest.param("f0rtn1ght001", id="longer-than-14-days"),
        pytest.param("0n33ntry0001", id="one-entry"),
        pytest.param("z0n3c3st0001", id="a-zone-not-known"),
        pytest.param("an0th3rd4y01", id="days-before-the-pages-own-time"),
        pytest.param("n0t1m3l1n301", id="no-timeline"),
    ],
)
def test_a_timeline_that_cannot_be_trusted_leaves_the_duration_unknown(vendor, external_id):
    incident = imported(vendor, UNTRUSTED, external_id)

    assert incident.started_at == datetime.fromisoformat(incident.raw_payload["created_at"])
    assert incident.resolved_at is None
    assert incident.duration_unknown


def test_a_live_incidents_times_are_not_read_from_its_updates_text(vendor):
    # Its resolved update lists "14:05 UTC - …" and "14:50 UTC - …".
    incident = imported(vendor, UNTRUSTED, "l1v3t1m3s001")

    assert incident.started_at == at(2021, 5, 20, 14, 0, 12, 400000)
    assert incident.resolved_at == at(2021, 5, 20, 16, 2, 40, 100000)


def test_reimporting_a_backfilled_timeline_changes_nothing(vendor):
    run(vendor, read_fixture(LEGACY))
    before = list(Incident.objects.order_by("id").values())

    report = run(vendor, read_fixture(LEGACY))

    assert report.unchanged == len(before)
    assert list(Incident.objects.order_by("id").values()) == before


def test_an_incident_imported_before_timelines_were_read_gets_its_times(vendor):
    payload = json.loads(read_fixture(LEGACY))
    run(vendor, json.dumps(payload).encode())
    without_the_timeline(payload, "l1st3ntr13s1")

    run(vendor, json.dumps(payload).encode())

    incident = Incident.objects.get(external_id="l1st3ntr13s1")
    assert (incident.detected_at, incident.resolved_at) == (
        at(2012, 3, 8, 14, 21, 7),
        at(2012, 3, 8, 16, 3, 12),
    )
    assert not incident.duration_unknown


def test_an_end_a_person_edited_wins_over_the_timeline(vendor, author):
    incident = imported(vendor, LEGACY, "l1st3ntr13s1")
    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"resolved_at": at(2012, 3, 8, 18, 0)}),
        user=author,
    )

    run(vendor, read_fixture(LEGACY))

    incident.refresh_from_db()
    assert incident.resolved_at == at(2012, 3, 8, 18, 0)
    assert incident.started_at == at(2012, 3, 8, 14, 21, 7)


# --- A start the page moved past its own end -----------------------------------------------


def test_a_start_after_the_end_gives_way_to_the_creation(vendor):
    # started_at is six days after resolved_at; created at 20:00, resolved at 21:15.
    incident = imported(vendor, LATE_START, "3nd0nlyf13ld")

    assert incident.started_at == at(2020, 11, 10, 20, 0)
    assert incident.resolved_at == at(2020, 11, 10, 21, 15)
    assert incident.duration == timedelta(hours=1, minutes=15)


def test_a_page_listing_no_updates_starts_at_the_creation_too(vendor, reviewer, client):
    incident = imported(vendor, LATE_START, "n0upd4t3s001")

    assert incident.started_at == at(2020, 4, 8, 13, 30)
    assert "<dt>Duration</dt><dd>40 min</dd>" in page_of(client, reviewer, incident)


def test_a_backfill_started_after_its_stamped_end_starts_at_its_creation(vendor):
    # As GitHub's: resolved_at == created_at, started_at 69 minutes later.
    incident = imported(vendor, LATE_START, "w3bh00kd3l4y")

    assert incident.started_at == at(2020, 3, 31, 8, 0)
    assert incident.resolved_at is None
    assert incident.duration_unknown


def test_created_after_the_end_too_starts_at_the_earliest_time_and_never_runs_backwards(vendor):
    # Resolved at 10:00, created at 12:00, started two days later.
    incident = imported(vendor, LATE_START, "cr34t3dl4t3r")

    assert incident.started_at == at(2020, 6, 1, 12, 0)
    assert incident.resolved_at is None and incident.duration is None
    assert incident.duration_unknown


# --- Google Cloud's affected locations -------------------------------------------------


def test_affected_locations_are_the_incidents_regions(vendor):
    incident = imported(vendor, LOCATIONS, "RgnsCl0sedInc1dentAb", "google-cloud")

    assert incident.regions == ["us-central1", "europe-west1", "global"]
    assert incident.regions_affected == 2  # global is not a region


def test_a_location_affected_now_and_before_is_named_once(vendor):
    incident = imported(vendor, LOCATIONS, "RgnsOp3nInc1dentCdEf", "google-cloud")

    assert incident.regions == ["northamerica-northeast1", "southamerica-east1"]
    assert incident.regions_affected == 2


def test_a_global_incident_counts_no_regions(vendor, reviewer, client):
    incident = imported(vendor, LOCATIONS, "Gl0balOnlyInc1dentGh", "google-cloud")

    assert (incident.regions, incident.regions_affected) == (["global"], None)
    assert "Blast radius" not in page_of(client, reviewer, incident)


def test_the_incident_page_shows_the_regions_and_their_count(vendor, reviewer, client):
    incident = imported(vendor, LOCATIONS, "RgnsCl0sedInc1dentAb", "google-cloud")

    page = page_of(client, reviewer, incident)

    assert "Regions:</span> us-central1, europe-west1, global" in page
    assert "<dt>Blast radius</dt><dd>2 regions</dd>" in page


def test_reimporting_locations_changes_nothing(vendor):
    run(vendor, read_fixture(LOCATIONS), "google-cloud")
    before = list(Incident.objects.order_by("id").values())

    report = run(vendor, read_fixture(LOCATIONS), "google-cloud")

    assert report.unchanged == 3
    assert list(Incident.objects.order_by("id").values()) == before


def with_a_new_location(external_id: str) -> bytes:
    items = json.loads(read_fixture(LOCATIONS))
    item = next(i for i in items if i["id"] == external_id)
    item["previously_affected_locations"].append(
        {"title": "Taiwan (asia-east1)", "id": "asia-east1"}
    )
    return json.dumps(items).encode()


def test_regions_a_person_edited_win_over_the_next_import(vendor, author):
    incident = imported(vendor, LOCATIONS, "RgnsCl0sedInc1dentAb", "google-cloud")
    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"regions": ["us-central1"], "regions_affected": 1}),
        user=author,
    )

    run(vendor, with_a_new_location("RgnsCl0sedInc1dentAb"), "google-cloud")

    incident.refresh_from_db()
    assert (incident.regions, incident.regions_affected) == (["us-central1"], 1)


def test_a_page_naming_more_regions_than_a_persons_total_keeps_the_count(vendor, author):
    incident = imported(vendor, LOCATIONS, "RgnsCl0sedInc1dentAb", "google-cloud")
    update_incident(
        incident_id=incident.id,
        expected_version=incident.version,
        changes=IncidentChanges(fields={"regions_total": 2}),
        user=author,
    )

    report = run(vendor, with_a_new_location("RgnsCl0sedInc1dentAb"), "google-cloud")

    incident.refresh_from_db()
    assert report.failed == 0
    assert incident.regions == ["us-central1", "europe-west1", "global", "asia-east1"]
    assert (incident.regions_affected, incident.regions_total) == (2, 2)
