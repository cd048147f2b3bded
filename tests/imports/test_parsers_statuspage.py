"""Atlassian Statuspage v2: incidents.json, incidents/<id>.json, summary.json, maintenances."""

import pytest

from imports.parsers.statuspage import parse
from imports.records import ItemError, PayloadError
from tests.imports.status_page_fixtures import by_id, read_fixture, utc

pytestmark = []  # pure parsing: no database


@pytest.fixture(scope="module")
def incidents():
    return by_id(parse(read_fixture("statuspage_incidents.json")))


@pytest.fixture(scope="module")
def partly_broken():
    return parse(read_fixture("statuspage_incidents_partly_broken.json"))


@pytest.fixture(scope="module")
def single():
    return parse(read_fixture("statuspage_incident_single.json")).incidents[0]


@pytest.fixture(scope="module")
def summary():
    return by_id(parse(read_fixture("statuspage_summary.json")))


@pytest.fixture(scope="module")
def maintenances():
    return by_id(parse(read_fixture("statuspage_maintenances.json")))


# --- incidents.json ----------------------------------------------------------------


def test_incidents_json_yields_every_incident_without_errors():
    batch = parse(read_fixture("statuspage_incidents.json"))
    assert [i.external_id for i in batch.incidents] == [
        "0p3n1nc1d3nt",
        "k7q2m9x4w1ab",
        "n0r3s0lv3d01",
        "p0stm0rt3m01",
        "b4ckf1ll3d02",
        "b4ckf1ll3d01",
    ]
    assert batch.errors == []


def test_updates_come_oldest_first(incidents):
    assert [u.external_id for u in incidents["k7q2m9x4w1ab"].updates] == [
        "1nv3st1g8t01",
        "c0nt1nu3d001",
        "c0nt1nu3d002",
        "m0n1t0r1ng01",
        "r5lv3dupd0t1",
    ]


def test_updates_keep_their_status_words(incidents):
    assert [u.status for u in incidents["k7q2m9x4w1ab"].updates] == [
        "investigating",
        "identified",
        "identified",
        "monitoring",
        "resolved",
    ]


def test_display_at_is_the_back_dated_display_time_not_created_at(incidents):
    resolved = incidents["k7q2m9x4w1ab"].updates[-1]
    assert resolved.display_at == utc(2023, 7, 18, 22, 56)
    assert resolved.created_at == utc(2023, 7, 18, 23, 40, 5, 220000)


def test_update_without_display_at_falls_back_to_created_at(partly_broken):
    update = by_id(partly_broken)["g00d1nc1d001"].updates[0]
    assert update.display_at == utc(2023, 7, 29, 19, 0)


def test_duplicate_update_texts_are_two_updates(incidents):
    repeated = [
        u
        for u in incidents["k7q2m9x4w1ab"].updates
        if u.body == "We are continuing to work on a fix for this issue."
    ]
    assert [(u.external_id, u.display_at) for u in repeated] == [
        ("c0nt1nu3d001", utc(2023, 7, 18, 21, 40, 12)),
        ("c0nt1nu3d002", utc(2023, 7, 18, 22, 5, 12)),
    ]


def test_summer_offset_minus_seven_becomes_utc(incidents):
    assert incidents["k7q2m9x4w1ab"].started_at == utc(2023, 7, 18, 21, 2, 11, 498000)


def test_winter_offset_minus_eight_becomes_utc(incidents):
    assert incidents["n0r3s0lv3d01"].started_at == utc(2023, 2, 1, 20, 0)


def test_big_integer_tweet_ids_stay_exact_in_raw(incidents):
    raw_updates = incidents["k7q2m9x4w1ab"].raw["incident_updates"]
    assert raw_updates[0]["tweet_id"] == 1674486844367728641
    assert raw_updates[4]["tweet_id"] == 1681071234567890123


def test_big_integer_ids_stay_exact(partly_broken):
    incident = by_id(partly_broken)["9007199254740993"]
    assert incident.updates[0].external_id == "9007199254740995"


def test_unicode_bodies_survive(incidents):
    body = incidents["k7q2m9x4w1ab"].updates[-1].body
    assert body == "Webhook deliveries are back to normal. Sorry for the Störung 🙏"


def test_plain_body_with_crlf_is_text(incidents):
    first = incidents["k7q2m9x4w1ab"].updates[0]
    assert (
        first.body
        == "We are investigating delays in webhook deliveries.\r\nSome events may arrive late."
    )
    assert first.body_format == "text"


def test_legacy_timeline_in_one_html_list_is_an_html_body(incidents):
    (update,) = incidents["b4ckf1ll3d01"].updates
    assert update.body_format == "html"
    assert update.body.startswith("<ul><li><strong>2016-03-04 18:22:00</strong>")


def test_renamed_component_keeps_its_id_and_takes_the_snapshot_name(incidents):
    components = incidents["k7q2m9x4w1ab"].components
    assert [(c.external_id, c.name) for c in components] == [("wbh00k5cmp01", "Webhooks")]


def test_resolved_at_comes_from_the_payload(incidents):
    assert incidents["k7q2m9x4w1ab"].resolved_at == utc(2023, 7, 18, 23, 40, 5, 220000)


def test_postmortem_status_is_closed_and_keeps_the_payload_resolved_at(incidents):
    incident = incidents["p0stm0rt3m01"]
    assert incident.status == "postmortem"
    assert incident.resolved_at == utc(2023, 1, 12, 18, 2, 31, 900000)


def test_postmortem_update_is_kept_as_the_last_update(incidents):
    last = incidents["p0stm0rt3m01"].updates[-1]
    assert (last.external_id, last.status) == ("pm0rt3mupd01", "postmortem")


def test_started_at_stays_the_page_start_when_an_update_is_displayed_earlier(incidents):
    incident = incidents["p0stm0rt3m01"]
    assert incident.updates[0].display_at == utc(2023, 1, 12, 17, 5)
    assert incident.started_at == utc(2023, 1, 12, 17, 10)


def test_backfilled_resolved_at_equal_to_created_is_taken_from_the_resolved_update(incidents):
    incident = incidents["b4ckf1ll3d02"]
    assert incident.started_at == utc(2019, 11, 20, 16, 0)
    assert incident.resolved_at == utc(2019, 11, 20, 18, 15)


def test_zero_length_backfill_takes_its_span_from_the_timeline_in_its_update(incidents):
    # 18:22 to 19:47 in the page's own zone (-08:00), as its timestamps are written.
    incident = incidents["b4ckf1ll3d01"]
    assert incident.status == "resolved"
    assert incident.started_at == utc(2016, 3, 5, 2, 22)
    assert incident.resolved_at == utc(2016, 3, 5, 3, 47)


def test_closed_incident_without_resolved_at_ends_at_the_last_resolved_update(incidents):
    assert incidents["n0r3s0lv3d01"].resolved_at == utc(2023, 2, 1, 21, 30)


def test_open_incident_has_no_resolved_at(incidents):
    incident = incidents["0p3n1nc1d3nt"]
    assert (incident.status, incident.resolved_at) == ("identified", None)


def test_impact_is_the_pages_word(incidents):
    assert {i: incidents[i].impact for i in ("k7q2m9x4w1ab", "0p3n1nc1d3nt")} == {
        "k7q2m9x4w1ab": "major",
        "0p3n1nc1d3nt": "minor",
    }


def test_url_is_built_from_the_page_url(incidents):
    assert incidents["k7q2m9x4w1ab"].url == "https://status.quokka.example/incidents/k7q2m9x4w1ab"


def test_raw_is_the_incidents_own_object(incidents):
    raw = incidents["k7q2m9x4w1ab"].raw
    assert raw["id"] == "k7q2m9x4w1ab"
    assert raw["shortlink"] == "https://stspg.io/q0k7a1"


def test_incidents_are_not_maintenances(incidents):
    assert not any(i.is_maintenance for i in incidents.values())


# --- incidents/<id>.json (an incident.io-compatible page) ----------------------------


def test_single_incident_payload_yields_that_incident(single):
    assert single.external_id == "01HZX3K9QW8E5R2T7Y4V6M1N0P"
    assert single.title == "Card payments failing in the 🇪🇺 region"


def test_timestamps_without_fraction_are_read(single):
    assert (single.started_at, single.resolved_at) == (
        utc(2024, 3, 9, 10, 58),
        utc(2024, 3, 9, 12, 31),
    )


def test_missing_components_key_takes_components_from_the_updates(single):
    assert [(c.external_id, c.name) for c in single.components] == [
        ("01HB2CARDPAYMENTS000000000", "Card payments"),
        ("01HB2PAYOUTS0000000000000", "Payouts"),
    ]


def test_url_ignores_a_trailing_slash_on_the_page_url(single):
    assert single.url == "https://status.wombatpay.example/incidents/01HZX3K9QW8E5R2T7Y4V6M1N0P"


def test_ulid_update_ids_are_kept(single):
    assert [u.external_id for u in single.updates] == [
        "01HZX3K9R0A1B2C3D4E5F6G7H8",
        "01HZX4M1D2F3G4H5J6K7M8N9P0",
        "01HZX5RR8T3KQ1W2E3R4T5Y6U7",
    ]


def test_null_incident_lists_are_empty():
    batch = parse(b'{"page": {"id": "p"}, "incidents": null, "scheduled_maintenances": null}')
    assert (batch.incidents, batch.errors) == ([], [])


# --- summary.json -------------------------------------------------------------------


def test_summary_yields_open_incidents_and_maintenances(summary):
    assert sorted(summary) == ["5ummary0p3n1", "m41nt3n4nc01"]


def test_page_level_component_name_wins_over_the_incident_snapshot(summary):
    assert [(c.external_id, c.name) for c in summary["5ummary0p3n1"].components] == [
        ("s3arch0cmp01", "Search API")
    ]


def test_null_started_at_falls_back_to_created_at(summary):
    assert summary["5ummary0p3n1"].started_at == utc(2023, 9, 5, 14, 5)


def test_summary_maintenance_is_a_maintenance(summary):
    maintenance = summary["m41nt3n4nc01"]
    assert (maintenance.is_maintenance, maintenance.status, maintenance.impact) == (
        True,
        "in_progress",
        "maintenance",
    )


# --- scheduled-maintenances.json ----------------------------------------------------------


def test_maintenances_are_flagged_as_maintenance(maintenances):
    assert sorted(maintenances) == ["c0mpl3t3dnr1", "chk7m41nt001", "upc0m1ngm41n"]
    assert all(m.is_maintenance for m in maintenances.values())


def test_maintenance_starts_at_its_window_not_its_announcement(maintenances):
    assert maintenances["chk7m41nt001"].started_at == utc(2023, 3, 14, 8, 0)


def test_completed_maintenance_keeps_the_payload_resolved_at(maintenances):
    assert maintenances["chk7m41nt001"].resolved_at == utc(2023, 3, 14, 9, 25, 20, 34000)


def test_maintenance_keeps_a_stated_major_impact(maintenances):
    assert maintenances["chk7m41nt001"].impact == "major"


def test_maintenance_stated_as_none_has_maintenance_impact(maintenances):
    assert maintenances["upc0m1ngm41n"].impact == "maintenance"


def test_completed_maintenance_without_resolved_at_ends_at_the_completed_update(maintenances):
    assert maintenances["c0mpl3t3dnr1"].resolved_at == utc(2023, 3, 16, 10, 10)


def test_upcoming_maintenance_is_open(maintenances):
    upcoming = maintenances["upc0m1ngm41n"]
    assert (upcoming.status, upcoming.started_at, upcoming.resolved_at) == (
        "scheduled",
        utc(2023, 4, 2, 9, 0),
        None,
    )


def test_maintenance_updates_come_oldest_first(maintenances):
    assert [u.status for u in maintenances["chk7m41nt001"].updates] == [
        "scheduled",
        "in_progress",
        "verifying",
        "completed",
    ]


def test_kaomoji_names_survive(maintenances):
    assert maintenances["chk7m41nt001"].title == "(ﾉ◕ヮ◕)ﾉ*:･ﾟ✧ Database upgrade"


# --- Errors -------------------------------------------------------------------------


def test_one_broken_incident_is_reported_and_the_rest_parse(partly_broken):
    assert [i.external_id for i in partly_broken.incidents] == [
        "g00d1nc1d002",
        "9007199254740993",
        "g00d1nc1d001",
    ]
    assert len(partly_broken.errors) == 4


def test_broken_incidents_are_reported_with_precise_messages(partly_broken):
    assert partly_broken.errors == [
        ItemError(
            "br0k3nd4t301", "created_at 'last Tuesday around noon' is not a readable timestamp"
        ),
        ItemError("?", "incident has no 'id'"),
        ItemError("br0k3nupd001", "'incident_updates' is a string, not an array"),
        ItemError("?", "incident #5 is a number, not an object"),
    ]


def test_malformed_json_is_a_payload_error():
    with pytest.raises(PayloadError, match="not Statuspage v2 JSON"):
        parse(read_fixture("malformed.json"))


def test_json_without_incidents_is_a_payload_error():
    with pytest.raises(PayloadError, match="expected an 'incidents', 'incident' or"):
        parse(read_fixture("statuspage_status.json"))


def test_json_array_is_a_payload_error():
    with pytest.raises(PayloadError, match="expected a JSON object, got an array"):
        parse(read_fixture("google_cloud_incidents.json"))


def test_incidents_that_are_not_a_list_are_a_payload_error():
    with pytest.raises(PayloadError, match="'incidents' is an object, not an array"):
        parse(b'{"page": {}, "incidents": {"id": "x"}}')


def test_empty_payload_is_a_payload_error():
    with pytest.raises(PayloadError, match="empty payload"):
        parse(b"  \n")
