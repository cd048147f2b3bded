"""What the read-only visual timeline shows: rows with day headers, gaps, offsets and markers.

Pure: the events come in already fetched and ordered; nothing here queries the
database. Dates are the viewer's (the active time zone), so a header appears
where the viewer's calendar turns a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from django.utils import timezone
from django.utils.dateformat import format as date_format

from postmortems.models import Incident
from postmortems.templatetags.hindsight import duration
from timeline.choices import MOMENT_OF_KIND, EventKind
from timeline.models import TimelineEvent

# Shorter gaps are just the pace of an incident; from this one the pause is worth showing.
SHOWN_GAP = timedelta(minutes=1)
# Long silences get a broken line: something took hours (or nobody wrote it down).
LONG_GAP = timedelta(hours=1)
MINUS = "\u2212"  # a real minus sign (T-15 min reads as a dash), as in print


@dataclass(frozen=True)
class Marker:
    """The incident moment an event sets (its detection, its resolution…)."""

    kind: EventKind
    moment: str  # the Incident field it sets, e.g. "detected_at"
    label: str


MARKER_LABELS = {
    EventKind.IMPACT_START: "Impact start",
    EventKind.DETECTION: "Detection",
    EventKind.MITIGATION: "Mitigation",
    EventKind.RESOLUTION: "Resolution",
}
MARKERS: dict[str, Marker] = {
    str(kind): Marker(kind=kind, moment=MOMENT_OF_KIND[kind][0], label=label)
    for kind, label in MARKER_LABELS.items()
}


@dataclass(frozen=True)
class TimelineRow:
    """One event of the visual timeline and what to draw around it."""

    event: TimelineEvent
    local_date: date
    day_changed: bool
    day_label: str
    gap_before: timedelta | None
    offset: timedelta | None
    marker: Marker | None

    @property
    def show_gap(self) -> bool:
        return self.gap_before is not None and self.gap_before >= SHOWN_GAP

    @property
    def long_gap(self) -> bool:
        return self.show_gap and self.gap_before >= LONG_GAP

    @property
    def gap_label(self) -> str:
        """``+2 h 30 min`` since the previous event, or "" when too short to matter."""
        return f"+{duration(self.gap_before)}" if self.show_gap else ""

    @property
    def offset_label(self) -> str:
        """``T+1 h 45 min`` after the start, ``T\u221220 min`` before it (the triggering change)."""
        if self.offset is None:
            return ""
        if not self.offset:
            return "T+0"
        sign = "+" if self.offset > timedelta(0) else MINUS
        return f"T{sign}{duration(abs(self.offset))}"

    @property
    def offset_description(self) -> str:
        """The offset in words, for screen readers and the tooltip."""
        if self.offset is None:
            return ""
        if not self.offset:
            return "when the impact started"
        side = "after" if self.offset > timedelta(0) else "before"
        return f"{duration(abs(self.offset))} {side} the impact started"


def timeline_rows(events: list[TimelineEvent], incident: Incident) -> list[TimelineRow]:
    """The events as rows, in the order given, with day headers in the viewer's zone."""
    rows: list[TimelineRow] = []
    claimed: set[str] = set()
    previous: TimelineEvent | None = None
    previous_date: date | None = None
    for event in events:
        local = timezone.localtime(event.occurred_at)
        rows.append(
            TimelineRow(
                event=event,
                local_date=local.date(),
                day_changed=local.date() != previous_date,
                day_label=f"{date_format(local, 'l j F Y')} ({local.tzname()})",
                gap_before=event.occurred_at - previous.occurred_at if previous else None,
                offset=(event.occurred_at - incident.started_at if incident.started_at else None),
                marker=_marker(event, incident, claimed),
            )
        )
        previous, previous_date = event, local.date()
    return rows


def _marker(event: TimelineEvent, incident: Incident, claimed: set[str]) -> Marker | None:
    """The moment this event sets, if it is the event the incident's moment came from.

    Several events may share the moment's time (a duplicate status-page
    "resolved"): only the first is marked, so each moment appears once.
    """
    marker = MARKERS.get(event.kind)
    if marker is None or marker.moment in claimed:
        return None
    if getattr(incident, marker.moment) != event.occurred_at:
        return None
    claimed.add(marker.moment)
    return marker


def timeline_display_context(incident: Incident, events) -> dict:
    """Context for ``timeline/_timeline.html``: the rows and the zone they are shown in."""
    return {
        "timeline_rows": timeline_rows(list(events), incident),
        "timeline_zone": timezone.get_current_timezone_name(),
    }
