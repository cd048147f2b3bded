"""Shared parsing helpers: timestamps, ids, body formats, ends of closed incidents."""

import json
from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest

from imports.parsers import FORMATS
from imports.parsers.common import (
    DecodedJSON,
    ItemProblem,
    body_format,
    count_items,
    derived_update_ids,
    impact_from_words,
    parse_time,
    real_end,
    text_id,
)
from imports.records import PayloadError
from tests.imports.status_page_fixtures import utc

pytestmark = []  # pure functions: no database


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2023-07-18T14:02:11.512-07:00", utc(2023, 7, 18, 21, 2, 11, 512000)),
        ("2023-01-12T09:15:40.210-08:00", utc(2023, 1, 12, 17, 15, 40, 210000)),
        ("2024-03-09T11:04:00Z", utc(2024, 3, 9, 11, 4)),
        ("2023-03-29T21:00:00+00:00", utc(2023, 3, 29, 21, 0)),
        ("2026-07-18T14:23:11.123456789Z", utc(2026, 7, 18, 14, 23, 11, 123456)),
    ],
)
def test_iso_timestamps_with_any_offset_become_utc(raw, expected):
    assert parse_time(raw) == expected
    assert parse_time(raw).tzinfo is UTC


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Fri, 13 Jan 2023 08:05:00 PST", utc(2023, 1, 13, 16, 5)),
        ("Tue, 18 Jul 2023 09:12:00 PDT", utc(2023, 7, 18, 16, 12)),
        ("Tue, 18 Jul 2023 09:12:00 EST", utc(2023, 7, 18, 14, 12)),
        ("Tue, 18 Jul 2023 09:12:00 EDT", utc(2023, 7, 18, 13, 12)),
        ("Thu, 23 Jul 2026 15:02:00 GMT", utc(2026, 7, 23, 15, 2)),
        ("Thu, 23 Jul 2026 15:02:00 UT", utc(2026, 7, 23, 15, 2)),
        ("Thu, 23 Jul 2026 16:29:09 Z", utc(2026, 7, 23, 16, 29, 9)),
        ("Thu, 23 Jul 2026 16:29:09 +0200", utc(2026, 7, 23, 14, 29, 9)),
    ],
)
def test_rfc822_dates_with_zone_names_become_utc(raw, expected):
    assert parse_time(raw) == expected


def test_epoch_strings_are_seconds_since_1970():
    assert parse_time("1631281173") == utc(2021, 9, 10, 13, 39, 33)


def test_epoch_numbers_are_seconds_since_1970():
    assert parse_time(1420036705) == utc(2014, 12, 31, 14, 38, 25)


@pytest.mark.parametrize("raw", [None, "", "   ", "<no value>"])
def test_null_and_empty_timestamps_are_none(raw):
    assert parse_time(raw) is None


def test_timestamp_without_zone_is_refused():
    with pytest.raises(ItemProblem, match="has no timezone"):
        parse_time("2015-08-01 12:00:00", "created_at")


def test_timestamp_without_zone_takes_the_zone_the_format_names():
    plus_two = timezone(timedelta(hours=2))
    assert parse_time("2015-08-01 12:00:00", naive_tz=plus_two) == utc(2015, 8, 1, 10, 0)


def test_unknown_zone_name_is_refused_rather_than_guessed():
    with pytest.raises(ItemProblem, match="has no timezone"):
        parse_time("Thu, 23 Jul 2026 16:29:09 CEST")


def test_unreadable_timestamp_names_the_field_and_value():
    with pytest.raises(ItemProblem, match="begin 'last tuesday' is not a readable timestamp"):
        parse_time("last tuesday", "begin")


def test_big_integer_ids_convert_exactly():
    assert text_id(1674486844367728641) == "1674486844367728641"


def test_float_ids_are_refused():
    with pytest.raises(ItemProblem, match="not a string or integer"):
        text_id(1.674486844367728e18)


def test_html_tags_make_a_body_html():
    assert body_format("<ul><li><strong>03:06</strong> - failed over</li></ul>") == "html"


@pytest.mark.parametrize("body", ["x < 5 and y > 3", "returns <none> for now", "**bold**"])
def test_angle_brackets_without_html_tags_keep_the_default_format(body):
    assert body_format(body, "markdown") == "markdown"


def test_derived_update_ids_survive_newer_updates_being_added():
    t1, t2 = utc(2023, 1, 1, 10), utc(2023, 1, 1, 11)
    before = derived_update_ids("inc", [t1, t1])
    after = derived_update_ids("inc", [t1, t1, t2, t2])
    assert before == ["inc-2023-01-01T10:00:00Z", "inc-2023-01-01T10:00:00Z-2"]
    assert after[:2] == before


def test_zero_length_resolved_at_gives_way_to_the_last_closing_update():
    start = utc(2019, 11, 20, 16)
    end = real_end(
        resolved_at=start,
        started_at=start,
        created_at=start,
        closing_times=[utc(2019, 11, 20, 17), utc(2019, 11, 20, 18, 15)],
    )
    assert end == utc(2019, 11, 20, 18, 15)


def test_closing_update_at_the_start_is_no_end():
    start = utc(2016, 3, 5, 2, 22)
    assert (
        real_end(resolved_at=start, started_at=start, created_at=start, closing_times=[start])
        is None
    )


@pytest.mark.parametrize(
    ("title", "impact"),
    [
        ("Service disruption: Queue unavailable", "major"),
        ("Storage outage in East US 2", "major"),
        ("Störung der Anmelde-API", "major"),
        ("Degraded performance for Actions", "minor"),
        ("Increased API error rates", "minor"),
        ("Something happened", "minor"),
    ],
)
def test_impact_is_inferred_from_title_words(title, impact):
    assert impact_from_words(title) == impact


FIXTURES = Path(__file__).parent.parent / "fixtures" / "status_pages"
EVERY_FORMAT = [
    ("statuspage", "statuspage_incidents.json"),
    ("statuspage", "statuspage_incidents_partly_broken.json"),
    ("statuspage", "statuspage_maintenances.json"),
    ("statuspage-webhook", "statuspage_webhook.json"),
    ("statuspage-webhook", "statuspage_webhook_component.json"),
    ("google-cloud", "google_cloud_incidents.json"),
    ("statusio", "statusio.json"),
    ("cachet", "cachet.json"),
    ("rss", "aws_rss.xml"),
    ("atom", "atom.xml"),
]


@pytest.mark.parametrize(("fmt", "name"), EVERY_FORMAT)
def test_counting_a_payload_finds_every_item_parsing_reads(fmt, name):
    # A queued import is counted in the request and parsed by the job: the two agree.
    data = (FIXTURES / name).read_bytes()
    batch = FORMATS[fmt](data)

    assert count_items(FORMATS[fmt], data) == len(batch.incidents) + len(batch.errors)


@pytest.mark.parametrize(
    ("fmt", "data"),
    [
        ("statuspage", b'{"incidents": 5}'),
        ("statuspage", b"[1, 2]"),
        ("google-cloud", b'{"incidents": []}'),
        ("cachet", b'{"data": "none"}'),
        ("statusio", b'{"result": []}'),
        ("statuspage-webhook", b'{"page": {}}'),
        ("statuspage", b"{not json"),
    ],
)
def test_counting_refuses_what_parsing_refuses_with_the_same_message(fmt, data):
    with pytest.raises(PayloadError) as parsing:
        FORMATS[fmt](data)
    with pytest.raises(PayloadError) as counting:
        count_items(FORMATS[fmt], data)

    assert str(counting.value) == str(parsing.value)


def test_counting_parses_no_item(monkeypatch):
    from imports.parsers import statuspage

    def refuse(*args, **kwargs):
        raise AssertionError("an item was parsed")

    monkeypatch.setattr(statuspage, "parse_incident", refuse)
    data = (FIXTURES / "statuspage_incidents.json").read_bytes()

    assert count_items(FORMATS["statuspage"], data) > 0


def test_a_payload_the_request_decoded_is_parsed_without_decoding_it_again(monkeypatch):
    from imports.parsers import common

    data = (FIXTURES / "statuspage_incidents.json").read_bytes()
    expected = FORMATS["statuspage"](data)
    decoded = DecodedJSON(data, json.loads(data))

    def refuse(*args, **kwargs):
        raise AssertionError("decoded twice")

    monkeypatch.setattr(common.json, "loads", refuse)

    assert FORMATS["statuspage"](decoded) == expected
    assert bytes(decoded) == data  # what is stored for the job
