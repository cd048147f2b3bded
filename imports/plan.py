"""What an imported incident should look like in Hindsight: pure decisions, no database.

The upsert path (``imports/upsert.py``) asks these functions what to write: the incident's
fields, its timeline events and their kinds, which fields a person has taken over, where the
moments land, and whether an incident is fit to write at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.db.models import Max, Model

from imports.records import ImportedComponent, ImportedIncident, ImportedUpdate
from postmortems.choices import Severity
from postmortems.models import Incident, Service, moment_order_errors
from timeline.choices import MOMENT_OF_KIND, EventKind
from timeline.models import TimelineEvent
from timeline.services import NewEvent

IMPACT_SEVERITY = {
    "critical": Severity.CRITICAL,
    "major": Severity.MAJOR,
    "minor": Severity.MINOR,
    "none": Severity.NONE,
    "maintenance": Severity.NONE,
}
# The incident fields the importer owns (and a person may override).
OWNED_FIELDS = (
    "title",
    "severity",
    "started_at",
    "resolved_at",
    "duration_unknown",
    "is_maintenance",
)
MARKERS = (EventKind.DETECTION, EventKind.MITIGATION, EventKind.RESOLUTION)
CLOSING = ("resolved", "completed", "postmortem")
EVENT_FIELDS = ("occurred_at", "kind", "description", "body_format")


@dataclass
class Desired:
    """What the payload says the incident should be, in model terms."""

    item: ImportedIncident
    fields: dict
    events: list[NewEvent]
    components: list[ImportedComponent]


def desired_state(*, source: str, item: ImportedIncident) -> Desired:
    events = classify_updates(item)
    for event in events:
        event.source = source
    resolutions = [e.occurred_at for e in events if e.kind == EventKind.RESOLUTION]
    # The end comes from the updates when they give one; else from the page;
    # a closed incident with neither has an unknown duration, not a zero one.
    resolved_at = max(resolutions) if resolutions else item.resolved_at
    if resolved_at and item.started_at and resolved_at <= item.started_at:
        resolved_at = None
    closed = item.status.lower() in CLOSING
    return Desired(
        item=item,
        fields={
            "title": item.title[:300] or f"Untitled incident {item.external_id}",
            "severity": IMPACT_SEVERITY.get(item.impact.lower(), Severity.MINOR),
            "started_at": item.started_at,
            "resolved_at": resolved_at,
            "duration_unknown": closed and resolved_at is None,
            "is_maintenance": item.is_maintenance,
        },
        events=events,
        components=item.components,
    )


# --- Updates → timeline events -------------------------------------------------


def update_kind(status: str, *, detected: bool, has_resolved: bool) -> str:
    status = status.lower()
    if status == "investigating":
        return EventKind.STATUS_UPDATE if detected else EventKind.DETECTION
    if status == "identified":
        return EventKind.DIAGNOSIS
    if status in ("monitoring", "verifying"):
        return EventKind.MITIGATION
    if status in ("resolved", "completed"):
        return EventKind.RESOLUTION
    if status == "postmortem":
        # A postmortem is often posted days after the fix: it ends the
        # incident only when no "resolved" update did.
        return EventKind.NOTE if has_resolved else EventKind.RESOLUTION
    return EventKind.STATUS_UPDATE


def classify_updates(item: ImportedIncident) -> list[NewEvent]:
    """Timeline events for the updates, kinds chosen so the moments stay in order."""
    updates = sorted(item.updates, key=lambda u: (u.display_at, u.created_at or u.display_at))
    has_resolved = any(u.status.lower() in ("resolved", "completed") for u in updates)
    events, detected = [], False
    for update in updates:
        kind = update_kind(update.status, detected=detected, has_resolved=has_resolved)
        if kind in MARKERS and item.started_at and update.display_at < item.started_at:
            kind = EventKind.STATUS_UPDATE  # a back-dated update cannot precede the start
        if (
            kind == EventKind.RESOLUTION
            and item.started_at
            and update.display_at <= item.started_at
        ):
            # Backfilled history "resolves" at its creation time: that is not
            # an end, and must not make a zero-length outage.
            kind = EventKind.STATUS_UPDATE
        detected |= kind == EventKind.DETECTION
        events.append(new_event(update, kind))
    keep_moments_in_order(events)
    return events


def new_event(update: ImportedUpdate, kind: str) -> NewEvent:
    return NewEvent(
        occurred_at=update.display_at,
        kind=kind,
        description=update.body,
        body_format=update.body_format,
        external_id=update.external_id,
    )


def keep_moments_in_order(events: list[NewEvent]) -> None:
    """Demote marker events that would put detection after mitigation, or an end before them.

    Pages post updates out of order (a "monitoring" before the first
    "investigating", back-dated display times); such an update is still
    shown, as a status update, rather than rejecting the whole incident.
    """
    detected = mitigated = resolved = None
    for event in events:  # one pass: this runs for every incident of every payload
        kind, at = event.kind, event.occurred_at
        if kind == EventKind.DETECTION:
            detected = at if detected is None else min(detected, at)
        elif kind == EventKind.MITIGATION:
            mitigated = at if mitigated is None else min(mitigated, at)
        elif kind == EventKind.RESOLUTION:
            resolved = at if resolved is None else max(resolved, at)
    if detected and mitigated and mitigated < detected:
        demote(events, EventKind.DETECTION)
        detected = None
    earliest = [t for t in (detected, mitigated) if t]
    if resolved and earliest and resolved < max(earliest):
        demote(events, EventKind.RESOLUTION)


def demote(events: list[NewEvent], kind: str) -> None:
    for event in events:
        if event.kind == kind:
            event.kind = EventKind.STATUS_UPDATE


# --- Moments, person's edits, fitness ------------------------------------------------


def synced_moments(
    moments: dict, events: Iterable[tuple[str, datetime]], removed: Iterable[tuple] = ()
) -> dict:
    """The moments once the timeline's marker events set them.

    The same rule as ``timeline.services.sync_incident_moments``, on events in memory: a
    moment with no marker event keeps its value unless the event that set it was just
    moved or re-kinded (``removed`` holds such events' old (kind, time)).
    """
    times: dict[str, list[datetime]] = {}
    for kind, at in events:
        if kind in MOMENT_OF_KIND:
            times.setdefault(kind, []).append(at)
    result = dict(moments)
    removed = set(removed)
    for kind, (moment, aggregate) in MOMENT_OF_KIND.items():
        found = times.get(kind)
        if found:
            result[moment] = max(found) if aggregate is Max else min(found)
        elif (kind, result.get(moment)) in removed:
            result[moment] = None
    return result


def encode(value) -> object:
    """A field's value as ``imported_values`` stores it (JSON: datetimes as UTC ISO text)."""
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def edited_by_a_person(current: dict, imported_values: dict) -> set[str]:
    """Owned fields whose value is no longer what the importer last wrote."""
    return {
        name
        for name in OWNED_FIELDS
        if name in imported_values and encode(current[name]) != imported_values[name]
    }


def imported_values(final: dict, *, current: dict | None = None, last: dict | None = None) -> dict:
    """What the importer now stands behind: a person's value it left alone keeps the old entry,
    so that person's edit keeps winning on the next import too."""
    kept = edited_by_a_person(current, last) if current is not None and last else set()
    return {
        name: last[name] if name in kept and final[name] == current[name] else encode(final[name])
        for name in OWNED_FIELDS
    }


def problem(desired: Desired) -> str | None:
    """Why this incident cannot be written as it is, in words; None when it can."""
    item = desired.item
    checks = [("Incident id", Incident, "external_id", item.external_id)]
    checks += [("Component id", Service, "external_id", c.external_id) for c in item.components]
    checks += [("Update id", TimelineEvent, "external_id", e.external_id) for e in desired.events]
    for label, model, name, value in checks:
        limit = length_limit(model, name)
        if limit is not None and len(value) <= limit:
            continue  # all the field checks, without running its validators thousands of times
        try:
            model._meta.get_field(name).run_validators(value)
        except ValidationError as exc:
            return f"{label}: {' '.join(exc.messages)}"
    ids = [e.external_id for e in desired.events]
    if len(set(ids)) != len(ids):
        twice = sorted({i for i in ids if ids.count(i) > 1})
        return f"Update {twice[0]!r} appears more than once in this incident."
    return None


@cache
def length_limit(model: type[Model], name: str) -> int | None:
    """The field's maximum length when that is all its validators check, else None."""
    field = model._meta.get_field(name)
    if all(isinstance(v, MaxLengthValidator) for v in field.validators):
        return field.max_length
    return None


def order_problem(moments: dict) -> str | None:
    errors = moment_order_errors(moments)
    return " ".join(errors.values()) if errors else None
