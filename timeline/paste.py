"""Turn notes pasted from a chat log, a status page or a vendor's postmortem into events.

Pure: text in, ``ParsedLine`` dataclasses out, no database. Each line that starts
with a time becomes an event; lines without a time continue the event above;
a line that cannot be read is kept with an ``error`` so the person can fix it.

Accepted at the start of a line (optionally after a list bullet or inside
``[…]``):

- a date, optionally with a weekday: ``2012-02-29``, ``2012/02/29``,
  ``19 Nov 2014``, ``Feb 29, 2012``, ``Wednesday 29 February 2012``;
  a line holding only a date sets the date of the time-only lines below it;
- a time: ``00:51``, ``00:51:30``, ``5:45 PM``, ``5 pm``, ``2014-11-19T00:51:00Z``;
- a zone: ``UTC``, ``GMT``, ``Z``, an abbreviation from ``ZONES``, or an offset
  (``+09:00``, ``-0800``, ``UTC+9``). Without one the line is in ``default_tz``;
- a separator before the text: em dash, en dash, hyphen, colon, pipe or a space.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from datetime import timezone as fixed_zone
from zoneinfo import ZoneInfo

from timeline.choices import EventKind

MINUS, EN_DASH, EM_DASH = "\u2212", "\u2013", "\u2014"
NO_TIME = "No time found at the start of the line."
NO_DATE = (
    "No date for this time: start the line with a date (e.g. 2024-03-01 14:05), "
    "or give the incident a start time first."
)
DATE_WITHOUT_TIME = "A date without a time: add the time after the date (e.g. 2024-03-01 14:05)."


@dataclass(frozen=True)
class Zone:
    """A zone named in the notes: its offset rule, and the region whose clocks it names."""

    tz: tzinfo
    region: str = ""  # set for fixed abbreviations, to warn when the season does not match


def _fixed(hours: float, name: str, region: str) -> Zone:
    return Zone(fixed_zone(timedelta(hours=hours), name), region)


# An abbreviation means the offset it names (PST is UTC-8 even in July, as
# written); generic names (PT, ET) follow the region's clocks. IST is India's,
# CST is US Central: the meanings most incident reports use.
ZONES: dict[str, Zone] = {
    "UTC": Zone(UTC),
    "GMT": Zone(UTC),
    "Z": Zone(UTC),
    "PST": _fixed(-8, "PST", "America/Los_Angeles"),
    "PDT": _fixed(-7, "PDT", "America/Los_Angeles"),
    "MST": _fixed(-7, "MST", "America/Denver"),
    "MDT": _fixed(-6, "MDT", "America/Denver"),
    "CST": _fixed(-6, "CST", "America/Chicago"),
    "CDT": _fixed(-5, "CDT", "America/Chicago"),
    "EST": _fixed(-5, "EST", "America/New_York"),
    "EDT": _fixed(-4, "EDT", "America/New_York"),
    "WET": _fixed(0, "WET", "Europe/Lisbon"),
    "WEST": _fixed(1, "WEST", "Europe/Lisbon"),
    "BST": _fixed(1, "BST", "Europe/London"),
    "CET": _fixed(1, "CET", "Europe/Paris"),
    "CEST": _fixed(2, "CEST", "Europe/Paris"),
    "EET": _fixed(2, "EET", "Europe/Helsinki"),
    "EEST": _fixed(3, "EEST", "Europe/Helsinki"),
    "IST": _fixed(5.5, "IST", "Asia/Kolkata"),
    "SGT": _fixed(8, "SGT", "Asia/Singapore"),
    "HKT": _fixed(8, "HKT", "Asia/Hong_Kong"),
    "JST": _fixed(9, "JST", "Asia/Tokyo"),
    "AEST": _fixed(10, "AEST", "Australia/Sydney"),
    "AEDT": _fixed(11, "AEDT", "Australia/Sydney"),
    "PT": Zone(ZoneInfo("America/Los_Angeles")),
    "MT": Zone(ZoneInfo("America/Denver")),
    "CT": Zone(ZoneInfo("America/Chicago")),
    "ET": Zone(ZoneInfo("America/New_York")),
}

# Checked in this order, first match wins: the more decisive statement beats
# the incidental word ("rolled back the config change" is a mitigation, "alerts
# cleared, incident resolved" a resolution). A person can change any of them.
_KIND_WORDS: list[tuple[EventKind, str]] = [
    (EventKind.RESOLUTION, r"\bresolved\b|\bfully operational\b|\ball[- ]clear\b"),
    (
        EventKind.MITIGATION,
        r"\bmitigat|\brolled back\b|\brollback\b|\broll(ing)? back\b|\brevert"
        r"|\bfail(ed)?[- ]?over\b",
    ),
    (EventKind.RECOVERY, r"\brecover|\brestored\b"),
    (EventKind.DIAGNOSIS, r"\broot cause\b|\bidentified\b|\bdiagnos"),
    (EventKind.ESCALATION, r"\bescalat"),
    (EventKind.DETECTION, r"\bdetect|\balert|\bpaged\b|\bnoticed\b|\bbecame aware\b"),
    (EventKind.STATUS_UPDATE, r"\bstatus page\b|\bupdate posted\b|\bposted an update\b"),
    (
        EventKind.IMPACT_START,
        r"\bimpact\b|\b(outage|errors?|failures?|degradation)\b[^.]{0,30}"
        r"\b(begins?|began|starts?|started)\b|\bstart(s|ed)? (failing|to fail)\b",
    ),
    (
        EventKind.CHANGE,
        r"\bdeploy|\brolled out\b|\brollout\b|\bchange|\bconfig|\bpushed\b|\bupgrad",
    ),
]
KIND_KEYWORDS: list[tuple[EventKind, re.Pattern[str]]] = [
    (kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in _KIND_WORDS
]

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_MONTH = r"(?P<month>(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*)\.?"
_DATES = [
    rf"{_WEEKDAY}(?P<year>\d{{4}})[-/](?P<month>\d{{1,2}})[-/](?P<day>\d{{1,2}})",
    rf"{_WEEKDAY}(?P<day>\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(?P<year>\d{{4}})",
    rf"{_WEEKDAY}{_MONTH}\s+(?P<day>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<year>\d{{4}})",
]
DATE_PATTERNS = [re.compile(pattern, re.IGNORECASE) for pattern in _DATES]
DATE_TIME_JOIN = re.compile(r"T|,?\s*at\s+|,?\s+|,", re.IGNORECASE)
TIME_PATTERN = re.compile(
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,]\d+)?)?)?"
    r"(?:\s*(?P<ampm>[ap])\.?\s?m\.?(?![a-z]))?",
    re.IGNORECASE,
)
OFFSET_PATTERN = re.compile(
    r"\s*(?:(?P<prefix>UTC|GMT)\s?)?(?P<sign>[+\-\u2212])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?",
    re.IGNORECASE,
)
ABBREVIATION_PATTERN = re.compile(r"\s*(?P<name>[A-Za-z]{1,5})(?![A-Za-z])")
SEPARATOR = re.compile(r"\s*[\])]?\s*(?:\u2014|\u2013|--?|:|\|)?\s*")
BULLET = re.compile(r"(?:[-*•]\s+)?[\[(]?")
# Something that looks like a time the parser should have read: better an
# error the person can fix than a line silently glued to the event above.
LOOKS_LIKE_TIMESTAMP = re.compile(r"\d{4}-\d{1,2}-\d{1,2}\b|\d{1,2}:\d{2}\b")


@dataclass
class ParsedLine:
    """One event read from the notes, or one line that could not be read (``error``)."""

    line_number: int
    text: str
    occurred_at: datetime | None = None  # aware, UTC
    kind: EventKind = EventKind.NOTE
    description: str = ""
    zone_name: str = ""
    error: str = ""
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


@dataclass
class _Stamp:
    """The start of a line: a date (maybe), a time, a zone (maybe), and the text after them."""

    day: date | None
    clock: time | None
    zone_name: str
    zone: Zone | None
    rest: str


class StampError(ValueError):
    """The line starts like a time but the time is impossible (25:00, 30 February)."""


@dataclass
class _State:
    """What the lines read so far imply for the next one."""

    current_date: date | None = None
    previous_at: datetime | None = None  # for rolling a time past midnight
    last_event: ParsedLine | None = None
    last_indent: int = 0


def parse_notes(
    text: str,
    *,
    default_date: date | None,
    default_tz: tzinfo,
    anchor: datetime | None = None,
) -> list[ParsedLine]:
    """Read pasted notes into events (UTC times) and unreadable lines (with an ``error``).

    A time-only line takes the date of the latest dated line above it, else the
    date of ``anchor`` (the incident's start, as seen in the line's zone) or
    ``default_date``; it rolls to the next day when it would go backwards.
    """
    results: list[ParsedLine] = []
    state = _State()
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parsed = _parse_line(number, raw, state, default_date, default_tz, anchor)
        if parsed is not None:
            results.append(parsed)
    for parsed in results:
        if parsed.ok:
            parsed.description = parsed.description.strip()
            parsed.kind = infer_kind(parsed.description)
    return results


def infer_kind(description: str) -> EventKind:
    """The event kind a description's wording suggests; a note when nothing matches."""
    for kind, pattern in KIND_KEYWORDS:
        if pattern.search(description):
            return kind
    return EventKind.NOTE


def _parse_line(
    number: int,
    raw: str,
    state: _State,
    default_date: date | None,
    default_tz: tzinfo,
    anchor: datetime | None,
) -> ParsedLine | None:
    indent = len(raw) - len(raw.lstrip())
    line = raw.strip()
    if state.last_event is not None and indent > state.last_indent:
        return _continue(state.last_event, raw)
    try:
        stamp = read_stamp(line)
    except StampError as error:
        return ParsedLine(number, line, error=str(error))
    if stamp is None:
        if state.last_event is not None and not LOOKS_LIKE_TIMESTAMP.match(line):
            return _continue(state.last_event, raw)
        return ParsedLine(number, line, error=NO_TIME)
    if stamp.clock is None:
        return _date_only(number, line, stamp, state)
    event = _event(number, line, stamp, state, default_date, default_tz, anchor)
    if event.ok:
        state.last_event, state.last_indent = event, indent
    return event


def _continue(event: ParsedLine, raw: str) -> None:
    # Continuation lines keep their own line breaks: the description is Markdown.
    event.description += "\n" + raw.strip()
    event.text += "\n" + raw.rstrip()
    return None


def _date_only(number: int, line: str, stamp: _Stamp, state: _State) -> ParsedLine | None:
    if stamp.rest.strip(f" :-|{EM_DASH}{EN_DASH}"):
        return ParsedLine(number, line, error=DATE_WITHOUT_TIME)
    # A heading such as "29 Feb 2012": the times below it are on that day.
    state.current_date, state.previous_at = stamp.day, None
    return None


def _event(
    number: int,
    line: str,
    stamp: _Stamp,
    state: _State,
    default_date: date | None,
    default_tz: tzinfo,
    anchor: datetime | None,
) -> ParsedLine:
    zone = stamp.zone.tz if stamp.zone else default_tz
    zone_name = stamp.zone_name or _zone_label(default_tz)
    parsed = ParsedLine(number, line, description=stamp.rest, zone_name=zone_name)
    if stamp.zone is None:
        parsed.warnings.append(f"No time zone on the line: read as {zone_name}.")
    day = stamp.day or state.current_date
    if day is None:
        day = anchor.astimezone(zone).date() if anchor else default_date
    if day is None:
        parsed.error = NO_DATE
        return parsed
    at = datetime.combine(day, stamp.clock, tzinfo=zone)
    if stamp.day is None and state.previous_at is not None and at < state.previous_at:
        # Notes run forward: a time earlier than the line above is after midnight.
        day += timedelta(days=1)
        at = datetime.combine(day, stamp.clock, tzinfo=zone)
        parsed.warnings.append(
            f"Read as the next day ({day.day} {day:%b %Y}): "
            "the time is earlier than the line above."
        )
    parsed.warnings.extend(_season_warnings(stamp, at))
    parsed.occurred_at = at.astimezone(UTC)
    state.current_date, state.previous_at = day, parsed.occurred_at
    return parsed


def _season_warnings(stamp: _Stamp, at: datetime) -> list[str]:
    """Warn when an abbreviation names the other season's offset ("PST" in July)."""
    if stamp.zone is None or not stamp.zone.region:
        return []
    region = ZoneInfo(stamp.zone.region)
    local_offset = at.replace(tzinfo=None).replace(tzinfo=region).utcoffset()
    written = at.utcoffset()
    if local_offset == written:
        return []
    return [
        f"{stamp.zone_name} is {format_offset(written)}, but {stamp.zone.region} clocks were on "
        f"{format_offset(local_offset)} that day. Read as {stamp.zone_name}, as written."
    ]


def format_offset(offset: timedelta | None) -> str:
    """``UTC\u221208:00``: the sign is a real minus sign, as in print."""
    if offset is None:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else MINUS
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def _zone_label(tz: tzinfo) -> str:
    return getattr(tz, "key", None) or str(tz)


# --- Reading the time stamp at the start of a line -----------------------------


def read_stamp(line: str) -> _Stamp | None:
    """The date, time and zone at the start of ``line``; None when it does not start with one."""
    position = BULLET.match(line).end()
    day, position = _read_date(line, position)
    if day is not None:
        join = DATE_TIME_JOIN.match(line, position)
        after_date = join.end() if join else position
    else:
        after_date = position
    clock, after_time = _read_time(line, after_date)
    if clock is None:
        if day is None:
            return None
        return _Stamp(day, None, "", None, line[position:])
    zone_name, zone, after_zone = _read_zone(line, after_time)
    separator = SEPARATOR.match(line, after_zone)
    if separator.end() == after_zone and after_zone < len(line):
        return None  # "00:51abc" is a word, not a time
    return _Stamp(day, clock, zone_name, zone, line[separator.end() :])


def _read_date(line: str, position: int) -> tuple[date | None, int]:
    for pattern in DATE_PATTERNS:
        match = pattern.match(line, position)
        if match:
            return _make_date(match), match.end()
    return None, position


def _make_date(match: re.Match[str]) -> date:
    month = match["month"]
    number = int(month) if month.isdigit() else _MONTHS.index(month[:3].lower()) + 1
    try:
        return date(int(match["year"]), number, int(match["day"]))
    except ValueError:
        raise StampError(f"“{match[0].strip()}” is not a date in the calendar.") from None


def _read_time(line: str, position: int) -> tuple[time | None, int]:
    match = TIME_PATTERN.match(line, position)
    if match is None or (match["minute"] is None and match["ampm"] is None):
        return None, position
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    second = int(match["second"] or 0)
    if match["ampm"]:
        if not 1 <= hour <= 12:
            raise StampError(f"“{match[0].strip()}” is not a 12-hour time.")
        hour = hour % 12 + (12 if match["ampm"].lower() == "p" else 0)
    try:
        return time(hour, minute, second), match.end()
    except ValueError:
        raise StampError(f"“{match[0].strip()}” is not a time of day.") from None


def _read_zone(line: str, position: int) -> tuple[str, Zone | None, int]:
    offset = OFFSET_PATTERN.match(line, position)
    if offset and (offset["prefix"] or offset["minutes"]):
        return _offset_zone(offset)
    abbreviation = ABBREVIATION_PATTERN.match(line, position)
    if abbreviation:
        name = abbreviation["name"]
        # UTC and GMT are read in any case; "est" or "ct" in lower case are words.
        key = name.upper() if name.upper() in ("UTC", "GMT") else name
        if key in ZONES:
            return key, ZONES[key], abbreviation.end()
    return "", None, position


def _offset_zone(match: re.Match[str]) -> tuple[str, Zone, int]:
    hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
    if hours > 14 or minutes >= 60:
        raise StampError(f"“{match[0].strip()}” is not a UTC offset.")
    sign = 1 if match["sign"] == "+" else -1
    offset = sign * timedelta(hours=hours, minutes=minutes)
    name = format_offset(offset)
    return name, Zone(fixed_zone(offset, name)), match.end()
