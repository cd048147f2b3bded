from datetime import UTC, datetime

import pytest

from digests.schedule import (
    due_moment_in_week,
    latest_due_moment,
    next_due_moment,
    parse_week,
    period_ending,
    week_key,
)

MONDAY_9 = {"weekday": 0, "hour": 9}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_tokyo_monday_nine_is_sunday_midnight_utc():
    # Monday 23 Nov 2026 09:00 in Tokyo (UTC+9) is 00:00 UTC that Monday.
    now = utc(2026, 11, 23, 0, 30)
    assert latest_due_moment(now, time_zone="Asia/Tokyo", **MONDAY_9) == utc(2026, 11, 23, 0)


def test_los_angeles_monday_nine_comes_seventeen_hours_later():
    # Monday 09:00 in Los Angeles (PST, UTC-8) is 17:00 UTC; half an hour past midnight UTC
    # its latest due digest is still the previous Monday's.
    now = utc(2026, 11, 23, 0, 30)
    assert latest_due_moment(now, time_zone="America/Los_Angeles", **MONDAY_9) == utc(
        2026, 11, 16, 17
    )
    later = utc(2026, 11, 23, 17, 0)
    assert latest_due_moment(later, time_zone="America/Los_Angeles", **MONDAY_9) == later


def test_the_moment_itself_is_due():
    moment = utc(2026, 11, 23, 9)
    assert latest_due_moment(moment, time_zone="UTC", **MONDAY_9) == moment
    assert next_due_moment(moment, time_zone="UTC", **MONDAY_9) == utc(2026, 11, 30, 9)


def test_period_is_the_seven_local_days_before_the_moment_across_a_dst_change():
    # Los Angeles leaves summer time on Sunday 1 Nov 2026: the week before Monday 2 Nov
    # 09:00 PST is 7 days and 1 hour long in UTC, and still starts at 09:00 local.
    end = due_moment_in_week(2026, 45, time_zone="America/Los_Angeles", **MONDAY_9)
    period = period_ending(end, "America/Los_Angeles")
    assert end == utc(2026, 11, 2, 17)
    assert period.start == utc(2026, 10, 26, 16)
    assert period.week == "2026-W45"
    assert period.label == "26 Oct"


def test_week_key_uses_the_subscribers_zone():
    moment = utc(2026, 11, 22, 20)  # Sunday evening UTC is Monday morning in Tokyo
    assert week_key(moment, "UTC") == "2026-W47"
    assert week_key(moment, "Asia/Tokyo") == "2026-W48"


def test_previous_period_steps_back_whole_weeks():
    period = period_ending(utc(2026, 11, 23, 9), "UTC")
    assert period.previous().end == period.start
    assert period.previous(12).week == "2026-W36"


@pytest.mark.parametrize(
    "value, error",
    [("2026-48", "not an ISO week"), ("2026-W54", "2026 has no week 54"), ("", "not an ISO")],
)
def test_parse_week_explains_bad_input(value, error):
    with pytest.raises(ValueError, match=error):
        parse_week(value)


def test_parse_week_reads_iso_weeks():
    assert parse_week(" 2026-W48 ") == (2026, 48)
    assert parse_week("2026-W53") == (2026, 53)  # 2026 has 53 ISO weeks
