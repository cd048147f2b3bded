"""Writes to an incident's timeline, keeping the incident's moments in step with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max

from postmortems import rules
from postmortems.models import Incident
from postmortems.services import bump_version
from timeline.choices import MANUAL_SOURCE, MOMENT_OF_KIND, BodyFormat, EventKind
from timeline.models import TimelineEvent


@dataclass
class NewEvent:
    occurred_at: datetime
    kind: str = EventKind.NOTE
    description: str = ""
    body_format: str = BodyFormat.MARKDOWN
    source: str = MANUAL_SOURCE
    external_id: str = ""


@transaction.atomic
def record_events(*, incident: Incident, events: list[NewEvent], author=None) -> list:
    """Add events to the timeline in one step, then update the incident's moments once."""
    incident = Incident.objects.select_for_update().get(id=incident.id)
    position = next_position(incident)
    created = []
    for new in events:
        event = TimelineEvent(incident=incident, author=author, position=position, **vars(new))
        event.full_clean()
        event.save()
        created.append(event)
        position += 1
    sync_incident_moments(incident=incident)
    return created


def record_event(*, incident: Incident, author=None, **fields) -> TimelineEvent:
    """Add one event; a detection, mitigation or resolution sets the incident's moment."""
    return record_events(incident=incident, events=[NewEvent(**fields)], author=author)[0]


@transaction.atomic
def update_event(*, event: TimelineEvent, **changes) -> TimelineEvent:
    """Edit an event; moving or re-kinding a marker event moves the incident's moment."""
    before = (event.kind, event.occurred_at)
    for name, value in changes.items():
        setattr(event, name, value)
    return save_event(event=event, before=before)


@transaction.atomic
def save_event(*, event: TimelineEvent, before: tuple | None = None) -> TimelineEvent:
    """Save a new or edited event; ``before`` is the edited event's old (kind, time)."""
    incident = Incident.objects.select_for_update().get(id=event.incident_id)
    if event.pk is None and not event.position:
        event.position = next_position(incident)
    event.full_clean()
    event.save()
    sync_incident_moments(incident=incident, removed=[before] if before else [])
    return event


@transaction.atomic
def delete_event(*, event: TimelineEvent) -> None:
    """Remove an event; a moment it alone set is cleared with it."""
    incident = Incident.objects.select_for_update().get(id=event.incident_id)
    removed = (event.kind, event.occurred_at)
    event.delete()
    sync_incident_moments(incident=incident, removed=[removed])


def next_position(incident: Incident) -> int:
    last = incident.events.aggregate(last=Max("position"))["last"]
    return 0 if last is None else last + 1


def sync_incident_moments(*, incident: Incident, removed: list[tuple] = ()) -> None:
    """Set the incident's moments from its timeline's marker events (``rules.synced_moments``).

    One query reads the marker events; an order violation raises ValidationError and
    rolls the whole write back.
    """
    markers = incident.events.filter(kind__in=list(MOMENT_OF_KIND)).values_list(
        "kind", "occurred_at"
    )
    moments = rules.synced_moments(incident.moments(), markers, removed)
    if moments != incident.moments():
        for name, value in moments.items():
            setattr(incident, name, value)
        bump_version(incident)


MOMENT_EVENT_TEXT = {
    EventKind.IMPACT_START: "Impact began.",
    EventKind.DETECTION: "The problem was detected.",
    EventKind.MITIGATION: "Impact was mitigated.",
    EventKind.RESOLUTION: "The incident was resolved.",
}


def record_moment_events(*, incident: Incident, author=None) -> list:
    """Give each hand-entered moment a marker event, so the timeline tells the whole
    story and moving that event later moves the moment."""
    existing = set(incident.events.values_list("kind", flat=True))
    new = [
        NewEvent(occurred_at=getattr(incident, moment), kind=kind, description=text)
        for kind, text in MOMENT_EVENT_TEXT.items()
        for moment in [MOMENT_OF_KIND[kind][0]]
        if getattr(incident, moment) is not None and kind not in existing
    ]
    return record_events(incident=incident, events=new, author=author) if new else []
