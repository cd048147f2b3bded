"""Timelines written into the text of one update: how status pages carry imported history.

GitHub's history from before its Statuspage (839 incidents) has one update whose HTML holds
the whole incident, an entry per list item: ``<li><strong>2011-07-28 05:43:00</strong> -
Our fileserver issues have been fully resolved!</li>``; other pages write ``<li><b>14:05
UTC</b> Investigating - …</li>`` or plain lines, ``2019-05-07 11:23 UTC - This incident has
been resolved.``. An entry is a line that starts with a time: a date before it or not,
seconds or not, a zone after it or not, then a hyphen, a dash, a colon or nothing. A line
that starts with no time continues the entry before it.

Pure functions: no Django, no database.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from imports.records import WrittenTimeline

# Longer than any outage a timeline of a few lines describes: a span past it is a misread.
LONGEST = timedelta(days=14)
# Entries written to the minute may put the page's own time a few seconds before the start.
MINUTE = timedelta(minutes=1)

# Where a line of text ends in HTML; every other tag is dropped.
LINE_BREAK = re.compile(
    r"<\s*(?:br|/?(?:p|li|ul|ol|div|tr|h[1-6]|blockquote|pre|dt|dd))\b[^<>]*>", re.IGNORECASE
)
TAG = re.compile(r"</?[A-Za-z][^<>]*>")
ENTRY_TIME = re.compile(
    r"(?:(?P<date>\d{4}-\d{2}-\d{2})[ T])?"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?(?![\d:])"
    r"(?:\s?(?P<half>[AaPp])\.?[Mm]\b\.?)?"
    r"(?:\s?(?P<zone>[A-Z]{1,4})\b)?"
)
SEPARATOR = re.compile(r"\s*[-\u2013\u2014:]?\s*")  # hyphen, en dash, em dash or colon
# The zones US-based pages write; an unknown zone word makes the whole timeline unread,
# since reading its times in another zone would shift the incident by hours.
ZONES = {
    "UTC": UTC,
    "UT": UTC,
    "GMT": UTC,
    "Z": UTC,
    **{
        name: timezone(timedelta(hours=hours), name)
        for name, hours in (
            ("EST", -5),
            ("EDT", -4),
            ("CST", -6),
            ("CDT", -5),
            ("MST", -7),
            ("MDT", -6),
            ("PST", -8),
            ("PDT", -7),
        )
    },
}
ZONE_LIKE = re.compile(r"[A-Z]{2,3}T")  # CEST, BST, JST, AEDT: a zone, but not one known here
RESOLVED = re.compile(r"\bresolved\b", re.IGNORECASE)
INVESTIGATING = re.compile(r"\binvestigating\b", re.IGNORECASE)


class Unreadable(ValueError):
    """A line starts with a time that cannot be read as one (hour 25, an unknown zone)."""


@dataclass
class Written:
    """One entry as written: its date and zone when it gives them."""

    day: date | None
    clock: time
    zone: tzinfo | None
    text: str


@dataclass(frozen=True)
class Entry:
    at: datetime  # UTC
    text: str


def written_timeline(
    bodies: Iterable[str], *, anchor: datetime, zone: tzinfo
) -> WrittenTimeline | None:
    """The span the first of ``bodies`` with a timeline writes out, when it can be trusted.

    ``anchor`` is the page's own time for the incident (a backfill stamps it with the first
    entry's time): entries without a date take its date, and the span must include it.
    Entries without a zone are in ``zone``, the zone the page writes its own times in.
    """
    for body in bodies:
        try:
            entries = timeline_entries(body, anchor=anchor, zone=zone)
        except Unreadable:
            return None
        if len(entries) >= 2:
            return trusted_span(entries, anchor)
    return None


def timeline_entries(body: str, *, anchor: datetime, zone: tzinfo) -> list[Entry]:
    """The body's timeline entries, dated and in UTC, in the order written."""
    written: list[Written] = []
    for line in text_lines(body):
        entry = written_entry(line)
        if entry is not None:
            written.append(entry)
        elif written:
            written[-1].text += " " + line
    days = entry_days([w.day for w in written])
    entries = []
    for entry, day in zip(written, days, strict=True):
        in_zone = entry.zone or zone
        local = datetime.combine(day or anchor.astimezone(in_zone).date(), entry.clock, in_zone)
        try:
            entries.append(Entry(local.astimezone(UTC), entry.text))
        except OverflowError as exc:  # 9999-12-31 23:00 PST is in no year a datetime holds
            raise Unreadable(f"{local.isoformat()} is beyond the years a time can hold") from exc
    return entries


def text_lines(body: str) -> list[str]:
    """The body's lines of text: HTML's lines and list items, tags dropped, entities read."""
    text = TAG.sub("", LINE_BREAK.sub("\n", body))
    lines = (" ".join(html.unescape(line).split()) for line in text.splitlines())
    return [line for line in lines if line]


def written_entry(line: str) -> Written | None:
    """The entry a line starts, or None when it starts with no time."""
    match = ENTRY_TIME.match(line)
    if match is None:
        return None
    rest = match.end()
    zone = None
    if match["zone"]:
        zone = ZONES.get(match["zone"])
        if zone is None and ZONE_LIKE.fullmatch(match["zone"]):
            raise Unreadable(f"{line[: match.end()]!r}: a zone not known here")
        if zone is None:  # the text's first word ("14:05 API errors…")
            rest = match.start("zone")
    text = line[SEPARATOR.match(line, rest).end() :]
    return Written(entry_day(match["date"]), entry_clock(match), zone, text)


def entry_day(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise Unreadable(f"{value!r} is not a date") from exc


def entry_clock(match: re.Match) -> time:
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
    if match["half"]:
        if not 1 <= hour <= 12:
            raise Unreadable(f"{match[0]!r} is not a time")
        hour = hour % 12 + (12 if match["half"] in "Pp" else 0)
    try:
        return time(hour, minute, second)
    except ValueError as exc:
        raise Unreadable(f"{match[0]!r} is not a time") from exc


def entry_days(days: list[date | None]) -> list[date | None]:
    """Each entry's date: its own, else the last one written before it, else the first one
    written after it; None when no entry has one (the incident's date applies)."""
    following = next((day for day in days if day is not None), None)
    result, last = [], None
    for day in days:
        last = day or last
        result.append(last or following)
    return result


def trusted_span(entries: list[Entry], anchor: datetime) -> WrittenTimeline | None:
    """Start, end and detection of ``entries``; None when they cannot be trusted: out of
    order, no time between start and end, longer than ``LONGEST``, or not around the
    page's own time for the incident."""
    times = [entry.at for entry in entries]
    if times != sorted(times):
        return None
    start = times[0]
    # The first entry is the start even when it says resolved ("We've resolved an issue
    # that…, more delays are possible"): the end is a later entry.
    end = next((e.at for e in reversed(entries[1:]) if RESOLVED.search(e.text)), times[-1])
    if not start < end <= start + LONGEST or not start - MINUTE <= anchor <= end:
        return None
    detected = start if INVESTIGATING.search(entries[0].text) else None
    return WrittenTimeline(start=start, end=end, detected_at=detected)
