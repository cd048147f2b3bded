"""What an imported incident should look like in Hindsight: pure decisions, no database.

The upsert path (``imports/upsert.py``) asks these functions what to write: the incident's
fields, its timeline events and their kinds, which fields a person has taken over, where the
moments land, and whether an incident is fit to write at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator, URLValidator
from django.db.models import Model

from core.json_codec import jsonb_refusal
from imports.records import ImportedComponent, ImportedIncident, ImportedUpdate, WrittenTimeline
from postmortems import limits
from postmortems.choices import Severity
from postmortems.models import Incident, Service, Source, moment_order_errors
from timeline.choices import EventKind
from timeline.models import TimelineEvent
from timeline.services import NewEvent

IMPACT_SEVERITY = {
    "critical": Severity.CRITICAL,
    "major": Severity.MAJOR,
    "minor": Severity.MINOR,
    "none": Severity.NONE,
    "maintenance": Severity.NONE,
}
# The incident fields the importer owns (and a person may override). The summary holds a
# title too long for its field, whole.
OWNED_FIELDS = (
    "title",
    "summary",
    "severity",
    "started_at",
    "resolved_at",
    "duration_unknown",
    "is_maintenance",
    "regions",
    "regions_affected",
)
MARKERS = (EventKind.DETECTION, EventKind.MITIGATION, EventKind.RESOLUTION)
CLOSING = ("resolved", "completed", "postmortem")
EVENT_FIELDS = ("occurred_at", "kind", "description", "body_format")
ELLIPSIS = "…"
# Stripped before the ellipsis, so that a cut title does not end in "…," or ".…".
TRAILING = " \t\r\n,;:.-\u2013\u2014"  # and en and em dashes
MINUTE = timedelta(minutes=1)
LINK_VALIDATOR = URLValidator(schemes=["http", "https"])
TITLE_LIMIT = Incident._meta.get_field("title").max_length
REGION_LIMIT = Incident._meta.get_field("regions").base_field.max_length
GLOBAL = "global"  # the location Google Cloud names for an incident of no one region
SOURCE_URL_LIMIT = Source._meta.get_field("url").max_length


@dataclass
class Desired:
    """What the payload says the incident should be, in model terms."""

    item: ImportedIncident
    fields: dict
    events: list[NewEvent]
    components: list[ImportedComponent]
    link: str = ""  # the incident's page on the vendor's status page, when usable


def desired_state(*, source: str, item: ImportedIncident) -> Desired:
    started_at = start_of(item)
    events = classify_updates(item, started_at)
    for event in events:
        event.source = source
    resolutions = [e.occurred_at for e in events if e.kind == EventKind.RESOLUTION]
    # The end comes from the updates when they give one; else from the page;
    # a closed incident with neither has an unknown duration, not a zero one.
    resolved_at = max(resolutions) if resolutions else item.resolved_at
    if resolved_at and started_at and resolved_at <= started_at:
        resolved_at = None
    closed = item.status.lower() in CLOSING
    title = shortened(item.title, TITLE_LIMIT)
    return Desired(
        item=item,
        fields={
            "title": title or f"Untitled incident {item.external_id}",
            # The whole title, where a person reads it, when the title field cannot hold it.
            "summary": item.title if title != item.title else "",
            "severity": IMPACT_SEVERITY.get(item.impact.lower(), Severity.MINOR),
            "started_at": started_at,
            "resolved_at": resolved_at,
            "duration_unknown": closed and resolved_at is None,
            "is_maintenance": item.is_maintenance,
            "regions": item.regions,
            "regions_affected": regions_affected(item.regions),
        },
        events=events,
        components=item.components,
        link=usable_link(item.url),
    )


def start_of(item: ImportedIncident) -> datetime | None:
    """When the incident started: the page's start, or its first update when that is earlier.

    Pages move ``started_at`` after the fact (to when the cause began, or when one of
    several problems did), sometimes hours after their first updates: those updates show
    the incident was under way, and the start is never after the detection. A start moved
    past the page's own end (days past it, on GitHub's page) gives way to the incident's
    creation; created after the end too, it starts at the earliest time the page gives,
    and the end goes rather than make a negative duration. A maintenance starts at its
    window, whatever was announced before it; backfilled history where the timeline in
    its update starts, since the page's own times are only stamps there.
    """
    start = item.started_at
    if item.is_maintenance or start is None or item.written_timeline is not None:
        return start
    if item.created_at is not None and item.resolved_at is not None and start > item.resolved_at:
        start = min(start, item.created_at)
    return min([start, *(update.display_at for update in item.updates)])


def regions_affected(regions: list[str]) -> int | None:
    """How many regions the page names; "global" is not one. None when it names none: a
    global outage's reach is unknown, not 0 regions."""
    return sum(1 for region in regions if region != GLOBAL) or None


def shortened(title: str, limit: int) -> str:
    """``title`` within ``limit`` characters: cut after a whole word, with an ellipsis."""
    if len(title) <= limit:
        return title
    head = title[: limit - len(ELLIPSIS)]
    # The word the cut falls in is left out, unless it is the only long stretch there is
    # (a URL, a run without spaces): half the room lost is worse than a cut word.
    whole = re.match(r"(.*\S)\s+\S*$", head, re.DOTALL)
    if not title[len(head)].isspace() and whole and len(whole.group(1)) >= limit // 2:
        head = whole.group(1)
    return (head.rstrip(TRAILING) or head) + ELLIPSIS


def usable_link(url: str) -> str:
    """The page's link for the incident when it is an absolute web address that fits a
    source; otherwise none (a bad link never keeps the incident out)."""
    url = url.strip()
    if not url or len(url) > SOURCE_URL_LIMIT:
        return ""
    try:
        LINK_VALIDATOR(url)
    except ValidationError:
        return ""
    return url


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


def classify_updates(item: ImportedIncident, started_at: datetime | None) -> list[NewEvent]:
    """Timeline events for the updates, kinds chosen so the moments stay in order.

    ``started_at`` is the incident's start (``start_of``): only a maintenance's
    announcements come before it. The vendor's write-up, when the page has one, is a note.
    """
    updates = sorted(item.updates, key=lambda u: (u.display_at, u.created_at or u.display_at))
    has_resolved = any(u.status.lower() in ("resolved", "completed") for u in updates)
    events, detected = [], False
    for update in updates:
        kind = update_kind(update.status, detected=detected, has_resolved=has_resolved)
        if item.written_timeline is not None:
            kind = backfilled_kind(kind, update, item.written_timeline, detected=detected)
        elif kind in MARKERS and started_at and update.display_at < started_at:
            kind = EventKind.STATUS_UPDATE  # announced before the window it marks
        if kind == EventKind.RESOLUTION and started_at and update.display_at <= started_at:
            # Backfilled history "resolves" at its creation time: that is not
            # an end, and must not make a zero-length outage.
            kind = EventKind.STATUS_UPDATE
        detected |= kind == EventKind.DETECTION
        events.append(new_event(update, kind))
    keep_moments_in_order(events)
    if item.postmortem is not None:
        # Often published days later: an account of the incident, never one of its moments.
        events.append(new_event(item.postmortem, EventKind.NOTE))
    return events


def backfilled_kind(
    kind: str, update: ImportedUpdate, timeline: WrittenTimeline, *, detected: bool
) -> str:
    """The kind of an update of backfilled history, whose moments its timeline gives.

    Its updates are stamped, not timed ("resolved" at the creation): none marks a moment,
    except that the update stamped at the timeline's start, which says investigating, is
    the detection (written to the minute, the stamp may be seconds past it).
    """
    at = timeline.detected_at
    if not detected and at is not None and at <= update.display_at < at + MINUTE:
        return EventKind.DETECTION if update.display_at <= timeline.end else EventKind.STATUS_UPDATE
    return EventKind.STATUS_UPDATE if kind in MARKERS else kind


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


def encode(value) -> object:
    """A field's value as ``imported_values`` stores it (JSON: datetimes as UTC ISO text)."""
    return value.astimezone(UTC).isoformat() if isinstance(value, datetime) else value


def edited_by_a_person(current: dict, imported_values: dict) -> set[str]:
    """Owned fields whose value is no longer what the importer last wrote.

    A field the importer took on after the incident was first imported (the summary) has
    no entry yet: there, anything but the field's default was a person's writing.
    """
    return {
        name
        for name in OWNED_FIELDS
        if (
            encode(current[name]) != imported_values[name]
            if name in imported_values
            else current[name] != field_default(name)
        )
    }


def imported_values(final: dict, *, current: dict | None = None, last: dict | None = None) -> dict:
    """What the importer now stands behind: a person's value it left alone keeps the old entry,
    so that person's edit keeps winning on the next import too. Entries that are not owned
    fields (the source link, ``imports/source_links.py``) are carried over."""
    last = last or {}
    kept = edited_by_a_person(current, last) if current is not None and last else set()
    values = {name: value for name, value in last.items() if name not in OWNED_FIELDS}
    for name in OWNED_FIELDS:
        if name in kept and final[name] == current[name]:
            # No entry yet: None, which no value a person leaves there encodes to.
            values[name] = last.get(name)
        else:
            values[name] = encode(final[name])
    return values


@cache
def field_default(name: str) -> object:
    return Incident._meta.get_field(name).get_default()


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
    return content_problem(desired)


def content_problem(desired: Desired) -> str | None:
    """What Hindsight could not store, show or index of the incident (``postmortems.limits``),
    in words; None when nothing. The same limits as a person's edits, checked before the
    chunk is written, so the report names the field rather than the database's complaint."""
    item, fields = desired.item, desired.fields
    title, summary = fields["title"], fields.get("summary", "")
    reason = text_problem(desired)
    if reason:
        return reason
    long_region = next((r for r in fields["regions"] if len(r) > REGION_LIMIT), None)
    if long_region is not None:
        return f"Region {long_region[:40]!r}… is longer than {REGION_LIMIT} characters."
    for name, label in (("started_at", "The start"), ("resolved_at", "The end")):
        if fields[name] is not None and not limits.time_in_range(fields[name]):
            return f"{label}, {fields[name].isoformat()}, is not {limits.TIME_RANGE}."
    for event in desired.events:
        reason = event_problem(event)
        if reason:
            return f"Update {event.external_id!r}: {reason}."
    if limits.nesting_problem(summary):
        return f"Summary: the title is {limits.NESTING}, too deep to show."
    refused = jsonb_refusal(item.raw)
    if refused:
        path, what = refused
        return f"The page's JSON for it holds {what} at {path}, which PostgreSQL cannot store."
    too_big = limits.search_index_problem({"title": title, "summary": summary})
    return too_big[1] if too_big else None


def text_problem(desired: Desired) -> str | None:
    """The first text of the incident that PostgreSQL cannot store, named."""
    item, events = desired.item, desired.events
    values = [item.external_id, desired.fields["title"], desired.fields.get("summary", "")]
    values += [text for c in item.components for text in (c.external_id, c.name)]
    values += desired.fields["regions"]
    values += [text for e in events for text in (e.external_id, e.description)]
    # One search over all of it: this runs for every incident of every payload.
    if limits.storable("".join(values)):
        return None
    labels = ["Incident id", "Title", "Summary"]
    labels += [label for _ in item.components for label in ("Component id", "Component name")]
    labels += ["Region"] * len(desired.fields["regions"])
    labels += [
        label for e in events for label in ("Update id", f"The text of update {e.external_id!r}")
    ]
    for label, text in zip(labels, values, strict=True):
        reason = limits.text_problem(text)
        if reason:
            return f"{label} {reason}."
    return None


def event_problem(event: NewEvent) -> str | None:
    if not limits.time_in_range(event.occurred_at):
        return f"its time, {event.occurred_at.isoformat()}, is not {limits.TIME_RANGE}"
    if limits.nesting_problem(event.description, event.body_format):
        return f"its text is {limits.NESTING}, too deep to show"
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
