from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from timeline.choices import EventKind
from timeline.paste import NO_DATE, NO_TIME, infer_kind, parse_notes

LEAP_DAY = date(2012, 2, 29)
PARIS = ZoneInfo("Europe/Paris")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def parse(text: str, *, default_date=LEAP_DAY, default_tz=UTC, **kwargs):
    return parse_notes(text, default_date=default_date, default_tz=default_tz, **kwargs)


def only(text: str, **kwargs):
    [line] = parse(text, **kwargs)
    assert line.ok, line.error
    return line


# --- The two example lines --------------------------------------------------------


def test_the_leap_day_example_lines_become_two_events_on_29_february():
    lines = parse(
        "00:51 UTC: storage front-ends stop responding\n"
        "2012-02-29 01:15 UTC — Hosts start migrating workloads\n"
    )

    assert [(line.occurred_at, line.description) for line in lines] == [
        (datetime(2012, 2, 29, 0, 51, tzinfo=UTC), "storage front-ends stop responding"),
        (datetime(2012, 2, 29, 1, 15, tzinfo=UTC), "Hosts start migrating workloads"),
    ]
    assert all(line.ok for line in lines)


def test_times_are_returned_in_utc():
    line = only("2012-02-29 09:15 JST — Tokyo notices")

    assert line.occurred_at == datetime(2012, 2, 29, 0, 15, tzinfo=UTC)
    assert line.occurred_at.utcoffset() == timedelta(0)


# --- Date and time forms ----------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2014-11-19T00:51:00Z storage down",
        "2014-11-19T00:51Z storage down",
        "2014-11-19T09:51:00+09:00 storage down",
        "2014-11-19T00:51:00.250Z storage down",
        "2014-11-19 00:51 UTC - storage down",
        "2014/11/19 00:51 GMT | storage down",
        "19 Nov 2014 00:51 UTC - storage down",
        "19 November 2014, 00:51 UTC \u2013 storage down",
        "Nov 19, 2014 12:51 AM UTC — storage down",
        "Wednesday 19 November 2014 00:51 utc: storage down",
        "Nov 18, 2014 4:51 PM PST — storage down",
        "[2014-11-19 00:51 UTC] storage down",
        "- 2014-11-19 00:51 UTC: storage down",
    ],
)
def test_every_supported_stamp_reads_the_same_moment(text):
    line = only(text)

    assert line.occurred_at == datetime(2014, 11, 19, 0, 51, tzinfo=UTC)
    assert line.description == "storage down"


def test_seconds_are_kept():
    assert only("00:51:42 UTC — x").occurred_at == datetime(2012, 2, 29, 0, 51, 42, tzinfo=UTC)


@pytest.mark.parametrize(
    ("clock", "hour", "minute"),
    [
        ("12:05 AM", 0, 5),
        ("12:05 PM", 12, 5),
        ("5:45 PM", 17, 45),
        ("5:45pm", 17, 45),
        ("5:45 p.m.", 17, 45),
        ("11 am", 11, 0),
    ],
)
def test_twelve_hour_times(clock, hour, minute):
    line = only(f"{clock} UTC — Ops alerted")

    assert line.occurred_at == datetime(2012, 2, 29, hour, minute, tzinfo=UTC)


def test_a_bare_number_is_not_a_time():
    [line] = parse("5 hosts restarted")

    assert line.error == NO_TIME


def test_the_feb_29_pst_line_lands_on_the_next_utc_day():
    line = only("Feb 29, 2012 5:45 PM PST — Ops alerted")

    assert line.occurred_at == datetime(2012, 3, 1, 1, 45, tzinfo=UTC)
    assert line.zone_name == "PST"
    assert line.kind == EventKind.DETECTION


@pytest.mark.parametrize("separator", [" \u2014 ", " \u2013 ", " - ", ": ", " | ", " "])
def test_every_separator_is_read(separator):
    line = only(f"00:51 UTC{separator}storage down")

    assert line.description == "storage down"


# --- Zones --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "utc_hour"),
    [
        ("UTC", 12),
        ("GMT", 12),
        ("Z", 12),
        ("PST", 20),
        ("PDT", 19),
        ("MST", 19),
        ("MDT", 18),
        ("CST", 18),
        ("CDT", 17),
        ("EST", 17),
        ("EDT", 16),
        ("CET", 11),
        ("CEST", 10),
        ("BST", 11),
        ("JST", 3),
        ("+09:00", 3),
        ("-0800", 20),
        ("UTC+9", 3),
        ("GMT-08:00", 20),
    ],
)
def test_named_zones_and_offsets(zone, utc_hour):
    line = only(f"2012-02-29 12:00 {zone} — x")

    assert line.occurred_at == datetime(2012, 2, 29, utc_hour, 0, tzinfo=UTC)


def test_ist_is_india_standard_time_with_its_half_hour():
    line = only("2012-02-29 12:00 IST — x")

    assert line.occurred_at == datetime(2012, 2, 29, 6, 30, tzinfo=UTC)


def test_a_line_without_a_zone_is_in_the_viewers_zone_and_says_so():
    line = only("2012-02-29 12:00 — x", default_tz=PARIS)

    assert line.occurred_at == datetime(2012, 2, 29, 11, 0, tzinfo=UTC)
    assert line.warnings == ["No time zone on the line: read as Europe/Paris."]


def test_the_viewers_zone_follows_daylight_saving_time():
    winter = only("2012-02-29 12:00 — x", default_tz=LOS_ANGELES)
    summer = only("2012-07-04 12:00 — x", default_tz=LOS_ANGELES)

    assert winter.occurred_at == datetime(2012, 2, 29, 20, 0, tzinfo=UTC)
    assert summer.occurred_at == datetime(2012, 7, 4, 19, 0, tzinfo=UTC)


def test_a_daylight_abbreviation_means_its_own_offset_across_the_switch():
    # 11 March 2012: US clocks went forward at 02:00 local time.
    before = only("2012-03-11 01:30 PST — x")
    after = only("2012-03-11 03:30 PDT — x")

    assert after.occurred_at - before.occurred_at == timedelta(hours=1)
    assert before.warnings == [] and after.warnings == []


def test_an_abbreviation_from_the_wrong_season_is_read_as_written_with_a_warning():
    line = only("2012-07-04 12:00 PST — x")

    assert line.occurred_at == datetime(2012, 7, 4, 20, 0, tzinfo=UTC)
    assert "America/Los_Angeles clocks were on UTC\u221207:00" in line.warnings[0]


def test_generic_pacific_time_follows_the_season():
    winter = only("2012-02-29 12:00 PT — x")
    summer = only("2012-07-04 12:00 PT — x")

    assert winter.occurred_at.hour == 20
    assert summer.occurred_at.hour == 19


def test_an_upper_case_word_after_the_time_is_not_taken_for_a_zone():
    line = only("00:51 DNS answers slowly", default_tz=PARIS)

    assert line.description == "DNS answers slowly"
    assert line.occurred_at == datetime(2012, 2, 28, 23, 51, tzinfo=UTC)


# --- Dates of time-only lines -------------------------------------------------------


def test_a_time_only_line_takes_the_default_date():
    assert only("14:05 UTC — x").occurred_at == datetime(2012, 2, 29, 14, 5, tzinfo=UTC)


def test_a_time_only_line_takes_the_date_of_the_dated_line_above():
    lines = parse("2014-11-19 00:51 UTC — storage down\n01:30 UTC — engineers engaged")

    assert lines[1].occurred_at == datetime(2014, 11, 19, 1, 30, tzinfo=UTC)


def test_a_time_that_goes_backwards_rolls_past_midnight():
    lines = parse("2012-02-28 23:50 UTC — late\n00:10 UTC — after midnight\n00:40 UTC — later")

    assert [line.occurred_at for line in lines] == [
        datetime(2012, 2, 28, 23, 50, tzinfo=UTC),
        datetime(2012, 2, 29, 0, 10, tzinfo=UTC),
        datetime(2012, 2, 29, 0, 40, tzinfo=UTC),
    ]
    assert lines[1].warnings == [
        "Read as the next day (29 Feb 2012): the time is earlier than the line above."
    ]


def test_midnight_roll_over_across_zones_compares_real_moments():
    # 5:45 PM PST on 28 February is 01:45 UTC on the 29th: 02:00 UTC is the 29th too.
    lines = parse("2012-02-28 5:45 PM PST — Ops alerted\n02:00 UTC — fix started")

    assert lines[1].occurred_at == datetime(2012, 2, 29, 2, 0, tzinfo=UTC)


def test_a_date_heading_sets_the_day_of_the_times_below_it():
    lines = parse("1 March 2012\n10:15 UTC — last clusters restored")

    assert [line.occurred_at for line in lines] == [datetime(2012, 3, 1, 10, 15, tzinfo=UTC)]


def test_the_anchor_gives_the_start_date_as_seen_in_the_lines_zone():
    # The incident starts at 00:00 UTC on the 29th, which is the 28th in California.
    start = datetime(2012, 2, 29, 0, 0, tzinfo=UTC)
    lines = parse(
        "00:51 UTC — storage down\n",
        default_date=date(2012, 2, 28),
        default_tz=LOS_ANGELES,
        anchor=start,
    )

    assert lines[0].occurred_at == datetime(2012, 2, 29, 0, 51, tzinfo=UTC)


def test_a_time_without_any_date_is_an_error():
    [line] = parse("00:51 UTC — storage down", default_date=None)

    assert line.error == NO_DATE
    assert line.occurred_at is None


# --- Bad lines and continuations ----------------------------------------------------


def test_a_line_without_a_time_is_kept_with_an_error():
    [line] = parse("Storage front-ends stop responding")

    assert not line.ok
    assert line.error == "No time found at the start of the line."
    assert line.text == "Storage front-ends stop responding"
    assert line.line_number == 1


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("2013-02-29 00:00 UTC — x", "“2013-02-29” is not a date in the calendar."),
        ("25:00 UTC — x", "“25:00” is not a time of day."),
        ("13:30 PM — x", "“13:30 PM” is not a 12-hour time."),
        ("2012-02-29 — deploy", "A date without a time"),
        ("00:51abc down", NO_TIME),
    ],
)
def test_an_impossible_stamp_is_an_error_not_a_guess(text, error):
    [line] = parse(text)

    assert line.error.startswith(error)


def test_a_bad_line_after_an_event_is_reported_not_appended():
    lines = parse("00:51 UTC — storage down\n25:00 UTC — impossible")

    assert lines[0].description == "storage down"
    assert lines[1].error == "“25:00” is not a time of day."
    assert lines[1].line_number == 2


def test_blank_lines_are_ignored_and_line_numbers_kept():
    lines = parse("\n00:51 UTC — a\n\n   \n01:15 UTC — b\n")

    assert [(line.line_number, line.description) for line in lines] == [(2, "a"), (5, "b")]


def test_continuation_lines_join_the_event_above():
    lines = parse(
        "00:51 UTC — storage front-ends stop responding\n"
        "    in all regions\n"
        "Customers see 500 errors.\n"
        "01:15 UTC — hosts migrate\n"
    )

    assert len(lines) == 2
    assert lines[0].description == (
        "storage front-ends stop responding\nin all regions\nCustomers see 500 errors."
    )
    assert lines[1].description == "hosts migrate"


def test_an_indented_line_continues_the_event_even_if_it_starts_with_a_time():
    lines = parse("00:51 UTC — storage down\n  01:00 retried, same result")

    assert len(lines) == 1
    assert lines[0].description == "storage down\n01:00 retried, same result"


def test_uniformly_indented_notes_are_still_one_event_per_line():
    lines = parse("    00:51 UTC — a\n    01:15 UTC — b")

    assert [line.description for line in lines] == ["a", "b"]


# --- Kinds ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("description", "kind"),
    [
        ("Monitoring detected elevated errors", EventKind.DETECTION),
        ("Ops alerted", EventKind.DETECTION),
        ("On-call engineer paged", EventKind.DETECTION),
        ("Customers noticed failures", EventKind.DETECTION),
        ("Escalated to the storage team", EventKind.ESCALATION),
        ("Root cause found in the cert code", EventKind.DIAGNOSIS),
        ("Leap-day bug identified", EventKind.DIAGNOSIS),
        ("Engineers diagnose the failure", EventKind.DIAGNOSIS),
        ("Kill switch mitigates the spread", EventKind.MITIGATION),
        ("Rolled back the config change", EventKind.MITIGATION),
        ("Reverted the deploy", EventKind.MITIGATION),
        ("Failover to the secondary region", EventKind.MITIGATION),
        ("Most clusters recovered", EventKind.RECOVERY),
        ("Service restored in North Europe", EventKind.RECOVERY),
        ("Incident resolved", EventKind.RESOLUTION),
        ("All services fully operational", EventKind.RESOLUTION),
        ("All clear given", EventKind.RESOLUTION),
        ("Config change deployed to production", EventKind.CHANGE),
        ("New version rolled out", EventKind.CHANGE),
        ("Fix pushed to seven clusters", EventKind.CHANGE),
        ("OS upgrade begins", EventKind.CHANGE),
        ("Customer impact begins", EventKind.IMPACT_START),
        ("Outage begins in US East", EventKind.IMPACT_START),
        ("Guest agents start failing", EventKind.IMPACT_START),
        ("Status page updated", EventKind.STATUS_UPDATE),
        ("Update posted for customers", EventKind.STATUS_UPDATE),
        ("Hosts start migrating workloads", EventKind.NOTE),
    ],
)
def test_the_kind_is_inferred_from_keywords(description, kind):
    assert infer_kind(description) == kind


def test_the_kind_considers_continuation_lines():
    line = parse("00:51 UTC — storage down\n  on-call paged")[0]

    assert line.kind == EventKind.DETECTION
