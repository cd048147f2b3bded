"""When a subscriber's digest is due and which week it covers (pure functions of time).

A digest is due at the subscriber's weekday and hour in their own time zone, and it
covers the seven days that end then: a Monday 09:00 digest covers the previous Monday
09:00 up to this one. Its week key is the ISO week of that moment in the subscriber's
zone, so each subscription has at most one digest per ISO week however its settings
change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEK_RE = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class DigestPeriod:
    """The seven days a digest covers, ending at its due moment (both aware, in UTC)."""

    week: str
    start: datetime
    end: datetime
    time_zone: str

    @property
    def label(self) -> str:
        """“16 Nov”: the local date the week began, for subject lines."""
        local = self.start.astimezone(ZoneInfo(self.time_zone))
        return f"{local.day} {local:%b}"

    def previous(self, weeks: int = 1) -> DigestPeriod:
        """The period ``weeks`` before this one (local wall-clock weeks, so DST-safe)."""
        zone = ZoneInfo(self.time_zone)
        end = (self.end.astimezone(zone) - timedelta(weeks=weeks)).astimezone(UTC)
        return period_ending(end, self.time_zone)


def week_key(moment: datetime, time_zone: str) -> str:
    year, week, _ = moment.astimezone(ZoneInfo(time_zone)).isocalendar()
    return f"{year}-W{week:02d}"


def parse_week(value: str) -> tuple[int, int]:
    """``2026-W48`` → (2026, 48), or ValueError with a message a person can act on."""
    match = WEEK_RE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not an ISO week; write it like 2026-W48.")
    year, week = int(match[1]), int(match[2])
    try:
        date.fromisocalendar(year, week, 1)
    except ValueError:
        raise ValueError(f"{year} has no week {week}.") from None
    return year, week


def period_ending(end: datetime, time_zone: str) -> DigestPeriod:
    """The period whose due moment is ``end``."""
    zone = ZoneInfo(time_zone)
    local_end = end.astimezone(zone)
    start = (local_end - timedelta(weeks=1)).astimezone(UTC)
    return DigestPeriod(week_key(end, time_zone), start, end.astimezone(UTC), time_zone)


def due_moment_in_week(
    year: int, week: int, *, weekday: int, hour: int, time_zone: str
) -> datetime:
    """The subscriber's send time in a given ISO week, in UTC."""
    day = date.fromisocalendar(year, week, weekday + 1)
    return _at(day, hour, ZoneInfo(time_zone))


def latest_due_moment(now: datetime, *, weekday: int, hour: int, time_zone: str) -> datetime:
    """The most recent send time at or before ``now``, in UTC."""
    zone = ZoneInfo(time_zone)
    local_now = now.astimezone(zone)
    day = local_now.date() - timedelta(days=(local_now.weekday() - weekday) % 7)
    moment = _at(day, hour, zone)
    if moment > now:
        moment = _at(day - timedelta(weeks=1), hour, zone)
    return moment


def next_due_moment(now: datetime, *, weekday: int, hour: int, time_zone: str) -> datetime:
    """The first send time after ``now``, in UTC."""
    latest = latest_due_moment(now, weekday=weekday, hour=hour, time_zone=time_zone)
    day = latest.astimezone(ZoneInfo(time_zone)).date() + timedelta(weeks=1)
    return _at(day, hour, ZoneInfo(time_zone))


def _at(day: date, hour: int, zone: ZoneInfo) -> datetime:
    # A wall-clock hour that a DST jump skips (02:00 on the spring-forward day) maps to
    # the instant an hour later, as zoneinfo's fold=0 does; one that repeats, to the first.
    return datetime.combine(day, time(hour), tzinfo=zone).astimezone(UTC)
